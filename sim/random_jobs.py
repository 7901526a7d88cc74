"""Random jobs for the core: configurations, parameters, streams, mode changes and stalls.

Everything a job holds comes from its seed: :func:`random_job` draws a Config
(:func:`random_config`: sizes, Q formats, rounding modes, both activations, both
approximations, saturate or wrap), a lane count (:func:`random_lanes`), parameters (one
job in three large enough to saturate everywhere), a stream (one in four a task's), one
to three mode segments (learn, track or infer, new learning rates, resets, saturation
clears) and a stall pattern (:func:`random_stalls`). The tests and ``rtrledit verify``
draw their jobs here; :func:`features` names the classes of behaviour a job exercises.
"""

from __future__ import annotations

import numpy as np

from ..hdl.core import cycles_per_step
from ..model import Config, FixedRTRL, Formats, QFormat, init_params
from ..model.config import ROUNDINGS
from ..model.tasks import get_task
from .job import Job, Segment, Stalls

__all__ = ["MAX_HIDDEN", "MIN_STEPS", "random_config", "random_lanes", "random_stalls",
           "random_spram", "random_job", "random_batch", "features", "stall_kind",
           "ALL_FEATURES"]

#: the largest hidden size :func:`random_config` draws
MAX_HIDDEN = 12
#: the fewest steps of a job (room for three segments)
MIN_STEPS = 4


def random_config(rng: np.random.Generator, max_hidden: int = MAX_HIDDEN) -> Config:
    """A random valid Config with 1 to ``max_hidden`` hidden units."""
    while True:
        fm = {}
        for L in "XHPAFOYCS":
            w = int(rng.integers(8, 17))
            f = w - 2 if L in "HF" else int(rng.integers(max(2, w // 3), w - 1))
            fm[L] = QFormat(w, f)
        try:
            return Config(hidden=int(rng.integers(1, max_hidden + 1)),
                          inputs=int(rng.integers(1, 4)),
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


def random_lanes(rng: np.random.Generator, cfg: Config, max_lanes: int | None = None) -> int:
    """A random lane count for ``cfg``: one, two, n, a divisor of n, a non-divisor, a little
    more than n or nq (SnAp-1: one); at most ``max_lanes``."""
    if cfg.approx == "snap1":
        return 1
    n, nq = cfg.n, cfg.n * cfg.q
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    nondiv = [d for d in range(2, n) if n % d] or [1]
    choices = [1, 2, n, int(rng.choice(divisors)), int(rng.choice(nondiv)),
               min(nq, n + int(rng.integers(1, n + 2))), nq]
    return int(min(nq, max_lanes or nq, max(1, rng.choice(choices))))


def random_stalls(seed: int, cycles_per_step: int) -> Stalls:
    """The stall pattern of job ``seed`` (its own random stream, so the job's config and
    data do not depend on it): one job in four stalls nothing; the others leave valid
    gaps, ready-low runs or both, up to 1, 3 or 64 cycles (two steps when shorter)."""
    rng = np.random.default_rng([seed, 7])
    if rng.random() < 0.25:
        return Stalls()
    idle, bp = (float(rng.choice([0.0, 0.3, 0.8])), float(rng.choice([0.3, 0.8])))
    if rng.random() < 0.3:
        idle, bp = bp, 0.0                 # valid gaps only
    longest = lambda: int(rng.choice([1, 3, min(64, 2 * cycles_per_step)]))   # noqa: E731
    return Stalls(seed=int(rng.integers(2**31)), idle=idle, idle_max=longest(),
                  backpressure=bp, backpressure_max=longest())


def random_spram(seed: int) -> bool:
    """Whether job ``seed`` puts S and G in single-port RAMs (one in four; its own random
    stream, so nothing else the seed draws depends on it). :func:`random_job` leaves
    ``spram`` at the engine's default; ``rtrledit verify`` sets it from here."""
    return bool(np.random.default_rng([seed, 11]).random() < 0.25)


def random_job(seed: int, max_cycles: int | None = None, steps: int | None = None,
               max_hidden: int = MAX_HIDDEN, max_lanes: int | None = None) -> Job:
    """The job of ``seed``: ``steps`` samples, or (without ``steps``) as many as take about
    ``max_cycles`` clock cycles (4 to 60), with the stall pattern :func:`random_stalls`
    draws for ``seed``. ``max_hidden`` and ``max_lanes`` cap the design's size."""
    rng = np.random.default_rng(seed)
    cfg = random_config(rng, max_hidden)
    lanes = random_lanes(rng, cfg, max_lanes)
    return _job(rng, seed, cfg, lanes, max_cycles, steps)


def random_batch(seed: int, count: int, max_cycles: int) -> list[Job]:
    """``count`` jobs on one design (the config and lanes of ``random_job(seed)``), each with
    its own parameters, stream, segments and stalls (job k draws them from seed + 1000·k): they share one build and one simulator start."""
    first = random_job(seed, max_cycles)
    return [first] + [_job(np.random.default_rng(seed + 1000 * k), seed + 1000 * k, first.cfg,
                           first.lanes, max_cycles, None) for k in range(1, count)]


def _job(rng: np.random.Generator, seed: int, cfg: Config, lanes: int, max_cycles: int | None,
         steps: int | None) -> Job:
    fm = cfg.formats
    cps = cycles_per_step(cfg, lanes)
    if steps is None:
        if max_cycles is None:
            raise ValueError("random_job: give max_cycles or steps")
        T = int(np.clip(max_cycles // cps, MIN_STEPS, 60))
    elif steps < MIN_STEPS:
        raise ValueError(f"random_job: steps must be >= {MIN_STEPS}, got {steps}")
    else:
        T = steps
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
    return Job(cfg, lanes, theta, V, c, xs, ds, segs, check_bus=seed % 5 == 0,
               stalls=random_stalls(seed, cps))


def features(job: Job) -> set[str]:
    """The classes of behaviour a job exercises (what the default run must cover)."""
    cfg, L = job.cfg, job.lanes
    nq = cfg.n * cfg.q
    out = {f"activation={cfg.activation}", f"approx={cfg.approx}", f"overflow={cfg.overflow}",
           f"r_fwd={cfg.r_fwd}", f"r_sens={cfg.r_sens}", f"r_upd={cfg.r_upd}",
           "lanes=1" if L == 1 else "lanes=nq" if L == nq else
           "lanes divide nq" if nq % L == 0 else "lanes do not divide nq"}
    if job.spram:
        out.add("spram")
    if job.check_bus:
        out.add("bus errors")
    for seg in job.segments:
        out.add("learn" if seg.learn else "track" if seg.track else "infer")
        if seg.reset:
            out.add(f"reset={seg.reset}")
        if seg.eta is not None:
            out.add("new learning rates")
        if seg.clear_sat:
            out.add("clear saturation")
    out.add(stall_kind(job.stalls))
    return out


def stall_kind(st: Stalls) -> str:
    """Which streams ``st`` stalls, in words (one of the stall classes of :func:`features`)."""
    return ("no stalls" if not st.any else "valid gaps and ready-low runs"
            if st.idle and st.backpressure else "valid gaps" if st.idle else "ready-low runs")


#: every class above: a default run's jobs must cover all of them
ALL_FEATURES = ({f"activation={a}" for a in ("hardtanh", "tanh")}
                | {f"approx={a}" for a in ("exact", "snap1")}
                | {f"overflow={o}" for o in ("saturate", "wrap")}
                | {f"r_{s}={r}" for s in ("fwd", "sens", "upd") for r in ROUNDINGS[:3]}
                | {"r_upd=stochastic", "lanes=1", "lanes=nq", "lanes divide nq",
                   "lanes do not divide nq", "spram", "bus errors", "learn", "track", "infer",
                   "reset=sens", "reset=state", "new learning rates", "clear saturation",
                   "no stalls", "valid gaps", "ready-low runs", "valid gaps and ready-low runs"})
