"""What a build is for: the board table and the :class:`Target` object.

:data:`BOARDS` maps a board name (as ``rtrledit build --board``) to a :class:`Board`: its
amaranth-boards platform and its device's resources. :class:`Target` is one validated
value for everything a build is parameterised by besides the Config (board or FPGA
family, lanes, clock, UART, bridge FIFO); the CLI makes it, the core, the estimate, the
build and its report take it, and the build writes it beside the bitstream
(``target.json``).

This module imports neither Amaranth nor the gateware, so the gateware may import it
(:func:`rtrledit.hdl.memory.use_huge` takes its device facts from here).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..toolchain import require

__all__ = ["Board", "BOARDS", "board", "BRAM_BITS", "BRAM_SHAPES", "HUGE_SHAPE",
           "family_board", "device_of", "Target", "TARGET_FILE"]


@dataclass(frozen=True)
class Board:
    """A board: its amaranth-boards platform, FPGA family and device resources.

    ``resources``: ``lut`` (LUT4s / logic cells), ``dsp`` (SB_MAC16 or MULT18X18D), ``bram``
    (EBR: SB_RAM40_4K 4 kbit or DP16KD 18 kbit), ``spram`` (SB_SPRAM256KA, iCE40 UP only).
    """

    name: str
    platform: str            # class name in amaranth_boards
    module: str              # amaranth_boards module
    family: str              # "ice40" | "ecp5"
    device: str
    clk_hz: float            # board oscillator
    default_mhz: float       # default core clock
    resources: dict = field(default_factory=dict)
    programmer: str = "openFPGALoader"
    ofl_board: str = ""      # openFPGALoader -b name

    def platform_class(self):
        try:
            mod = importlib.import_module(f"amaranth_boards.{self.module}")
        except ImportError:
            require("amaranth-boards")         # raises the doctor's one-line message
            raise
        return getattr(mod, self.platform)


_ECP5 = {  # LUT4, MULT18X18D, DP16KD (Lattice ECP5 family data sheet, table 1.1)
    "12f": (12_288, 28, 32), "25f": (24_288, 28, 56), "45f": (43_848, 72, 108),
    "85f": (83_640, 156, 208),
}

BOARDS: dict[str, Board] = {
    "icebreaker": Board("icebreaker", "ICEBreakerPlatform", "icebreaker", "ice40",
                        "iCE40UP5K-SG48", 12e6, 12.0,
                        {"lut": 5280, "dsp": 8, "bram": 30, "spram": 4},
                        ofl_board="icebreaker"),
    **{f"ulx3s-{k}": Board(f"ulx3s-{k}", f"ULX3S_{k.upper()}_Platform", "ulx3s", "ecp5",
                           f"LFE5U-{k.upper()}", 25e6, 20.0,
                           {"lut": lut, "dsp": dsp, "bram": ebr, "spram": 0},
                           ofl_board="ulx3s")
       for k, (lut, dsp, ebr) in _ECP5.items()},
}

BRAM_BITS = {"ice40": 4096, "ecp5": 18432}
#: (depth, width) configurations of one block RAM.
BRAM_SHAPES = {"ice40": [(256, 16), (512, 8), (1024, 4), (2048, 2)],
               "ecp5": [(1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)]}
#: (depth, width) of one single-port huge RAM, by family (SB_SPRAM256KA: 16K × 16); how
#: many a device has is its ``resources["spram"]``.
HUGE_SHAPE = {"ice40": (16384, 16)}

#: The file beside the bitstream that says what was built (:meth:`Target.write`).
TARGET_FILE = "target.json"


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}") from None


def family_board(family: str) -> Board:
    """The table's first board of ``family``: the device facts a family name alone stands
    for (the iCE40 family is the UP5K; the ECP5 boards differ in size, not in the memory
    facts :func:`~rtrledit.hdl.memory.use_huge` reads)."""
    for b in BOARDS.values():
        if b.family == family:
            return b
    raise ValueError(f"unknown FPGA family {family!r}; choose one of "
                     f"{', '.join(sorted({b.family for b in BOARDS.values()}))}")


def _require(name: str, value, ok: bool, want: str) -> None:
    if not ok:
        raise ValueError(f"Target '{name}' must be {want}, got {value!r}")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class Target:
    """What the core is built for, validated when made (ValueError naming the field).

    board : str or None
        A name in :data:`BOARDS`; None for no board (simulation, generic Verilog).
    family : str or None
        ``"ice40"`` or ``"ecp5"``: the board's (filled in from it), or alone for a family
        without a board (:func:`family_board` gives its device facts).
    lanes : int
        Lanes of the sweep engine (``--lanes auto`` is resolved before a Target is made).
    clock_mhz : float or None
        Requested core clock; None: the board's default.
    baud : int
        UART baud rate.
    fifo_depth : int
        Samples the frame bridge buffers.
    """

    board: str | None = None
    family: str | None = None
    lanes: int = 1
    clock_mhz: float | None = None
    baud: int = 115200
    fifo_depth: int = 32

    def __post_init__(self) -> None:
        if self.board is not None:
            _require("board", self.board, isinstance(self.board, str) and self.board in BOARDS,
                     f"one of {', '.join(BOARDS)}")
            fam = BOARDS[self.board].family
            _require("family", self.family, self.family in (None, fam),
                     f"{fam} (the {self.board}'s) or None")
            object.__setattr__(self, "family", fam)
        elif self.family is not None:
            families = sorted({b.family for b in BOARDS.values()})
            _require("family", self.family, self.family in families,
                     f"None or one of {', '.join(families)}")
        _require("lanes", self.lanes, _count(self.lanes), "an integer >= 1")
        _require("clock_mhz", self.clock_mhz, self.clock_mhz is None or (
            isinstance(self.clock_mhz, (int, float)) and not isinstance(self.clock_mhz, bool)
            and math.isfinite(self.clock_mhz) and self.clock_mhz > 0), "None or a number > 0")
        _require("baud", self.baud, _count(self.baud), "an integer >= 1")
        _require("fifo_depth", self.fifo_depth, _count(self.fifo_depth), "an integer >= 1")

    @property
    def device(self) -> Board | None:
        """The device facts: the board's, the family's (:func:`family_board`), or None."""
        if self.board is not None:
            return board(self.board)
        return None if self.family is None else family_board(self.family)

    def replace(self, **changes) -> Target:
        """A copy with ``changes``, validated again (a new board brings its family)."""
        if "board" in changes:
            changes.setdefault("family", None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Target:
        """The Target of :meth:`to_dict`'s output; ValueError naming an unknown field."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"Target: unknown field {unknown[0]!r}; fields are {', '.join(sorted(names))}")
        return cls(**d)

    def write(self, folder: Path) -> Path:
        """Write ``folder``/:data:`TARGET_FILE` (JSON); return its path."""
        path = Path(folder) / TARGET_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> Target:
        """The Target in a :data:`TARGET_FILE` (or in the folder that holds one)."""
        path = Path(path)
        return cls.from_dict(json.loads((path / TARGET_FILE if path.is_dir() else path).read_text()))


def device_of(target: Target | str | None) -> Board | None:
    """The device facts of a :class:`Target`, of a family name (:func:`family_board`), or
    None (no device)."""
    if isinstance(target, Target):
        return target.device
    return None if target is None else family_board(target)
