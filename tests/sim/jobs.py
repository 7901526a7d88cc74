"""Random jobs for the core: configurations, parameters, streams and mode changes."""

import numpy as np

from rtrledit.hdl.core import cycles_per_step
from rtrledit.model import Config, FixedRTRL, Formats, QFormat, init_params
from rtrledit.model.config import ROUNDINGS
from rtrledit.model.tasks import get_task
from rtrledit.sim.job import Job, Segment


def random_config(rng) -> Config:
    while True:
        fm = {}
        for L in "XHPAFOYCS":
            w = int(rng.integers(8, 17))
            f = w - 2 if L in "HF" else int(rng.integers(max(2, w // 3), w - 1))
            fm[L] = QFormat(w, f)
        try:
            return Config(hidden=int(rng.integers(1, 13)), inputs=int(rng.integers(1, 4)),
                          outputs=int(rng.integers(1, 3)),
                          activation=str(rng.choice(["hardtanh", "tanh"])),
                          approx=str(rng.choice(["exact", "exact", "snap1"])),
                          formats=Formats(**fm),
                          r_fwd=str(rng.choice(ROUNDINGS[:3])), r_sens=str(rng.choice(ROUNDINGS[:3])),
                          r_upd=str(rng.choice(ROUNDINGS)),
                          overflow=str(rng.choice(["saturate", "saturate", "wrap"])),
                          eta=int(rng.integers(0, 9)), eta_o=int(rng.integers(0, 9)),
                          lfsr_seed=int(rng.integers(1, 2**32)), tanh_bits=int(rng.integers(4, 9)))
        except ValueError:
            continue


def random_lanes(rng, cfg: Config) -> int:
    if cfg.approx == "snap1":
        return 1
    n, nq = cfg.n, cfg.n * cfg.q
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    nondiv = [d for d in range(2, n) if n % d] or [1]
    choices = [1, 2, n, int(rng.choice(divisors)), int(rng.choice(nondiv)),
               min(nq, n + int(rng.integers(1, n + 2))), nq]
    return int(min(nq, max(1, rng.choice(choices))))


def random_job(seed: int, max_cycles: int) -> Job:
    """A job whose learning steps together take about ``max_cycles`` clock cycles."""
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    lanes = random_lanes(rng, cfg)
    fm = cfg.formats
    cps = cycles_per_step(cfg, lanes)
    T = int(np.clip(max_cycles // cps, 4, 60))
    big = seed % 3 == 0                       # large values: saturation everywhere

    def ints(fmt, shape, scale):
        return np.clip(rng.normal(0, scale * fmt.max, shape).round(), fmt.min,
                       fmt.max).astype(np.int64)
    if big:
        theta, V, c = (ints(fm.P, (cfg.n, cfg.q), 0.5), ints(fm.O, (cfg.p, cfg.n), 0.5),
                       ints(fm.O, (cfg.p,), 0.5))
    else:
        fx = FixedRTRL.from_float(cfg, *init_params(cfg.n, cfg.m, cfg.p, seed=seed))
        theta, V, c = fx.theta, fx.V, fx.c
    if seed % 4 == 1 and cfg.m == 1 and cfg.p == 1:      # a task stream
        task = get_task("sine", steps=T, seed=seed)
        xs, ds = FixedRTRL(cfg, theta, V, c).quantise_inputs(task.xs, task.ds)
    else:
        xs, ds = ints(fm.X, (T, cfg.m), 0.6 if big else 0.1), ints(fm.Y, (T, cfg.p), 0.6 if big else 0.1)
    # 1-3 segments: learning, then maybe inference, tracking with new rates, a reset
    cuts = sorted(rng.choice(np.arange(1, T), size=min(2, T - 1), replace=False).tolist())
    bounds = [0, *cuts, T]
    kinds = [("learn", None, None)] + [
        (str(rng.choice(["learn", "infer", "track"])), int(rng.integers(0, 6)),
         rng.choice([None, "sens", "state"])) for _ in range(len(bounds) - 2)]
    segs = []
    for (kind, eta, reset), a, b in zip(kinds, bounds, bounds[1:]):
        segs.append(Segment(b - a, learn=kind == "learn", track=kind != "infer",
                            eta=eta, eta_o=eta, reset=reset, clear_sat=a > 0 and bool(b % 2)))
    return Job(cfg, lanes, theta, V, c, xs, ds, segs, check_bus=seed % 5 == 0)
