"""Where exact RTRL's step 7 moves from int64 loops to the float64 path, measured.

Both paths give the same bits (the float64 path, BLAS product and float64
requantisation, is taken only when :func:`rtrledit.model.fixed.float_exact` proves every
intermediate an integer below 2^53), so the choice is about speed alone, and the crossing
point depends on the machine (its SIMD support for int64 multiplies, its BLAS kernel). It
is measured once per machine, in a second or two once numba's kernels are cached, and
kept in the user cache folder (``<user cache>/rtrledit/blas_min_hidden.json``), keyed by
the CPU, the BLAS and the numpy/numba versions.

Overrides, strongest first: ``FixedRTRL(..., blas=True/False)``; the module global
``rtrledit.model.fixed.BLAS_MIN_HIDDEN`` when not None; the environment variable
``RTRLEDIT_BLAS_MIN_HIDDEN`` (an integer hidden size: ``1`` the float64 path wherever it
is exact, a large number never). The exactness guard applies to all of them.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ._jit import user_cache_dir

__all__ = ["ENV_VAR", "SIZES", "blas_min_hidden", "measure_blas_min_hidden", "cache_file"]

#: Environment variable that overrides the measured threshold (an integer hidden size).
ENV_VAR = "RTRLEDIT_BLAS_MIN_HIDDEN"
#: Hidden sizes measured. From the largest on, BLAS is taken whatever was measured: its lead
#: grows with n (n⁴ work with 4-wide FMAs against emulated int64 multiplies on AVX2).
SIZES = (2, 4, 6, 8, 12, 16, 24, 32)

#: Bumped when the measurement changes, so that older cached results are not reused.
METHOD = "whole-steps-1"

_memo: dict[str, int] = {}
_key: list[str] = []


def cache_file() -> Path:
    """The JSON file that keeps the measured threshold per machine key."""
    return user_cache_dir() / "blas_min_hidden.json"


def _machine_key() -> str:
    """What the measurement depends on: CPU model and count, BLAS, numpy and numba."""
    if _key:
        return _key[0]
    import numba
    from .fixed import blas_libraries
    blas = sorted(f"{lib.internal_api}-{lib.version}-{getattr(lib, 'architecture', '')}"
                  for lib in blas_libraries())
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    _key.append("|".join([METHOD, cpu, str(os.cpu_count()), ",".join(blas), np.__version__,
                          numba.__version__]))
    return _key[0]


def _best_time(fn, reps: int = 3) -> float:
    """Best of ``reps`` timings of ``fn()`` (seconds)."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _time_paths(n: int) -> tuple[float, float]:
    """Seconds per learning step of exact RTRL at hidden size n (default formats, m = 4,
    hardtanh): (int64 loops, float64 path). Whole steps, so that each path's
    requantisation and conversions count, not only the product."""
    from .config import Config
    from .fixed import FixedRTRL
    from .reference import init_params
    cfg = Config(hidden=n, inputs=4, outputs=1)
    params = init_params(n, 4, 1, seed=n)
    steps = max(8, 200_000 // n**3)
    rng = np.random.default_rng(n)
    model = FixedRTRL.from_float(cfg, *params, blas=False)  # (None would recurse here)
    xs, ds = model.quantise_inputs(rng.uniform(-0.5, 0.5, (steps, 4)),
                                   rng.uniform(-0.5, 0.5, (steps, 1)))
    times = []
    for blas in (False, True):
        def go(blas=blas):
            FixedRTRL.from_float(cfg, *params, blas=blas).run(xs, ds)
        FixedRTRL.from_float(cfg, *params, blas=blas).run(xs[:1], ds[:1])  # compile
        times.append(_best_time(go) / steps)
    return times[0], times[1]


def measure_blas_min_hidden(sizes: tuple[int, ...] = SIZES) -> int:
    """The smallest measured n from which BLAS is faster at every larger measured size;
    at most the largest size measured (32): from there on BLAS is taken even if it lost,
    since its lead grows with n (and the float64 path is the one exact RTRL at n = 32 was
    tuned for)."""
    threshold = sizes[-1]
    for n in reversed(sizes):
        t_int, t_blas = _time_paths(n)
        if t_blas >= t_int:
            break
        threshold = n
    return threshold


def blas_min_hidden() -> int:
    """The hidden size from which W·S runs in BLAS: the environment override, else the
    cached measurement for this machine, else a new measurement (then cached)."""
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be an integer hidden size, got {env!r}") from None
    key = _machine_key()
    if key in _memo:
        return _memo[key]
    path = cache_file()
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        table = {}
    if not isinstance(table.get(key), int):
        table[key] = measure_blas_min_hidden()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(table, indent=1))
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache costs one measurement per process, nothing else
    _memo[key] = table[key]
    return table[key]
