"""Q-format helpers: Amaranth shapes for the fixed-point formats of DESIGN.md §3.

A :class:`~rtrledit.model.QFormat` Q(w, f) is a signed two's-complement integer of ``w``
bits with ``f`` fractional bits. The hardware carries only the integer; the fraction count
lives in the configuration, and these helpers turn it into shapes and shift amounts so
that HDL and model derive every width and every shift from the same
:class:`~rtrledit.model.Config`. Nothing here builds logic.
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed

from ..model.config import Config, QFormat

__all__ = ["qshape", "product_shape", "align_shift", "rq_shift", "acc_shape"]


def qshape(fmt: QFormat) -> Shape:
    """The Amaranth shape of a value of format ``fmt``: ``signed(fmt.w)``."""
    return signed(fmt.w)


def product_shape(a: QFormat, b: QFormat) -> Shape:
    """Shape of the exact product of ``a`` and ``b``: ``signed(a.w + b.w)``
    (its fraction count is ``a.f + b.f``)."""
    return signed(a.w + b.w)


def align_shift(f_from: int | QFormat, f_to: int | QFormat) -> int:
    """Right shift that takes a value with ``f_from`` fractional bits to ``f_to``:
    ``f_from - f_to`` (a value ``<= 0`` means an exact left shift by its negation).

    Either argument may be a fraction count or a :class:`QFormat` (its ``f`` is used).
    This is the ``shift`` of :class:`~rtrledit.hdl.requant.Requantiser`.
    """
    a = f_from.f if isinstance(f_from, QFormat) else f_from
    b = f_to.f if isinstance(f_to, QFormat) else f_to
    return a - b


def rq_shift(f_in: int, fmt: QFormat) -> int:
    """The shift ``s = f_in - f`` of RQ(v, f_in → fmt) in DESIGN.md §3.1."""
    return align_shift(f_in, fmt.f)


def acc_shape(cfg: Config, name: str) -> Shape:
    """Shape of the exact sum or product ``name`` of ``cfg.acc_widths``
    (``"a"``, ``"y"``, ``"chat"``, ``"u"``, ``"s_dphi"``, ``"g"``, ...): ``signed(bits)``,
    exactly as wide as the configuration computes, so the sum cannot overflow.

    Raises
    ------
    ValueError
        naming ``name`` and the known names, when ``name`` is not one of them.
    """
    widths = cfg.acc_widths
    if name not in widths:
        raise ValueError(f"acc_shape parameter 'name': unknown accumulator {name!r}; "
                         f"known: {', '.join(widths)}")
    return signed(widths[name])
