"""Learning steps per second: the bit-exact integer model vs float64 RTRL, one run.

Usage: python benchmarks/model_speed.py [--sizes 8 16 32] [--inputs 4] [--write docs/performance.md]

Three implementations learn the same stream (exact RTRL, hardtanh, 16-bit formats for the
integer model), side by side in one process, best of several repeats:

- ``numpy``   a plain float64 numpy RTRL as the usual open-source implementations write it:
              per step one dense product of the n×n recurrent Jacobian with the n×(n·q)
              sensitivity matrix, in a Python loop;
- ``float``   rtrledit's float64 reference (:class:`rtrledit.model.FloatRTRL`);
- ``fixed``   rtrledit's bit-exact integer model (:class:`rtrledit.model.FixedRTRL`, numba).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from rtrledit.model import Config, FixedRTRL, FloatRTRL, init_params


def numpy_rtrl(theta, V, c, xs, ds, eta=2**-8):
    """The baseline: a textbook float64 RTRL loop with a dense J·M product per step."""
    theta, V, c = theta.copy(), V.copy(), c.copy()
    n, q = theta.shape
    h = np.zeros(n)
    M = np.zeros((n, n * q))
    for x, d in zip(xs, ds):
        z = np.concatenate([h, x, [1.0]])
        a = theta @ z
        h = np.clip(a, -1, 1)
        dphi = (np.abs(a) < 1).astype(float)
        y = V @ h + c
        e = y - d
        M = theta[:, :n] @ M
        M[np.arange(n)[:, None], np.arange(n)[:, None] * q + np.arange(q)] += z
        M *= dphi[:, None]
        G = (V.T @ e) @ M
        theta -= eta * G.reshape(n, q)
        V -= eta * np.outer(e, h)
        c -= eta * e
    return V


def steps_per_second(fn, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return steps / best


def bench(n: int, m: int, repeats: int) -> dict[str, float]:
    cfg = Config(hidden=n, inputs=m, outputs=1)
    theta, V, c = init_params(n, m, 1, seed=0)
    steps = max(200, 400_000 // (n * n * n))
    rng = np.random.default_rng(0)
    xs = rng.uniform(-0.5, 0.5, (steps, m))
    ds = rng.uniform(-0.5, 0.5, (steps, 1))
    fixed = FixedRTRL.from_float(cfg, theta, V, c)
    xi, di = fixed.quantise_inputs(xs, ds)
    fixed.run(xi[:2], di[:2])  # compile (cached after the first run)
    return {
        "numpy": steps_per_second(lambda: numpy_rtrl(theta, V, c, xs, ds), steps, repeats),
        "float": steps_per_second(
            lambda: FloatRTRL.from_config(cfg, theta, V, c).run(xs, ds), steps, repeats),
        "fixed": steps_per_second(
            lambda: FixedRTRL.from_float(cfg, theta, V, c).run(xi, di), steps, repeats),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--write", help="also write the table (Markdown) to this file")
    args = ap.parse_args()
    rows = ["| n | m | numpy RTRL (steps/s) | float reference (steps/s) | integer model "
            "(steps/s) | integer / numpy |", "|---:|---:|---:|---:|---:|---:|"]
    for n in args.sizes:
        r = bench(n, args.inputs, args.repeats)
        rows.append(f"| {n} | {args.inputs} | {r['numpy']:,.0f} | {r['float']:,.0f} | "
                    f"{r['fixed']:,.0f} | {r['fixed'] / r['numpy']:.1f}× |")
    table = "\n".join(rows)
    print(table)
    if args.write:
        import os
        cpu = platform.processor() or platform.machine()
        with open(args.write, "w") as fh:
            fh.write("# Golden-model speed\n\nOne learning step (exact RTRL, hardtanh; the "
                     "integer model with 16-bit formats), best of "
                     f"{args.repeats} runs, all three timed in the same run on a "
                     f"{os.cpu_count()}-core {cpu} machine.\n\nMade by:\n\n"
                     f"    python benchmarks/model_speed.py --sizes {' '.join(map(str, args.sizes))}"
                     f" --inputs {args.inputs} --write {args.write}\n\n{table}\n\n"
                     + __doc__.split("\n\n", 2)[2])


if __name__ == "__main__":
    main()
