"""Cycles per sensitivity sweep of the SweepEngine, measured in Amaranth's simulator.

Prints, for n in {4, 8, 16} and L in {1, 4, 8} (m = 4, 16-bit default formats), the
cycles from ``start`` to ``done`` measured by simulation, the analytic count
(:func:`rtrledit.sim.sweep_harness.sweep_cycles`), the work bound n·n·(n·q)/L and their ratio.

Run: ``python benchmarks/sweep_cycles.py`` (about a minute; ``--quick`` skips n = 16).
"""

from __future__ import annotations

import sys
import time

from rtrledit.sim.sweep_harness import ideal_cycles, measure_sweep_cycles, sweep_cycles
from rtrledit.model.config import Config


def main(argv: list[str]) -> int:
    ns = (4, 8) if "--quick" in argv else (4, 8, 16)
    print("| n | m | q | L | measured | formula | n·n·(n·q)/L | ratio | overhead | sim s |")
    print("|---|---|---|---|---------:|--------:|------------:|------:|---------:|------:|")
    ok = True
    for n in ns:
        for L in (1, 4, 8):
            cfg = Config(hidden=n, inputs=4)
            t0 = time.time()
            meas = measure_sweep_cycles(cfg, L)
            dt = time.time() - t0
            form = sweep_cycles(cfg, L)
            ideal = ideal_cycles(cfg, L)
            ok &= meas == form
            print(f"| {n} | 4 | {cfg.q} | {L} | {meas} | {form} | {ideal:.0f} | "
                  f"{meas / ideal:.3f} | {meas - ideal:.0f} | {dt:.1f} |")
    if not ok:
        print("measured and analytic counts differ", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
