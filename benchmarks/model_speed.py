"""Learning steps per second: the bit-exact integer model vs float64 RTRL, one run.

Usage: python benchmarks/model_speed.py [--sizes 8 16 32] [--inputs 4] [--before FILE]
       [--write docs/performance.md]

Every implementation learns the same stream (exact RTRL, hardtanh or ``--activation tanh``,
16-bit formats for the integer model), side by side in one process, best of several repeats:

- ``numpy``   a plain float64 numpy RTRL as the usual open-source implementations write it:
              per step one dense product of the n×n recurrent Jacobian with the n×(n·q)
              sensitivity matrix, in a Python loop;
- ``jax``     the same RTRL as one jitted ``jax.lax.scan`` over the sequence, float64,
              timed after compilation (only when ``jax`` is importable);
- ``float``   rtrledit's float64 reference (:class:`rtrledit.model.FloatRTRL`);
- ``fixed``   rtrledit's bit-exact integer model (:class:`rtrledit.model.FixedRTRL`, numba);
- ``before``  (with ``--before FILE``) the ``FixedRTRL`` of another copy of model/fixed.py,
              e.g. ``git show HEAD~1:model/fixed.py > /tmp/old.py``, timed in the same run;
- ``bound``   the single-thread float64 GEMM bound: 1 / (time of one ``np.dot`` of W (n×n)
              by S (n × n·q), BLAS limited to one thread), the speed of any exact RTRL that
              did nothing but the n⁴ product in BLAS.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from typing import Callable

import numpy as np

from rtrledit.model import Config, FixedRTRL, FloatRTRL, init_params
from rtrledit.model._jit import jit
from rtrledit.model.fixed import _sens_requant_float, _ws_blas


def numpy_rtrl(theta, V, c, xs, ds, eta=2**-8, tanh=False):
    """The baseline: a textbook float64 RTRL loop with a dense J·M product per step."""
    theta, V, c = theta.copy(), V.copy(), c.copy()
    n, q = theta.shape
    h = np.zeros(n)
    M = np.zeros((n, n * q))
    for x, d in zip(xs, ds):
        z = np.concatenate([h, x, [1.0]])
        a = theta @ z
        if tanh:
            h = np.tanh(a)
            dphi = 1.0 - h * h
        else:
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


def jax_rtrl(eta: float = 2**-8, tanh: bool = False) -> Callable | None:
    """The numpy baseline as one jitted ``lax.scan`` (float64), or None without jax.

    Returns ``run(theta, V, c, xs, ds) -> V``, compiled on its first call."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def step(carry, xd):
        theta, V, c, h, M = carry
        x, d = xd
        n, q = theta.shape
        z = jnp.concatenate([h, x, jnp.ones(1)])
        a = theta @ z
        if tanh:
            h = jnp.tanh(a)
            dphi = 1.0 - h * h
        else:
            h = jnp.clip(a, -1.0, 1.0)
            dphi = (jnp.abs(a) < 1.0).astype(jnp.float64)
        e = V @ h + c - d
        M = theta[:, :n] @ M.reshape(n, n * q)
        M = M.reshape(n, n, q).at[jnp.arange(n), jnp.arange(n)].add(z)
        M = M * dphi[:, None, None]
        G = jnp.einsum("k,kiq->iq", V.T @ e, M)
        return (theta - eta * G, V - eta * jnp.outer(e, h), c - eta * e, h, M), None

    @jax.jit
    def run(theta, V, c, xs, ds):
        n, q = theta.shape
        init = (theta, V, c, jnp.zeros(n), jnp.zeros((n, n, q)))
        (theta, V, c, h, M), _ = jax.lax.scan(step, init, (xs, ds))
        return V

    def call(theta, V, c, xs, ds):
        return np.asarray(run(theta, V, c, xs, ds).block_until_ready())
    return call


def gemm_bound(n: int, q: int, repeats: int = 200) -> float:
    """Steps/s if a step cost only one single-thread float64 W (n×n) · S (n×n·q) product."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    W, S = rng.normal(size=(n, n)), rng.normal(size=(n, n * q))
    out = np.empty((n, n * q))
    with threadpool_limits(limits=1, user_api="blas"):
        np.dot(W, S, out=out)
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(repeats):
                np.dot(W, S, out=out)
            best = min(best, (time.perf_counter() - t0) / repeats)
    return 1.0 / best


def load_fixed(path: str) -> type:
    """``FixedRTRL`` from another copy of model/fixed.py, loaded inside rtrledit.model
    (so its relative imports resolve) under a name of its own."""
    name = "rtrledit.model._fixed_before"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.FixedRTRL


def steps_per_second(fn, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return steps / best


def bench(n: int, m: int, repeats: int, before: type | None, jrun: Callable | None,
          activation: str = "hardtanh") -> dict:
    """Steps/s of every implementation at one size (same stream, same initial weights)."""
    cfg = Config(hidden=n, inputs=m, outputs=1, activation=activation)
    tanh = activation == "tanh"
    theta, V, c = init_params(n, m, 1, seed=0)
    steps = max(200, 400_000 // (n * n * n))
    rng = np.random.default_rng(0)
    xs = rng.uniform(-0.5, 0.5, (steps, m))
    ds = rng.uniform(-0.5, 0.5, (steps, 1))
    fixed = FixedRTRL.from_float(cfg, theta, V, c)
    xi, di = fixed.quantise_inputs(xs, ds)
    fixed.run(xi[:2], di[:2])  # compile (cached after the first run)
    r = {
        "numpy": steps_per_second(lambda: numpy_rtrl(theta, V, c, xs, ds, tanh=tanh), steps, repeats),
        "float": steps_per_second(
            lambda: FloatRTRL.from_config(cfg, theta, V, c).run(xs, ds), steps, repeats),
        "fixed": steps_per_second(
            lambda: FixedRTRL.from_float(cfg, theta, V, c).run(xi, di), steps, repeats),
        "bound": gemm_bound(n, cfg.q),
    }
    if jrun is not None:
        jrun(theta, V, c, xs, ds)  # compile
        r["jax"] = steps_per_second(lambda: jrun(theta, V, c, xs, ds), steps, repeats)
    if before is not None:
        before.from_float(cfg, theta, V, c).run(xi[:2], di[:2])
        r["before"] = steps_per_second(
            lambda: before.from_float(cfg, theta, V, c).run(xi, di), steps, repeats)
    return r


def profile(n: int, m: int, activation: str = "hardtanh", steps: int = 2000) -> dict[str, float]:
    """Microseconds per learning step of the integer model and of its parts (float64 path):
    the whole step, the forward pass alone, the W·S product (BLAS, one thread) and step 7's
    requantisation pass, each the best of several timings."""
    from rtrledit.model import fixed
    cfg = Config(hidden=n, inputs=m, outputs=1, activation=activation)
    K = fixed.kernel_constants(cfg, blas=True)
    q, nq = cfg.q, n * cfg.q
    rng = np.random.default_rng(0)
    model = FixedRTRL.from_float(cfg, *init_params(n, m, 1, seed=0), blas=True)
    xs, ds = model.quantise_inputs(rng.uniform(-0.5, 0.5, (steps, m)),
                                   rng.uniform(-0.5, 0.5, (steps, 1)))
    model.run(xs[:2], ds[:2])
    theta = model.theta.copy()
    Sf = rng.integers(-2**10, 2**10, (n, nq)).astype(np.float64)
    Wf, uf, Gf = np.zeros((n, n)), np.zeros((n, nq)), np.zeros(nq)
    z, chat = rng.integers(-2**12, 2**12, q), rng.integers(-2**8, 2**8, n)
    dphi = (rng.random(n) < 0.7).astype(np.int64) * (1 << cfg.formats.F.f) if activation == "hardtanh" \
        else rng.integers(0, 1 << cfg.formats.F.f, n)
    sat = np.zeros(len(model.sat), np.int64)

    def per_call(fn, reps: int) -> float:
        fn()
        return min(_timed(fn, reps) for _ in range(5)) * 1e6
    reps = max(20, 2_000_000 // (n * n * nq))
    with fixed._one_blas_thread():
        product = per_call(lambda: _repeat_product(theta, Wf, Sf, uf, reps), 1) / reps
        requant = per_call(lambda: _repeat_requant(K, uf, z, dphi, chat, Sf, Gf, sat, reps),
                           1) / reps
    step = per_call(lambda: model.run(xs, ds), 1) / steps
    forward = per_call(lambda: model.run(xs, ds, learn=False, track=False), 1) / steps
    return {"step": step, "forward": forward, "product": product, "requant": requant,
            "rest": step - forward - product - requant}


@jit
def _repeat_product(theta, Wf, Sf, uf, reps):
    """``reps`` W·S products of the float64 path, in one call (no dispatch per product)."""
    for _ in range(reps):
        _ws_blas(theta, Wf, Sf, uf)


@jit
def _repeat_requant(K, uf, z, dphi, chat, Sf, Gf, sat, reps):
    """``reps`` requantisation passes of step 7 (float64 path), in one call. uf is
    restored from the copy each time, as the pass adds the z term into it."""
    u0 = uf.copy()
    for _ in range(reps):
        uf[:] = u0
        _sens_requant_float(K, uf, z, dphi, chat, Sf, Gf, sat)


def _timed(fn, reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def profile_table(sizes, m: int, activation: str) -> str:
    """The profile of :func:`profile` as a Markdown table (µs per step)."""
    rows = ["| n | whole step | forward (steps 1–6) | W·S product (BLAS) | step 7 requantisation"
            " | rest (update, conversions) |", "|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        p = profile(n, m, activation)
        rows.append(f"| {n} | " + " | ".join(f"{p[k]:.2f}" for k in
                                              ("step", "forward", "product", "requant", "rest"))
                    + " |")
    return "\n".join(rows)


def table(results: dict[int, dict], m: int) -> str:
    """The Markdown table: one row per n, every implementation side by side."""
    some = next(iter(results.values()))
    cols = [k for k in ("numpy", "jax", "float", "before", "fixed", "bound") if k in some]
    head = {"numpy": "numpy RTRL", "jax": "JAX scan f64", "float": "float reference",
            "before": "integer model, before", "fixed": "integer model",
            "bound": "1-thread GEMM bound"}
    ratios = [("fixed", "numpy")] + [("fixed", k) for k in ("jax", "before", "bound") if k in some]
    rows = ["| n | m | " + " | ".join(head[k] for k in cols) + " | "
            + " | ".join(f"{a} / {b}" for a, b in ratios) + " |",
            "|---:|---:|" + "---:|" * (len(cols) + len(ratios))]
    for n, r in results.items():
        rows.append(f"| {n} | {m} | " + " | ".join(f"{r[k]:,.0f}" for k in cols) + " | "
                    + " | ".join(f"{r[a] / r[b]:.2f}×" for a, b in ratios) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--inputs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--activation", choices=["hardtanh", "tanh"], default="hardtanh")
    ap.add_argument("--before", help="also time the FixedRTRL of this copy of model/fixed.py")
    ap.add_argument("--no-jax", action="store_true", help="leave the JAX column out")
    ap.add_argument("--profile", action="store_true",
                    help="also print where the integer model's step goes (µs per step)")
    ap.add_argument("--write", help="also write the table (Markdown) to this file")
    args = ap.parse_args()
    before = load_fixed(args.before) if args.before else None
    tanh = args.activation == "tanh"
    jrun = None if args.no_jax else jax_rtrl(tanh=tanh)
    results = {n: bench(n, args.inputs, args.repeats, before, jrun, args.activation)
               for n in args.sizes}
    text = table(results, args.inputs)
    if args.profile:
        text += "\n\n" + profile_table(args.sizes, args.inputs, args.activation)
    print(text)
    if args.write:
        cpu = platform.processor() or platform.machine()
        with open(args.write, "w") as fh:
            fh.write(f"# Golden-model speed\n\nBest of {args.repeats} runs, all timed in the "
                     f"same run on a {os.cpu_count()}-core {cpu} machine.\n\n{text}\n")


if __name__ == "__main__":
    main()
