"""The pre-build resource estimate and the cycles per step of a :class:`~.target.Target`.

The board table (:data:`BOARDS`, :class:`Board`) lives in :mod:`.target`, which the
gateware may import. :func:`estimate` counts what a Config needs (block RAMs from the core's actual memories,
multipliers from the core's structure) and :func:`check_fit` refuses, before any
place-and-route, a configuration that cannot fit, naming the resource and the excess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from amaranth.hdl import Fragment

from ..hdl.memory import huge_units, is_huge
from ..model.config import Config
from .target import BOARDS, BRAM_SHAPES, Board, Target, board
from .top import BoardTop

__all__ = ["Estimate", "estimate", "check_fit", "cycles_per_step"]


# --------------------------------------------------------------------------- estimate
def _blocks(depth: int, width: int, family: str) -> int:
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM_SHAPES[family])


def _design(cfg: Config, target: Target):
    """The board top for ``target`` (without its board I/O) and its elaborated fragment
    (what the estimate reads)."""
    top = BoardTop(cfg, target)
    return top, Fragment.get(top, None)


def memories(frag) -> list[tuple[str, int, int, bool]]:
    """(path, depth, width, huge) of every memory of an elaborated board top (core and
    bridge); ``huge``: made by ``ram(huge=True)`` (:func:`~rtrledit.hdl.memory.is_huge`)."""
    from amaranth.hdl import Shape
    out = []

    def walk(fr, path):
        for sub, name, *_ in fr.subfragments:
            walk(sub, f"{path}/{name}")
        data = getattr(fr, "_data", None)
        if data is not None and hasattr(data, "depth"):
            out.append((path, data.depth, Shape.cast(data.shape).width, is_huge(fr._attrs)))
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
    spram: int = 0      # huge RAMs (SB_SPRAM256KA) of the memories made huge
    huge: list = field(default_factory=list)     # paths of the memories made huge

    def to_dict(self) -> dict:
        return {"dsp": self.dsp, "bram": self.bram, "bram_min": self.bram_min,
                "spram": self.spram, "huge_memories": self.huge, "memory_bits": self.bits}


def _board(target: Target) -> Board:
    if target.board is None:
        raise ValueError("the resource estimate needs a board (Target 'board' is None)")
    return board(target.board)


def estimate(cfg: Config, target: Target) -> Estimate:
    """What the core and bridge for ``target`` (which names a board) need."""
    brd = _board(target)
    fam = brd.family
    top, frag = _design(cfg, target)
    mems = memories(frag)
    spram = sum(huge_units(w, brd) for _, _, w, huge in mems if huge)
    blocks = [(p, d, w, _blocks(d, w, fam)) for p, d, w, huge in mems if not huge]
    bram = sum(b for *_, b in blocks)
    bram_min = sum(b for _, d, w, b in blocks if d * w >= SMALL_MEM_BITS[fam])
    # multipliers as the core's units declare them (tests/boards/test_lanes.py checks
    # them against Yosys' DSP count)
    return Estimate(brd.name, top.core.multipliers, bram, bram_min,
                    sum(d * w for _, d, w, _ in mems), blocks, spram,
                    [p.lstrip("/") for p, _, _, huge in mems if huge])


def check_fit(cfg: Config, target: Target) -> Estimate:
    """The estimate; ValueError naming the resource and the excess when it cannot fit."""
    est = estimate(cfg, target)
    brd, lanes = _board(target), target.lanes
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
def cycles_per_step(cfg: Config, target: Target, learn: bool = True) -> int:
    """Clock cycles from one sample's acceptance to the next sample's acceptance with the
    input stream always full and results always taken, for the core built for ``target``
    (:func:`rtrledit.hdl.core.step_period`; SnAp-1 with S in SPRAM runs at half rate)."""
    from ..hdl.core import step_period
    from ..hdl.snap1 import snap1_spram
    return step_period(cfg, target.lanes, learn,
                       cfg.approx == "snap1" and snap1_spram(cfg, target))
