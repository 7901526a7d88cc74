"""Batch mode against single runs: B integer models of one shape (the precision study's
formats: S = Θ ∈ {8, 12, 16, 24} bits × nearest/stochastic update rounding), T learning
steps each, as B ``FixedRTRL.run`` calls and as one ``run_batch`` call, best of R.

Usage: python benchmarks/batch_speed.py [--sizes 16 32] [--steps 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rtrledit.model.batch import run_batch
from rtrledit.model.explore import point_config
from rtrledit.model.fixed import FixedRTRL
from rtrledit.model.reference import init_params

WIDTHS = (8, 12, 16, 24)


def members(n: int, approx: str) -> list:
    return [point_config({"hidden": n, "activation": "hardtanh", "approx": approx, "r_upd": r,
                          "widths": {"S": w, "P": w}, "int_bits": {"S": 3, "P": 3},
                          "base": {"formats": {"H": [10, 8]}}})
            for r in ("half_even", "stochastic") for w in WIDTHS]


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=int, default=[16, 32])
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    xs, ds = rng.uniform(-1, 1, (a.steps, 1)), rng.uniform(-1, 1, (a.steps, 1))
    print("| n | approx | B | B single runs (s) | one batch (s) | single / batch |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in a.sizes:
        th, V, c = init_params(n, 1, 1, seed=0)
        for approx in ("exact", "snap1"):
            cfgs = members(n, approx)
            models = lambda: [FixedRTRL.from_float(cf, th, V, c) for cf in cfgs]  # noqa: E731
            xi, di = models()[0].quantise_inputs(xs, ds)
            run_batch(models(), xi[:3], di[:3])             # compiled before timing
            single = best_of(a.repeats, lambda: [m.run(xi, di) for m in models()])
            batch = best_of(a.repeats, lambda: run_batch(models(), xi, di))
            print(f"| {n} | {approx} | {len(cfgs)} | {single:.3f} | {batch:.3f} | "
                  f"{single / batch:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
