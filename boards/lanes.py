"""``--lanes auto``: the most sweep-engine lanes that the estimate says fit a board.

Two parts, both the toolchain's own figures, never a hand-kept table:

- :func:`~rtrledit.boards.targets.check_fit` (multipliers, block RAM, SPRAM, from the
  elaborated design), which is monotone in L, searched by bisection;
- logic: Yosys synthesises the board top as the build does (``synth_ice40 -dsp -spram``
  or ``synth_ecp5``) and nextpnr packs it (``--pack-only``: logic cells as the placer
  will count them; Yosys' LUT4s alone missed the UP5K's by 35 %, flip-flops and carries
  that do not pack with a LUT take cells of their own) at the most lanes the first part
  allows; if its cells are too many,
  at one lane too, and the cell count is interpolated linearly between the two (a lane
  costs the same logic as the next); the chosen L is synthesised to confirm it (one lane
  fewer until it fits). One synthesis when multipliers or memory bind, three or more when
  logic does.

A design "fits" when its logic cells are at most :data:`LUT_FILL` of the device's, per
family: placement and routing need slack, and how much is measured (docs/boards.md).
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..hdl.core import max_lanes
from ..model.config import Config
from ..toolchain import require
from ..hdl.memory import YOSYS_SCRIPT
from .target import Target
from .targets import check_fit

__all__ = ["LUT_FILL", "LaneChoice", "synth_cells", "auto_lanes"]

#: The share of the device's logic cells (``resources['lut']``) a design may use and still
#: be expected to place and route, by family, from real builds (docs/boards.md): on the
#: UP5K builds at 92.5 %, 92.9 %, 94.3 % and 97.6 % of the LCs routed and met timing
#: (the last: exact n = 8, 4 lanes, 5,152 LCs at 24 MHz, where synthesis had counted
#: 5,117; a later estimate of the same design 5,132, so the fill is 97.5 %), an older
#: design above ~95 % failed to place, n = 16 with 3 lanes (102 %) does not fit; on the LFE5U-85F exact n = 16 with 32 lanes (24 % of the LUTs) routed in
#: 13 minutes, with 38 lanes (29 %) the router was still at ~19,000 of 107,000 arcs after
#: 15 minutes and slowing, n = 32 with 48 lanes (48 %) stalled at ~104,000 unrouted arcs
#: with nextpnr's router1 and the lanes' G funnelled through one OR tree; with the G
#: chain and router2 (``build.ROUTER``) n = 32 with 48 lanes (47 % of the LUTs) routes in
#: 7 minutes.
LUT_FILL = {"ice40": 0.975, "ecp5": 0.47}


#: nextpnr's packer per family: the arguments, and the cell its utilisation counts logic in.
_PACK = {"ice40": ("nextpnr-ice40", ["--up5k", "--package", "sg48"], "ICESTORM_LC"),
         "ecp5": ("nextpnr-ecp5", ["--85k"], "TRELLIS_COMB")}


@functools.lru_cache(maxsize=64)
def synth_cells(cfg: Config, lanes: int, family: str) -> dict[str, int]:
    """Cell counts of the board top for the ``family`` ("ice40", "ecp5") after Yosys
    synthesis as the build runs it and nextpnr's packer (no placement): ``lut`` (logic
    cells as nextpnr counts them: ICESTORM_LC, a LUT4 with its flip-flop and carry, or
    TRELLIS_COMB), ``dsp`` (SB_MAC16 or MULT18X18D). Remembered for the process (it takes
    from seconds to minutes)."""
    from amaranth.back import rtlil

    from .top import BoardTop
    top = BoardTop(cfg, Target(family=family, lanes=lanes, clock_mhz=12.0))
    ports = [top.rx, top.tx, top.led_alive, top.led_learn, top.led_sat]
    if family == "ice40":
        script, dsp = "synth_ice40 -dsp -spram -top top", "SB_MAC16"
    else:
        script, dsp = "synth_ecp5 -top top", "MULT18X18D"
    script = f"{YOSYS_SCRIPT}; {script}"
    tool, args, cell = _PACK[family]
    yosys, pnr = require("yosys"), require(tool)
    with tempfile.TemporaryDirectory() as tmp:       # YoWASP sees the working folder only
        Path(tmp, "top.il").write_text(rtlil.convert(top, name="top", ports=ports))
        p = subprocess.run([yosys, "-q", "-p", f"read_rtlil top.il; {script}; "
                            "tee -q -o stat.txt stat; write_json top.json"],
                           cwd=tmp, capture_output=True, text=True)
        if p.returncode != 0:
            raise ValueError(f"Yosys failed on the board top: {(p.stderr or p.stdout).strip()[-300:]}")
        stat = Path(tmp, "stat.txt").read_text()
        p = subprocess.run([pnr, *args, "--json", "top.json", "--pack-only"], cwd=tmp,
                           capture_output=True, text=True)
        log = p.stdout + p.stderr
    used = re.search(rf"{cell}:\s+(\d+)/", log)
    if used is None:
        raise ValueError(f"nextpnr's packer gave no {cell} count: {log.strip()[-300:]}")
    dsps = re.search(rf"^\s+(\d+)\s+{dsp}\s*$", stat, re.M)
    return {"lut": int(used.group(1)), "dsp": int(dsps.group(1)) if dsps else 0}


@dataclass(frozen=True)
class LaneChoice:
    lanes: int
    reason: str
    luts: int           # logic cells at ``lanes`` after synthesis and packing


def _fits(cfg: Config, target: Target) -> str | None:
    """None when the estimate fits, else its one-line reason."""
    try:
        check_fit(cfg, target)
    except ValueError as e:
        return str(e)
    return None


def auto_lanes(cfg: Config, target: Target) -> LaneChoice:
    """The most lanes that fit the ``target``'s board by the estimate (its own ``lanes``
    ignored), with the reason more do not. ValueError when not even one lane fits."""
    brd = target.device
    if target.board is None:
        raise ValueError("--lanes auto needs --board (the board whose resources it fills)")
    top = max_lanes(cfg)

    def _fits_at(L: int) -> str | None:
        return _fits(cfg, target.replace(lanes=L))
    why = _fits_at(1)
    if why:
        raise ValueError(f"--lanes auto: not even one lane fits: {why}")
    lo, hi = 1, top                     # lo fits; find the largest that fits the estimate
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits_at(mid) is None:
            lo = mid
        else:
            hi = mid - 1
    by_est = lo
    est_reason = (f"{by_est + 1} would not fit: {_fits_at(by_est + 1)}" if by_est < top
                  else f"the {cfg.approx} engine takes at most {top} for n = {cfg.n}, m = {cfg.m}")
    fill = LUT_FILL[brd.family]
    cap = int(fill * brd.resources["lut"])
    known: dict[int, int] = {}

    def luts(L: int) -> int:
        if L not in known:
            known[L] = synth_cells(cfg, L, brd.family)["lut"]
        return known[L]

    L = by_est
    if luts(L) > cap:                   # logic binds: interpolate between 1 and by_est lanes
        if by_est == 1 or luts(1) > cap:
            raise ValueError(f"--lanes auto: not even one lane fits: {luts(1):,} logic cells > "
                             f"{fill * 100:g} % of the {brd.device}'s {brd.resources['lut']:,}")
        per = max(1, -(-(luts(by_est) - luts(1)) // (by_est - 1)))
        L = max(1, min(by_est - 1, 1 + (cap - luts(1)) // per))
        while luts(L) > cap:            # the interpolation was optimistic: step down
            L -= 1
        while L + 1 < by_est and luts(L + 1) <= cap:     # or pessimistic: step up
            L += 1
    reason = est_reason if L == by_est else (
        f"{L + 1} need {luts(L + 1):,} logic cells, more than {fill * 100:g} % of "
        f"the {brd.device}'s {brd.resources['lut']:,}")
    return LaneChoice(L, f"{L} lane{'s' if L > 1 else ''} ({luts(L):,} logic cells after synthesis and packing); "
                      f"{reason}", luts(L))
