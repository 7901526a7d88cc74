"""Random jobs for the core: configurations, parameters, streams, mode changes and stalls."""

import numpy as np

from rtrledit.hdl.core import cycles_per_step
from rtrledit.model import Config, FixedRTRL, Formats, QFormat, init_params
from rtrledit.model.config import ROUNDINGS
from rtrledit.model.tasks import get_task
from rtrledit.sim.job import Job, Segment, Stalls


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


def random_job(seed: int, max_cycles: int) -> Job:
    """A job whose learning steps together take about ``max_cycles`` clock cycles, with the
    stall pattern :func:`random_stalls` draws for ``seed``."""
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    lanes = random_lanes(rng, cfg)
    return _job(rng, seed, cfg, lanes, max_cycles)


def random_batch(seed: int, count: int, max_cycles: int) -> list[Job]:
    """``count`` jobs on one design (the config and lanes of ``random_job(seed)``), each with
    its own parameters, stream, segments and stalls (job k draws them from seed + 1000·k): they share one build and one simulator start."""
    first = random_job(seed, max_cycles)
    return [first] + [_job(np.random.default_rng(seed + 1000 * k), seed + 1000 * k, first.cfg,
                           first.lanes, max_cycles) for k in range(1, count)]


def _job(rng, seed: int, cfg: Config, lanes: int, max_cycles: int) -> Job:
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
    st = job.stalls
    out.add("no stalls" if not st.any else "valid gaps and ready-low runs"
            if st.idle and st.backpressure else "valid gaps" if st.idle else "ready-low runs")
    return out


#: every class above: a default run's jobs must cover all of them
ALL_FEATURES = ({f"activation={a}" for a in ("hardtanh", "tanh")}
                | {f"approx={a}" for a in ("exact", "snap1")}
                | {f"overflow={o}" for o in ("saturate", "wrap")}
                | {f"r_{s}={r}" for s in ("fwd", "sens", "upd") for r in ROUNDINGS[:3]}
                | {"r_upd=stochastic", "lanes=1", "lanes=nq", "lanes divide nq",
                   "lanes do not divide nq", "spram", "bus errors", "learn", "track", "infer",
                   "reset=sens", "reset=state", "new learning rates", "clear saturation",
                   "no stalls", "valid gaps", "ready-low runs", "valid gaps and ready-low runs"})
