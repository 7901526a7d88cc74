"""The board table, device resources, PLL settings and the pre-build resource estimate.

:data:`BOARDS` maps a board name (as ``rtrledit build --board``) to a :class:`Board`.
:func:`estimate` counts what a Config needs (block RAMs from the core's actual memories,
multipliers from the core's structure) and :func:`check_fit` refuses, before any
place-and-route, a configuration that cannot fit, naming the resource and the excess.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

from amaranth.hdl import Fragment

from ..model.config import Config
from ..toolchain import require
from .top import BoardTop

__all__ = ["Board", "BOARDS", "board", "Estimate", "estimate", "check_fit", "cycles_per_step"]


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


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}") from None


# --------------------------------------------------------------------------- estimate
def _blocks(depth: int, width: int, family: str) -> int:
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM_SHAPES[family])


def _design(cfg: Config, lanes: int, family: str | None):
    """The board top for ``family`` and its elaborated fragment (what the estimate reads)."""
    top = BoardTop(cfg, lanes, freq_hz=12e6, target=family)
    return top, Fragment.get(top, None)


def memories(frag) -> list[tuple[str, int, int]]:
    """(path, depth, width) of every memory of an elaborated board top (core and bridge);
    SPRAM banks have ``spram`` in the path."""
    from amaranth.hdl import Shape
    out = []

    def walk(fr, path):
        for sub, name, *_ in fr.subfragments:
            walk(sub, f"{path}/{name}")
        data = getattr(fr, "_data", None)
        if data is not None and hasattr(data, "depth"):
            out.append((path, data.depth, Shape.cast(data.shape).width))
    walk(frag, "")
    return out


#: Memories smaller than this many bits may be built from logic by Yosys (LUT RAM on
#: ECP5; flip-flops on iCE40, which has no LUT RAM, so only the tiniest stay out of EBR);
#: the lower bound of block RAMs counts only memories at least this large. The iCE40
#: bound was checked against the EBR counts of real builds (docs/boards.md).
SMALL_MEM_BITS = {"ice40": 128, "ecp5": 1024}


@dataclass
class Estimate:
    board: str
    dsp: int
    bram: int           # block RAMs if every memory goes to block RAM
    bram_min: int       # block RAMs for the memories too large for logic
    bits: int           # memory bits in all
    mems: list
    spram: int = 0      # SB_SPRAM256KA (the S banks marked for SPRAM)

    def to_dict(self) -> dict:
        return {"dsp": self.dsp, "bram": self.bram, "bram_min": self.bram_min,
                "spram": self.spram, "memory_bits": self.bits}


def estimate(cfg: Config, lanes: int, brd: Board) -> Estimate:
    fam = brd.family
    top, frag = _design(cfg, lanes, fam)
    mems = memories(frag)
    spram = sum(1 for p, *_ in mems if "spram" in p)
    blocks = [(p, d, w, _blocks(d, w, fam)) for p, d, w in mems if "spram" not in p]
    bram = sum(b for *_, b in blocks)
    bram_min = sum(b for _, d, w, b in blocks if d * w >= SMALL_MEM_BITS[fam])
    # multipliers as the core's units declare them (tests/boards/test_lanes.py checks
    # them against Yosys' DSP count)
    return Estimate(brd.name, top.core.multipliers, bram, bram_min,
                    sum(d * w for _, d, w in mems), blocks, spram)


def check_fit(cfg: Config, lanes: int, brd: Board) -> Estimate:
    """The estimate; ValueError naming the resource and the excess when it cannot fit."""
    est = estimate(cfg, lanes, brd)
    res = brd.resources
    kind = "SB_MAC16" if brd.family == "ice40" else "MULT18X18D"
    if est.dsp > res["dsp"]:
        raise ValueError(
            f"does not fit {brd.name}: needs {est.dsp} multipliers (engine, forward and update "
            f"units for {lanes} lane{'s' * (lanes > 1)}), the {brd.device} has "
            f"{res['dsp']} {kind} ({est.dsp - res['dsp']} too many); use fewer lanes")
    if est.bram_min > res["bram"]:
        big = sorted(est.mems, key=lambda r: -r[3])[:3]
        what = ", ".join(f"{p.lstrip('/')} {d}x{w} ({b})" for p, d, w, b in big)
        raise ValueError(
            f"does not fit {brd.name}: memories need at least {est.bram_min} block RAMs, the "
            f"{brd.device} has {res['bram']} ({est.bram_min - res['bram']} too many; largest: "
            f"{what})")
    return est


# --------------------------------------------------------------------------- timing
def cycles_per_step(cfg: Config, lanes: int, learn: bool = True, family: str | None = None) -> int:
    """Clock cycles from one sample's acceptance to the next sample's acceptance with the
    input stream always full and results always taken, for the core built for ``family``
    (:func:`rtrledit.hdl.core.step_period`; SnAp-1 with S in SPRAM runs at half rate)."""
    from ..hdl.core import step_period
    from ..hdl.snap1 import snap1_spram
    return step_period(cfg, lanes, learn, cfg.approx == "snap1" and snap1_spram(cfg, family))
