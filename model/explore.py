"""Design-space exploration (``rtrledit sweep``): how many bits each quantity needs for
online learning to still work, swept over a grid of formats, roundings and sizes.

A :class:`Grid` (from a TOML or JSON file, or the small :data:`DEFAULT_GRID`) spans tasks,
hidden sizes, activations, approximations (exact, snap1), update roundings (nearest,
stochastic), seeds (each seed draws the initial weights and the task's stream) and the
widths of chosen formats (by default S and Θ = P, with a fixed number of integer
bits each; every other format comes from the grid's ``base`` configuration). Each point
is one :class:`~rtrledit.model.Config`; a point the Config refuses is recorded as
``invalid`` and not run.

:func:`evaluate_batch` runs the integer models of points of one shape and stream in one
batch (:func:`rtrledit.model.batch.run_batch`); for each it records
its final error, the error relative to the float model (same approximation, same initial
weights, same stream), the cosine similarity of its per-step gradient with the float
exact-RTRL gradient, the saturation counts and the hardware cost (:func:`hardware_cost`).

:func:`run_exploration` runs the points on a Dask ``distributed`` cluster: an embedded
``LocalCluster`` of worker processes by default, or the scheduler at a given address;
the code path is the same. Points of one task, hidden size, activation, approximation
and seed are sent in batches of up to :data:`BATCH` points. Results are appended one JSON line per point to
``results.jsonl`` in the output folder as they arrive, so an interrupted sweep resumes
where it stopped (points already in the file are not recomputed), and one point that
fails (an exception, a float model that diverges to NaN) is recorded as ``failed``
without stopping the others. At the end the table is written as ``results.csv`` and
``results.json`` and the plots (:mod:`rtrledit.model.plots`) beside them.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import (ACTIVATIONS, APPROXIMATIONS, FORMAT_LETTERS, ROUNDINGS, SAT_NAMES, Config, QFormat,
                     load_table)
from .batch import run_batch
from .fixed import FixedRTRL
from .reference import FloatRTRL, init_params
from .requant import dequantise

__all__ = ["DEFAULT_GRID", "Grid", "Point", "load_grid", "hardware_cost", "pareto_front",
           "evaluate_point", "evaluate_batch", "BATCH", "float_learning", "float_gradients", "run_exploration", "SweepResult",
           "RESULTS_LOG", "load_results", "repair_log", "append_record", "write_table",
           "TABLE_COLUMNS", "CURVE_POINTS", "WITHIN", "Spread", "seed_spreads"]

#: The default grid: small enough to finish in well under two minutes on two cores.
DEFAULT_GRID: dict[str, Any] = {
    "tasks": ["sine"],
    "hidden": [8],
    "activation": ["hardtanh"],
    "approx": ["exact", "snap1"],
    "r_upd": ["half_even", "stochastic"],
    "widths": {"S": [8, 12, 16, 20, 24], "P": [8, 12, 16, 20, 24]},
    "int_bits": {"S": 3, "P": 3},
    "steps": 3000,
    "seed": 0,
    "grad_steps": 500,
    "pes": 8,
    # every other format at 16 bits; H = Q(10, 8) so that f_P + f_S >= f_H (docs/design.md
    # §3.1) holds down to 8-bit S and Θ.
    "base": {"formats": {"H": [10, 8]}},
}

#: Keys a grid file may hold.
GRID_KEYS = tuple(DEFAULT_GRID)
#: Points kept of each learning curve (block means of the squared error).
CURVE_POINTS = 100

TABLE_COLUMNS = ("id", "status", "error", "task", "hidden", "activation", "approx", "r_upd", "widths",
                 "steps", "seed", "mse_first", "mse_last", "mse_last_float", "rel_err",
                 "grad_cos", "sat_total", *(f"sat_{k}" for k in SAT_NAMES),
                 "mem_S_bits", "mem_theta_bits", "mem_bits", "pes", "cycles_per_step",
                 "seconds")


# ---------------------------------------------------------------------------- grid
@dataclass(frozen=True)
class Point:
    """One grid point: what to run (``spec``, JSON-able) and its Config or why it has none."""

    spec: dict[str, Any]
    cfg: Config | None
    invalid: str | None = None

    @property
    def id(self) -> str:
        return point_id(self.spec)

    @property
    def label(self) -> str:
        s = self.spec
        w = " ".join(f"{L}{v}" for L, v in s["widths"].items())
        return (f"{s['task']} n={s['hidden']} {s['activation']} {s['approx']} {s['r_upd']} {w}"
                f" seed={s['seed']}")


def point_id(spec: dict[str, Any]) -> str:
    """A stable identifier of a point: a hash of its canonical JSON."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _as_list(v, name: str, kind) -> list:
    vals = v if isinstance(v, list) else [v]
    if not vals:
        raise ValueError(f"grid '{name}': empty list")
    for x in vals:
        if not isinstance(x, kind) or isinstance(x, bool):
            raise ValueError(f"grid '{name}': expected {kind.__name__} values, got {x!r}")
    return vals


@dataclass
class Grid:
    """The axes of a sweep (see :data:`DEFAULT_GRID` for the keys and defaults)."""

    tasks: list[str]
    hidden: list[int]
    activation: list[str]
    approx: list[str]
    r_upd: list[str]
    widths: dict[str, list[int]]
    int_bits: dict[str, int]
    steps: int
    seed: list[int]
    grad_steps: int
    pes: int
    base: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None = None) -> "Grid":
        """A grid from a mapping; missing keys take :data:`DEFAULT_GRID`'s values."""
        d = dict(d or {})
        unknown = sorted(set(d) - set(GRID_KEYS))
        if unknown:
            raise ValueError(f"grid: unknown key '{unknown[0]}' (known: {', '.join(GRID_KEYS)})")
        full = {**DEFAULT_GRID, **d}
        tasks = _as_list(full["tasks"], "tasks", str)
        hidden = _as_list(full["hidden"], "hidden", int)
        approx = _as_list(full["approx"], "approx", str)
        if not isinstance(full["base"], dict):
            raise ValueError("grid 'base': must be a table of Config fields")
        if "activation" in full["base"]:
            if "activation" in d:
                raise ValueError("grid: set 'activation' or 'base.activation', not both")
            full["activation"] = full["base"]["activation"]
            full["base"] = {k: v for k, v in full["base"].items() if k != "activation"}
        activation = _as_list(full["activation"], "activation", str)
        for a in activation:
            if a not in ACTIVATIONS:
                raise ValueError(f"grid 'activation': unknown {a!r}; choose from "
                                 f"{', '.join(ACTIVATIONS)}")
        seeds = _as_list(full["seed"], "seed", int)
        if min(seeds) < 0 or len(set(seeds)) < len(seeds):
            raise ValueError(f"grid 'seed': must be distinct integers >= 0, got {full['seed']!r}")
        r_upd = _as_list(full["r_upd"], "r_upd", str)
        for a in approx:
            if a not in APPROXIMATIONS:
                raise ValueError(f"grid 'approx': unknown {a!r}; choose from {', '.join(APPROXIMATIONS)}")
        for r in r_upd:
            if r not in ROUNDINGS:
                raise ValueError(f"grid 'r_upd': unknown {r!r}; choose from {', '.join(ROUNDINGS)}")
        widths = full["widths"]
        if not isinstance(widths, dict):
            raise ValueError("grid 'widths': must be a table of letter = [widths]")
        widths = {L: _as_list(v, f"widths.{L}", int) for L, v in widths.items()}
        ib = dict(DEFAULT_GRID["int_bits"], **full["int_bits"]) if isinstance(full["int_bits"], dict) \
            else None
        if ib is None:
            raise ValueError("grid 'int_bits': must be a table of letter = bits")
        for L in list(widths) + list(ib):
            if L not in FORMAT_LETTERS:
                raise ValueError(f"grid: unknown format letter {L!r} (use {', '.join(FORMAT_LETTERS)})")
        for name in ("steps", "grad_steps", "pes"):
            v = full[name]
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"grid '{name}': must be an integer >= 1, got {v!r}")
        return cls(tasks, hidden, activation, approx, r_upd, widths,
                   {k: int(v) for k, v in ib.items()}, full["steps"], seeds,
                   min(full["grad_steps"], full["steps"]), full["pes"], dict(full["base"]))

    def to_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "hidden": self.hidden, "activation": self.activation,
                "approx": self.approx,
                "r_upd": self.r_upd, "widths": self.widths, "int_bits": self.int_bits,
                "steps": self.steps, "seed": self.seed, "grad_steps": self.grad_steps,
                "pes": self.pes, "base": self.base}

    def base_config(self, hidden: int, inputs: int = 1, outputs: int = 1) -> dict[str, Any]:
        return {"hidden": hidden, "inputs": inputs, "outputs": outputs, **self.base}

    def points(self) -> list[Point]:
        """Every point of the grid, in grid order, each with its Config or the reason
        the Config refused it."""
        letters = list(self.widths)
        out = []
        for task, n, act, approx, seed, r_upd, *ws in itertools.product(
                self.tasks, self.hidden, self.activation, self.approx, self.seed, self.r_upd,
                *(self.widths[L] for L in letters)):
            widths = dict(zip(letters, ws))
            spec = {"task": task, "hidden": n, "activation": act, "approx": approx,
                    "r_upd": r_upd, "widths": widths,
                    "int_bits": {L: self.int_bits.get(L, 3) for L in letters},
                    "steps": self.steps, "seed": seed, "grad_steps": self.grad_steps,
                    "pes": self.pes, "base": self.base}
            try:
                cfg = point_config(spec)
            except (ValueError, TypeError) as e:
                out.append(Point(spec, None, str(e)))
            else:
                out.append(Point(spec, cfg))
        return out


def point_config(spec: dict[str, Any], inputs: int = 1, outputs: int = 1) -> Config:
    """The Config of a point: ``base`` with hidden, activation, approx, r_upd and the swept
    widths (fraction bits = width - 1 - integer bits). ValueError if Config refuses it."""
    d = {"hidden": spec["hidden"], "inputs": inputs, "outputs": outputs, **spec["base"],
         "activation": spec["activation"], "approx": spec["approx"], "r_upd": spec["r_upd"]}
    base = Config.from_dict(d)
    fm = {L: getattr(base.formats, L) for L in FORMAT_LETTERS}
    for L, w in spec["widths"].items():
        ib = spec["int_bits"][L]
        f = w - 1 - ib
        if f < 0:
            raise ValueError(f"formats.{L}: width {w} cannot hold {ib} integer bits and a sign")
        fm[L] = QFormat(w, f)
    return base.replace(formats=type(base.formats)(**fm))


def load_grid(path: str | Path | None) -> Grid:
    """A grid from a TOML (``.toml``) or JSON file; None gives the default grid."""
    if path is None:
        return Grid.from_dict({})
    path = Path(path)
    d = load_table(path, "grid")
    if not isinstance(d, dict):
        raise ValueError(f"grid file {path}: must hold a table/object")
    return Grid.from_dict(d)


# ---------------------------------------------------------------------------- metrics
def hardware_cost(cfg: Config, pes: int) -> dict[str, int]:
    """Memory and cycles per learning step of the learning core for ``cfg``.

    Memory: bits of S (n·n·q exact, n·q snap1, times w_S) and of Θ (n·q·w_P). Cycles: the
    core's own cycle model (:func:`rtrledit.hdl.core.step_period`, measured against the
    simulators in tests/boards and tests/sim) with L = ``pes`` lanes, as many as the
    engine takes at most (n·q exact, 1 for SnAp-1), S in dual-port memory.
    """
    # the exploration sits above the hardware: it asks the core, never a formula of its own
    from ..hdl.core import max_lanes, step_period
    n, q = cfg.n, cfg.q
    L = max(1, min(int(pes), max_lanes(cfg)))
    mem_s = int(np.prod(cfg.s_shape)) * cfg.formats.S.w
    mem_t = n * q * cfg.formats.P.w
    return {"mem_S_bits": mem_s, "mem_theta_bits": mem_t, "mem_bits": mem_s + mem_t,
            "pes": L, "cycles_per_step": step_period(cfg, L)}


def pareto_front(cost, err) -> np.ndarray:
    """Indices of the points no other point dominates (minimising both ``cost`` and
    ``err``; NaN errors never on the front), in increasing cost."""
    cost = np.asarray(cost, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(err) & np.isfinite(cost))
    order = ok[np.lexsort((err[ok], cost[ok]))]
    front: list[int] = []
    best, best_cost = math.inf, None
    for i in order:
        if err[i] < best:
            front.append(int(i))
            best, best_cost = err[i], cost[i]
        elif err[i] == best and cost[i] == best_cost:  # an exact duplicate of a front point
            front.append(int(i))
    return np.array(front, dtype=np.int64)


def _curve(sq: np.ndarray) -> list[float]:
    k = max(1, len(sq) // CURVE_POINTS)
    m = len(sq) // k * k
    return [float(v) for v in sq[:m].reshape(-1, k).mean(axis=1)]


def _ends(sq: np.ndarray) -> tuple[float, float]:
    k = max(1, len(sq) // 10)
    return float(np.mean(sq[:k])), float(np.mean(sq[-k:]))


#: "Within 10 %": the integer model's final error at most this many times the float model's.
WITHIN = 1.10


class Spread:
    """The seeds of one grid point: their records and relative errors (None for a seed
    that failed). A point is judged on the median over its seeds, the worst seed beside
    it; a point with a failed seed is never within."""

    def __init__(self, recs: list[dict[str, Any]]) -> None:
        self.recs = recs
        self.rel = [r["rel_err"] if r["status"] == "ok" else None for r in recs]

    @property
    def complete(self) -> bool:
        return bool(self.rel) and all(v is not None for v in self.rel)

    @property
    def median(self) -> float:
        return statistics.median(self.rel) if self.complete else math.inf

    @property
    def worst(self) -> float:
        return max(self.rel) if self.complete else math.inf

    @property
    def best(self) -> float:
        return min(self.rel) if self.complete else math.inf

    def within(self, every_seed: bool = False) -> bool:
        """The median (with ``every_seed``: the worst seed) within :data:`WITHIN`."""
        return (self.worst if every_seed else self.median) <= WITHIN

    def stat(self, key: str) -> float | None:
        """The median over the seeds of a record field (None where no seed has it)."""
        vals = [r[key] for r in self.recs if r.get(key) is not None]
        return statistics.median(vals) if vals else None


def seed_spreads(records: list[dict[str, Any]]) -> dict[str, Spread]:
    """The valid records grouped by grid point: the point's id without its seed (the
    spec's ``seed`` dropped) -> the :class:`Spread` of its seeds."""
    groups: dict[str, list] = {}
    for r in records:
        if r["status"] == "invalid":
            continue
        spec = {k: v for k, v in r["spec"].items() if k != "seed"}
        groups.setdefault(point_id(spec), []).append(r)
    return {k: Spread(v) for k, v in groups.items()}


@functools.lru_cache(maxsize=8)
def _task(name: str, steps: int, seed: int):
    from .tasks import get_task
    return get_task(name, steps=steps, seed=seed)


def float_learning(spec: dict[str, Any]) -> dict[str, Any]:
    """The float model (the point's approximation) learning online on the point's task
    from the same initial weights: its squared-error curve and final error, or the error
    that stopped it (a non-finite output counts as divergence)."""
    try:
        task = _task(spec["task"], spec["steps"], spec["seed"])
        cfg = point_config(spec, task.inputs, task.outputs)
        th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=spec["seed"])
        fl = FloatRTRL.from_config(cfg, th, V, c)
        with np.errstate(all="ignore"):
            r = fl.run(task.xs, task.ds, learn=True)
        sq = 2 * r.loss / cfg.p
        bad = np.flatnonzero(~np.isfinite(sq))
        if bad.size:
            return {"error": f"float model diverged: non-finite error at step {int(bad[0])}"}
        first, last = _ends(sq)
        return {"mse_first": first, "mse_last": last, "curve": _curve(sq)}
    except Exception as e:  # noqa: BLE001 - recorded against the points that need it
        return {"error": f"float model: {type(e).__name__}: {e}"}


def float_gradients(spec: dict[str, Any]) -> dict[str, Any]:
    """Per-step float exact-RTRL gradients over the first ``grad_steps`` steps with
    learning off (Θ fixed at the initial weights), shape (grad_steps, n, q)."""
    try:
        task = _task(spec["task"], spec["steps"], spec["seed"])
        cfg = point_config(dict(spec, approx="exact"), task.inputs, task.outputs)
        th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=spec["seed"])
        fl = FloatRTRL.from_config(cfg, th, V, c)
        K = spec["grad_steps"]
        with np.errstate(all="ignore"):
            G = fl.run(task.xs[:K], task.ds[:K], learn=False, keep_grads=True).G
        if not np.all(np.isfinite(G)):
            return {"error": "float model diverged: non-finite gradient"}
        return {"G": G}
    except Exception as e:  # noqa: BLE001
        return {"error": f"float gradients: {type(e).__name__}: {e}"}


def grad_cosine(G_fixed: np.ndarray, G_float: np.ndarray) -> float:
    """Mean over steps of the cosine similarity of two per-step gradients (T, n, q),
    over the steps where both are non-zero (NaN if there is none)."""
    a = G_fixed.reshape(len(G_fixed), -1)
    b = G_float.reshape(len(G_float), -1)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both = (na > 0) & (nb > 0)
    if not both.any():
        return float("nan")
    cos = (a[both] * b[both]).sum(axis=1) / (na[both] * nb[both])
    return float(np.mean(cos))


def _base_record(point: Point) -> dict[str, Any]:
    s = point.spec
    return {"id": point.id, "task": s["task"], "hidden": s["hidden"],
            "activation": s["activation"], "approx": s["approx"],
            "r_upd": s["r_upd"], "widths": dict(s["widths"]), "steps": s["steps"],
            "seed": s["seed"], "spec": s}


def failed_record(point: Point, why: str, seconds: float = 0.0) -> dict[str, Any]:
    return {**_base_record(point), "status": "failed", "error": why, "seconds": seconds}


def invalid_record(point: Point) -> dict[str, Any]:
    return {**_base_record(point), "status": "invalid", "error": point.invalid}


def evaluate_point(spec: dict[str, Any], flt: dict[str, Any], grads: dict[str, Any]
                   ) -> dict[str, Any]:
    """:func:`evaluate_batch` of one point."""
    return evaluate_batch([spec], flt, grads)[0]


def evaluate_batch(specs: list[dict[str, Any]], flt: dict[str, Any], grads: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """Run grid points of one task, hidden size, activation, approximation and seed in one
    batch (:func:`~rtrledit.model.batch.run_batch`); one result record per point, in
    order (never raises: a point that cannot run is recorded as failed).

    Each integer model learns online over the whole task from the float initial weights
    (quantised); its final error (last 10% of the steps) is compared with ``flt``
    (:func:`float_learning`, same approximation). The gradient cosine compares, over the
    first ``grad_steps`` steps with learning off in both models (Θ fixed at the initial
    weights), the integer G dequantised (f_C + f_S) with ``grads`` (:func:`float_gradients`):
    with learning off both gradients are taken at the same parameters, so the cosine
    measures the arithmetic (and, for snap1, the approximation) alone, not the drift
    between two learning trajectories, which the error columns already measure.
    """
    t0 = time.perf_counter()
    out: list[dict[str, Any] | None] = [None] * len(specs)
    ready = []   # (index, cfg, model, xs, ds, model for the gradient run)
    for i, spec in enumerate(specs):
        try:
            task = _task(spec["task"], spec["steps"], spec["seed"])
            cfg = point_config(spec, task.inputs, task.outputs)
            th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=spec["seed"])
            fx = FixedRTRL.from_float(cfg, th, V, c)
            xs, ds = fx.quantise_inputs(task.xs, task.ds)
            ready.append((i, cfg, fx, xs, ds, FixedRTRL.from_float(cfg, th, V, c)))
        except Exception as e:  # noqa: BLE001 - one bad point must not stop the sweep
            out[i] = failed_record(Point(spec, None), f"{type(e).__name__}: {e}")
    try:
        if ready:
            _learn_and_grads(specs, ready, flt, grads, out)
    except Exception as e:  # noqa: BLE001
        for i, *_ in ready:
            out[i] = failed_record(Point(specs[i], None), f"{type(e).__name__}: {e}")
    each = (time.perf_counter() - t0) / len(specs)
    for rec in out:
        rec["seconds"] = each
    return out


def _learn_and_grads(specs, ready, flt, grads, out) -> None:
    """:func:`evaluate_batch`'s two batched runs (learning, then gradients with learning
    off) and the records of the points in ``ready``."""
    xs, ds = np.stack([r[3] for r in ready]), np.stack([r[4] for r in ready])
    runs = run_batch([r[2] for r in ready], xs, ds, learn=True)
    gruns = None
    if "error" not in flt and "error" not in grads:
        K = specs[ready[0][0]]["grad_steps"]
        gruns = run_batch([r[5] for r in ready], xs[:, :K], ds[:, :K], learn=False,
                          keep_grads=True)
    for k, (i, cfg, fx, *_rest) in enumerate(ready):
        spec, point = specs[i], Point(specs[i], None)
        if "error" in flt:
            out[i] = failed_record(point, flt["error"])
            continue
        sq = (dequantise(runs[k].e, cfg.formats.Y) ** 2).mean(axis=1)
        first, last = _ends(sq)
        rec = {**_base_record(point), "status": "ok", "error": "",
               "mse_first": first, "mse_last": last}
        sat = dict(zip(SAT_NAMES, map(int, fx.sat)))
        rec.update({f"sat_{name}": v for name, v in sat.items()})
        rec["sat_total"] = int(sum(sat.values()))
        rec.update(hardware_cost(cfg, spec["pes"]))
        rec["curve"] = _curve(sq)
        rec["mse_last_float"] = flt["mse_last"]
        rec["rel_err"] = last / flt["mse_last"] if flt["mse_last"] > 0 else None
        rec["curve_float"] = flt["curve"]
        rec["grad_cos"] = None
        if gruns is not None:
            gf = dequantise(gruns[k].G, QFormat(64, cfg.formats.C.f + cfg.formats.S.f))
            cos = grad_cosine(gf, grads["G"])
            rec["grad_cos"] = None if math.isnan(cos) else cos
        out[i] = rec


# ---------------------------------------------------------------------------- results
RESULTS_LOG = "results.jsonl"


def load_results(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The records already in ``out_dir/results.jsonl`` by point id (the last record of an
    id wins; a torn last line from an interrupted write is ignored)."""
    path = Path(out_dir) / RESULTS_LOG
    recs: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return recs
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            recs[rec["id"]] = rec
    return recs


def repair_log(path: Path) -> None:
    """Cut a torn last line (an interrupted write) so the next record starts a line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def append_record(path: Path, rec: dict[str, Any]) -> None:
    """Append ``rec`` to the log at ``path`` as one JSON line, flushed to disk."""
    with open(path, "a") as fh:
        fh.write(json.dumps(rec, default=_json_default) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON-able: {type(o).__name__}")


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    row = {}
    for k in TABLE_COLUMNS:
        v = rec.get(k, "")
        if k == "widths":
            v = " ".join(f"{L}={w}" for L, w in rec["widths"].items())
        row[k] = "" if v is None else v
    for L, w in rec["widths"].items():
        row[f"w_{L}"] = w
    return row


def write_table(records: list[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.csv`` (one row per point, no curves) and ``results.json`` (all of
    it) atomically; returns their paths."""
    from .checkpoint import atomic_write
    out_dir = Path(out_dir)
    rows = [_row(r) for r in records]
    cols = list(TABLE_COLUMNS) + sorted({k for r in rows for k in r if k.startswith("w_")})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    csv_path, json_path = out_dir / "results.csv", out_dir / "results.json"
    atomic_write(csv_path, lambda fh: fh.write(buf.getvalue().encode()))
    text = json.dumps(records, default=_json_default, indent=1)
    atomic_write(json_path, lambda fh: fh.write(text.encode()))
    return csv_path, json_path


# ---------------------------------------------------------------------------- runner
@dataclass
class SweepResult:
    """What :func:`run_exploration` returns: the records in grid order and the counts."""

    records: list[dict[str, Any]]
    computed: int
    reused: int
    invalid: int
    failed: int
    files: list[Path]
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {"points": len(self.records), "computed": self.computed, "reused": self.reused,
                "invalid": self.invalid, "failed": self.failed,
                "ok": sum(r["status"] == "ok" for r in self.records),
                "files": [str(p) for p in self.files], "seconds": round(self.seconds, 2)}


def valid_points(grid: Grid) -> list[Point]:
    """The grid's points, or ValueError if none of them is a valid Config."""
    pts = grid.points()
    if not any(p.cfg is not None for p in pts):
        why = pts[0].invalid if pts else "the grid is empty"
        raise ValueError(f"the sweep grid has no valid point ({len(pts)} points; e.g. {why})")
    return pts


def check_tasks(grid: Grid) -> None:
    """ValueError for an unknown task or a file task that is not 1-in/1-out."""
    for t in grid.tasks:
        task = _task(t, grid.steps, grid.seed[0])
        if (task.inputs, task.outputs) != (1, 1):
            # the grid's base config sets the sizes; file tasks must match it
            inputs, outputs = grid.base.get("inputs", 1), grid.base.get("outputs", 1)
            if (task.inputs, task.outputs) != (inputs, outputs):
                raise ValueError(f"task {t!r} has {task.inputs} inputs and {task.outputs} "
                                 f"outputs; set base.inputs/base.outputs in the grid")


def connect(scheduler: str | None = None, workers: int | None = None,
            timeout: float = 10.0):
    """A ``distributed.Client``: to the scheduler at ``scheduler``, or to a new embedded
    ``LocalCluster`` of ``workers`` single-threaded processes (default: one per core).
    ValueError if the scheduler does not answer within ``timeout`` seconds."""
    import logging
    from distributed import Client, LocalCluster
    if scheduler:
        try:
            return Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ValueError(f"scheduler {scheduler} does not answer: {e}") from None
    n = workers or max(1, os.cpu_count() or 1)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    client = Client(cluster)
    client._rtrledit_owned_cluster = cluster  # closed with the client by run_exploration
    return client


def run_exploration(grid: Grid, out_dir: str | Path, client=None, scheduler: str | None = None,
              workers: int | None = None, progress: Callable[[int], None] | None = None,
              retry_failed: bool = False, plots: bool = True) -> SweepResult:
    """Run every point of ``grid`` not already in ``out_dir`` and write table and plots.

    Parameters
    ----------
    grid : Grid
    out_dir : path
        Created if needed; holds ``results.jsonl`` (the resumable log), ``results.csv``,
        ``results.json`` and the PNG plots.
    client : distributed.Client or None
        Use this client (e.g. of a test's LocalCluster); else :func:`connect` with
        ``scheduler`` and ``workers``.
    progress : callable or None
        Called with 1 after every point (computed or invalid).
    retry_failed : bool
        Recompute points recorded as failed (by default they count as done).

    Raises
    ------
    ValueError
        Before any work: a grid with no valid point, an unknown task, a scheduler that
        does not answer.
    """
    t0 = time.perf_counter()
    points = valid_points(grid)
    check_tasks(grid)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / RESULTS_LOG
    repair_log(log)
    done = load_results(out_dir)
    todo = [p for p in points if p.id not in done
            or (retry_failed and done[p.id]["status"] == "failed")]
    reused = len(points) - len(todo)
    computed = 0
    new_invalid = [p for p in todo if p.cfg is None]
    for p in new_invalid:
        done[p.id] = invalid_record(p)
        append_record(log, done[p.id])
        if progress:
            progress(1)
    runnable = [p for p in todo if p.cfg is not None]
    if runnable:
        own = client is None
        if own:
            client = connect(scheduler, workers)
        try:
            computed = _submit_all(client, runnable, done, log, progress)
        finally:
            if own:
                cluster = getattr(client, "_rtrledit_owned_cluster", None)
                client.close()
                if cluster is not None:
                    cluster.close()
    records = [done[p.id] for p in points]
    files = list(write_table(records, out_dir))
    if plots:
        from .plots import plot_sweep
        files += plot_sweep(records, out_dir)
    return SweepResult(records, computed, reused,
                       sum(r["status"] == "invalid" for r in records),
                       sum(r["status"] == "failed" for r in records), files,
                       time.perf_counter() - t0)


#: Points sent to a worker in one batch (fewer keeps both workers busy to the end).
BATCH = 16


def _float_keys(s: dict[str, Any]) -> tuple[str, str]:
    """The keys of a point's float runs: they depend only on these fields, so points
    that share them share the runs (and make one batch)."""
    return (point_id({k: s[k] for k in ("task", "hidden", "activation", "approx", "steps",
                                        "seed", "base")}),
            point_id({k: s[k] for k in ("task", "hidden", "activation", "steps", "seed",
                                        "grad_steps", "base")}))


def _submit_all(client, runnable: list[Point], done: dict, log: Path, progress) -> int:
    from distributed import as_completed
    fl_fut, gr_fut = {}, {}
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in runnable:
        fkey, gkey = _float_keys(p.spec)
        if fkey not in fl_fut:
            fl_fut[fkey] = client.submit(float_learning, p.spec, key=f"float-learning-{fkey}")
        if gkey not in gr_fut:
            gr_fut[gkey] = client.submit(float_gradients, p.spec, key=f"float-gradients-{gkey}")
        groups.setdefault((fkey, gkey), []).append(p)
    futs = {}
    for (fkey, gkey), pts in groups.items():
        for b in range(0, len(pts), BATCH):
            chunk = pts[b:b + BATCH]
            f = client.submit(evaluate_batch, [p.spec for p in chunk], fl_fut[fkey],
                              gr_fut[gkey], key=f"batch-{chunk[0].id}-{len(chunk)}", pure=False)
            futs[f] = chunk
    n = 0
    for f in as_completed(list(futs)):
        chunk = futs[f]
        if f.status == "finished":
            recs = f.result()
        else:
            try:
                exc = f.exception()
                why = f"{type(exc).__name__}: {exc}"
            except Exception as e:  # noqa: BLE001
                why = f"{type(e).__name__}: {e}"
            recs = [failed_record(p, f"worker: {why}") for p in chunk]
        for p, rec in zip(chunk, recs):
            done[p.id] = rec
            append_record(log, rec)
            n += 1
            if progress:
                progress(1)
        f.release()
    return n
