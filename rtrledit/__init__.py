"""rtrledit: Real-Time Recurrent Learning on small FPGAs.

Sub-packages: :mod:`rtrledit.model` (golden models), :mod:`rtrledit.hdl` (Amaranth
generators), :mod:`rtrledit.sim` (testbenches), :mod:`rtrledit.boards`,
:mod:`rtrledit.firmware`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
