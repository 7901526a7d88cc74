"""rtrledit.firmware: using the learning core from a PC (Python) and from a microcontroller (C).

- :class:`Device` (:mod:`.host`) — every frame-protocol command as a Python API: registers,
  parameter windows, streaming samples (floats in, floats out via the Config's formats),
  learning on/off, saturation counters, checkpoints;
- :class:`RegisterModel` (:mod:`.regmodel`) — what the registers mean to a host, with no
  I/O (shared with the simulators' access layer and the board tests);
- frames and retries (:mod:`.frames`) over byte transports (:mod:`.transport`):
  :class:`SerialTransport` (pyserial) for a board, :class:`BoardSimTransport` for the
  virtual board (:mod:`rtrledit.boards.virtual`: the board top under Verilator on a pty),
  :class:`SimTransport` for the frame-level simulated device (:mod:`.simdevice`: the
  board's bridge and core in Amaranth's simulator, in a child process),
  :class:`FdTransport` for pipes/FIFOs;
- :mod:`.export` — the C header and Python constants generated from the one register-map
  and protocol description (``firmware/c/include``, :mod:`.constants`);
- ``firmware/c/`` — the freestanding C99 driver (``rtrledit.h``/``rtrledit.c``), its tests,
  a fuzz target and a microcontroller main-loop example.

Needs no Amaranth (only :mod:`.simdevice` and the virtual board do). See ``docs/firmware.md``.
"""

from .frames import DeviceError, DeviceTimeout, FrameError, FrameLink
from .host import Device, DeviceInfo, RunResult
from .regmodel import RegisterModel
from .transport import (BoardSimTransport, FdTransport, SerialTransport, SimTransport, Transport,
                        open_transport)

__all__ = ["Device", "DeviceInfo", "RunResult", "DeviceError", "DeviceTimeout", "FrameError",
           "FrameLink", "RegisterModel", "Transport", "FdTransport", "SerialTransport",
           "SimTransport", "BoardSimTransport", "open_transport"]
