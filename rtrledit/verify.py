"""``rtrledit verify``: random configs on the simulated core, each checked word for word
against the integer model.

Config i of a run is the job :func:`~rtrledit.sim.random_jobs.random_job` draws for seed
S + i with T steps (sizes, lanes, formats, rounding modes, both activations, both
approximations, mode segments, resets, learning-rate changes, stalls), one in four with S
and G in single-port RAMs (:func:`~rtrledit.sim.random_jobs.random_spram`). Verilator runs it
on the native harness (:mod:`rtrledit.sim.native`), Icarus through cocotb
(:mod:`rtrledit.sim.runner`); the scoreboard checks every result and the final state.

Each finished config is appended to ``DIR/results.jsonl`` with the log functions of
:mod:`rtrledit.model.explore` (the log of ``rtrledit sweep``: a torn last line is cut), so
a rerun skips the configs that passed; the table is written to ``DIR/verify.csv`` and
printed. ``--scheduler`` (or ``--workers`` K > 1) spreads the configs over a Dask cluster
with :func:`~rtrledit.model.explore.connect`, as ``sweep`` does. The first config that
does not pass stops the run: its config, seed, first differing step, quantity and index
and a command that replays it alone with waveforms (``--replay SEED --waves DIR``) are
printed, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import resource
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rtrledit.model.checkpoint import atomic_write
from rtrledit.model.explore import RESULTS_LOG, append_record, load_results, repair_log
from rtrledit.sim.job import Job
from rtrledit.sim.random_jobs import (ALL_FEATURES, MAX_HIDDEN, MIN_STEPS, features,
                                      random_job, random_spram, stall_kind)

__all__ = ["add_arguments", "main", "Case", "run_case", "run_cases", "TABLE", "COLUMNS"]

SIMULATORS = ("verilator", "icarus")
TABLE = "verify.csv"
#: the table's columns (a record's keys; build_seconds: drawing the job, generating the
#: Verilog and building, run_seconds: simulation and scoreboard, cpu_seconds: the CPU
#: time of both, with the tools', which on a shared machine says more than wall time)
COLUMNS = ("seed", "simulator", "status", "hidden", "inputs", "outputs", "activation",
           "approx", "lanes", "spram", "stalls", "steps", "learn_steps", "cycles", "build_seconds",
           "run_seconds", "cpu_seconds", "steps_per_second", "mismatches", "first_mismatch")


@dataclasses.dataclass(frozen=True)
class Case:
    """One config of a run on one simulator: the job of ``seed`` with ``steps`` steps and
    the design caps."""

    seed: int
    simulator: str
    steps: int
    max_hidden: int = MAX_HIDDEN
    max_lanes: int | None = None

    @property
    def id(self) -> str:
        return (f"{self.simulator}-seed{self.seed}-steps{self.steps}-hidden{self.max_hidden}"
                f"-lanes{self.max_lanes or 'any'}")

    def job(self, until: int | None = None) -> Job:
        """The job (only its first ``until`` steps, the segments cut there, when given)."""
        job = random_job(self.seed, steps=self.steps, max_hidden=self.max_hidden,
                         max_lanes=self.max_lanes)
        if random_spram(self.seed):
            job.spram = True
        if until is None:
            return job
        segments, left = [], until
        for seg in job.segments:
            if left > 0:
                segments.append(dataclasses.replace(seg, steps=min(seg.steps, left)))
                left -= seg.steps
        return dataclasses.replace(job, xs=job.xs[:until], ds=job.ds[:until], segments=segments)

    def replay_command(self, waves: Path, until: int | None = None) -> str:
        """The command line that runs this case alone, with waveforms written under ``waves``."""
        argv = ["rtrledit", "verify", "--replay", str(self.seed), "--steps", str(self.steps),
                "--simulator", self.simulator]
        if self.max_hidden != MAX_HIDDEN:
            argv += ["--max-hidden", str(self.max_hidden)]
        if self.max_lanes:
            argv += ["--max-lanes", str(self.max_lanes)]
        if until:
            argv += ["--until", str(until)]
        return shlex.join(argv + ["--waves", str(waves)])


def _describe(job: Job) -> dict:
    cfg = job.cfg
    return {"hidden": cfg.n, "inputs": cfg.m, "outputs": cfg.p, "activation": cfg.activation,
            "approx": cfg.approx, "lanes": job.lanes, "spram": job.spram,
            "stalls": stall_kind(job.stalls),
            "learn_steps": sum(s.steps for s in job.segments if s.learn),
            "features": sorted(features(job)), "config": cfg.to_dict(),
            "stall_pattern": dataclasses.asdict(job.stalls),
            "segments": [dataclasses.asdict(s) for s in job.segments]}


def _cpu_seconds() -> float:
    """CPU time of this process and of the child processes it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_case(case: Case, build_root: str | Path, until: int | None = None,
             waves: bool = False, optimise: bool = True) -> dict:
    """Run one case and return its record (never raises: an error is a ``failed`` record).
    Verilator runs on the native harness; with ``waves`` through cocotb, which writes a
    waveform file under ``build_root``. ``optimise=False``: Verilator builds without
    optimisation (quicker builds, slower runs)."""
    from rtrledit.sim.native import simulate_native
    from rtrledit.sim.runner import simulate

    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    rec: dict = {"id": case.id, **dataclasses.asdict(case)}
    try:
        job = case.job(until)
        rec.update(_describe(job), steps=len(job.xs))
        if case.simulator == "verilator" and not waves:
            report = simulate_native(job, build_root, optimise=optimise)
        else:
            report = simulate(job, case.simulator, build_root=build_root, waves=waves,
                              optimise=optimise)
    except Exception as e:  # noqa: BLE001 - recorded; the run stops on it
        rec.update(status="failed", error=f"{type(e).__name__}: {e}", mismatches=None,
                   first_mismatch=None, seconds=time.perf_counter() - t0)
        return rec
    seconds = time.perf_counter() - t0
    run = report["wall_seconds"]
    rec.update(status="ok" if report["bitexact"] else "mismatch", error="",
               mismatches=report["mismatches"], first_mismatch=report["first_mismatch"],
               mismatch_list=report["mismatch_list"][:5], cycles=report["sim_cycles"],
               seconds=seconds, build_seconds=seconds - run, run_seconds=run,
               cpu_seconds=_cpu_seconds() - cpu0,
               steps_per_second=len(job.xs) / run if run else 0.0)
    return rec


def _results(todo: list[Case], build_root: str, client, optimise: bool) -> Iterator[dict]:
    """The records of ``todo`` as they finish: one after another here, or on ``client``'s
    workers (what is left is cancelled when the caller stops early)."""
    if client is None:
        for case in todo:
            yield run_case(case, build_root, optimise=optimise)
        return
    from distributed import as_completed
    futures = {client.submit(run_case, c, build_root, optimise=optimise, key=f"verify-{c.id}",
                             pure=False): c for c in todo}
    try:
        for f in as_completed(list(futures)):
            if f.status == "finished":
                yield f.result()
            else:                                   # the worker died or was lost
                case = futures[f]
                yield {"id": case.id, **dataclasses.asdict(case), "status": "failed",
                       "error": f"worker: {f.exception()!r}", "first_mismatch": None}
    finally:
        client.cancel(list(futures))


def run_cases(cases: list[Case], out_dir: Path, build_root: str | Path, client=None,
              progress: Callable[[int], None] | None = None,
              optimise: bool = True) -> tuple[list[dict], int]:
    """Run the cases not yet passed in ``out_dir``'s log (on ``client``'s Dask workers when
    given), stopping at the first that does not pass; write the table. Returns the records
    (in case order, those that ran or were reused) and how many were reused."""
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / RESULTS_LOG
    repair_log(log)
    done = load_results(out_dir)
    todo = [c for c in cases if done.get(c.id, {}).get("status") != "ok"]
    reused = len(cases) - len(todo)
    if progress:
        progress(sum(c.steps for c in cases if c not in todo))
    for rec in _results(todo, str(Path(build_root).resolve()), client, optimise):
        done[rec["id"]] = rec
        append_record(log, rec)
        if progress:
            progress(rec["steps"])
        if rec["status"] != "ok":
            break
    records = [done[c.id] for c in cases if c.id in done]
    _write_table(records, out_dir / TABLE)
    return records, reused


def _cell(rec: dict, key: str) -> str:
    v = rec.get(key)
    if v is None:
        return ""
    if key == "first_mismatch":
        where = "final state" if v["step"] is None else f"step {v['step']}"
        return f"{where}: {v['quantity']}{v['index']}"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def _write_table(records: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    w.writerows([_cell(r, k) for k in COLUMNS] for r in records)
    atomic_write(path, lambda fh: fh.write(buf.getvalue().encode()))


def _print_table(records: list[dict]) -> None:
    rows = [COLUMNS] + [tuple(_cell(r, k) for k in COLUMNS) for r in records]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--configs", type=int, default=10, metavar="N",
                   help="random configs (default 10)")
    p.add_argument("--steps", type=int, default=1000, metavar="T",
                   help=f"steps of each config's job (default 1000, at least {MIN_STEPS})")
    p.add_argument("--simulator", choices=(*SIMULATORS, "both"), default="verilator",
                   help="verilator: the native harness; icarus: cocotb on Icarus; both")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="config i uses seed S + i")
    p.add_argument("--max-hidden", type=int, default=MAX_HIDDEN, metavar="N",
                   help=f"largest hidden size drawn (default {MAX_HIDDEN})")
    p.add_argument("--max-lanes", type=int, metavar="L",
                   help="most lanes drawn (default: up to n·q; builds grow with the lanes)")
    p.add_argument("-o", "--out", type=Path, default=Path("verify"), metavar="DIR",
                   help="output folder (default ./verify); configs that passed in it are "
                        "not run again")
    p.add_argument("--build-dir", type=Path, default=Path("build/sim"), metavar="DIR",
                   help="simulator builds, cached per design (default build/sim)")
    p.add_argument("--no-optimise", dest="optimise", action="store_false",
                   help="Verilator builds without optimisation: under half the build time, "
                        "slower runs (for short runs)")
    p.add_argument("--scheduler", metavar="ADDR", help="a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for --scheduler to answer (default 10)")
    p.add_argument("--workers", type=int, default=1, metavar="K",
                   help="without --scheduler: K > 1 runs configs on a local Dask cluster of "
                        "K processes (default 1: one after another in this process)")
    p.add_argument("--replay", type=int, metavar="SEED",
                   help="run only the config of SEED (with the same --steps and caps)")
    p.add_argument("--until", type=int, metavar="STEP",
                   help="with --replay: only the first STEP steps")
    p.add_argument("--waves", type=Path, metavar="DIR",
                   help="with --replay: build there and write waveforms (through cocotb, "
                        "on Verilator too)")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")


def _check(args: argparse.Namespace) -> None:
    for name, low in (("configs", 1), ("steps", MIN_STEPS), ("seed", 0), ("max_hidden", 1),
                      ("max_lanes", 1), ("workers", 1), ("replay", 0), ("until", 1)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {v}")
    if args.replay is None and (args.until is not None or args.waves is not None):
        raise ValueError("--until and --waves go with --replay SEED")
    if args.until is not None and args.until > args.steps:
        raise ValueError(f"--until {args.until} is past the job's {args.steps} steps")


def _failure(rec: dict, out: Path) -> list[str]:
    m = rec.get("first_mismatch")
    lines = [f"verify: {rec['status'].upper()} on {rec['simulator']}, seed {rec['seed']}"
             f" ({rec['steps']} steps)"]
    if rec.get("error"):
        lines.append(f"  error: {rec['error']}")
    if m:
        where = "final state" if m["step"] is None else f"step {m['step']}"
        lines.append(f"  first difference: {where}, {m['quantity']} index {m['index']}: "
                     f"expected {m['expected']}, got {m['got']}")
        lines += [f"    {s}" for s in rec.get("mismatch_list", [])[1:5]]
    if "config" in rec:
        lines += [f"  config: {json.dumps(rec['config'])}",
                  f"  lanes {rec['lanes']}; {rec['stalls']}: {json.dumps(rec['stall_pattern'])}",
                  f"  segments: {json.dumps(rec['segments'])}"]
    return lines + [f"  replay: {_replay_of(rec, out)}"]


def _replay_of(rec: dict, out: Path) -> str:
    """The command that replays the case of ``rec`` with waveforms (up to its first
    differing step), into ``out/replay-SEED``."""
    m = rec.get("first_mismatch")
    until = m["step"] + 1 if m and m["step"] is not None else None
    case = Case(rec["seed"], rec["simulator"], rec["steps"], rec["max_hidden"], rec["max_lanes"])
    return case.replay_command(out / f"replay-{rec['seed']}", until)


def _summary(records: list[dict], configs: int, reused: int, out: Path, seconds: float) -> dict:
    sims = {}
    for sim in SIMULATORS:
        rs = [r for r in records if r["simulator"] == sim and r["status"] == "ok"]
        if rs:
            sims[sim] = {"passed": len(rs), "steps": sum(r["steps"] for r in rs),
                         "learn_steps": sum(r["learn_steps"] for r in rs),
                         "cycles": sum(r["cycles"] for r in rs),
                         "seconds": round(sum(r["seconds"] for r in rs), 1),
                         "cpu_seconds": round(sum(r["cpu_seconds"] for r in rs), 1)}
    bad = next((r for r in records if r["status"] != "ok"), None)
    covered = set().union(*(r["features"] for r in records if "features" in r))
    return {"out": str(out), "table": str(out / TABLE), "configs": configs,
            "reused": reused, "passed": sum(r["status"] == "ok" for r in records),
            "simulators": sims, "seconds": round(seconds, 1),
            "classes_not_covered": sorted(ALL_FEATURES - covered),
            "failure": bad and {k: bad.get(k) for k in (
                "id", "seed", "simulator", "status", "error", "first_mismatch", "config")},
            "replay": bad and _replay_of(bad, out)}


def _replay(args: argparse.Namespace, sims: tuple[str, ...]) -> int:
    status = 0
    for sim in sims:
        case = Case(args.replay, sim, args.steps, args.max_hidden, args.max_lanes)
        root = args.waves or args.build_dir
        t0 = time.time()
        rec = run_case(case, root, args.until, args.waves is not None, args.optimise)
        rec["waves"] = [str(p) for p in sorted(Path(root).rglob("*"))
                        if p.suffix in (".fst", ".vcd") and p.stat().st_mtime >= t0]
        if args.json:
            print(json.dumps(rec))
        else:
            print(f"replay of seed {args.replay} on {sim}: {rec['status']}"
                  + "".join(f"\n  waveform: {w}" for w in rec["waves"]))
            if rec["status"] != "ok":
                print("\n".join(_failure(rec, args.out)[1:-1]))
        status |= rec["status"] != "ok"
    return status


#: the tools each simulator needs (checked before any work: a missing one is exit 2)
TOOLS = {"verilator": ("verilator",), "icarus": ("iverilog", "cocotb")}


def main(args: argparse.Namespace) -> int:
    from rtrledit.toolchain import require
    _check(args)
    sims = SIMULATORS if args.simulator == "both" else (args.simulator,)
    for sim in sims:
        for tool in TOOLS[sim] + (("cocotb",) if args.waves else ()):
            require(tool)
    if args.replay is not None:
        return _replay(args, sims)
    from rtrledit.train import Progress
    cases = [Case(args.seed + i, sim, args.steps, args.max_hidden, args.max_lanes)
             for sim in sims for i in range(args.configs)]
    client = None
    if args.scheduler or args.workers > 1:   # a scheduler that does not answer: error, no work
        from rtrledit.model.explore import connect
        client = connect(args.scheduler, args.workers, timeout=args.connect_timeout)
    t0 = time.perf_counter()
    bar = Progress(sum(c.steps for c in cases), disable=args.json, desc="verify")
    try:
        records, reused = run_cases(cases, args.out, args.build_dir, client, bar.update,
                                    args.optimise)
    finally:
        bar.close()
        if client is not None:
            cluster = getattr(client, "_rtrledit_owned_cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    s = _summary(records, len(cases), reused, args.out, time.perf_counter() - t0)
    if args.json:
        print(json.dumps(s))
    else:
        _print_table(records)
        for sim, v in s["simulators"].items():
            print(f"{sim}: {v['passed']} configs bit-exact, {v['steps']:,} steps "
                  f"({v['learn_steps']:,} learning), {v['cycles']:,} cycles, {v['seconds']} s "
                  f"({v['cpu_seconds']} s of CPU)")
        print(f"{s['reused']} of {s['configs']} configs already done in {args.out}; "
              f"wrote {s['table']}")
        if s["failure"]:
            print("\n".join(_failure(next(r for r in records if r["status"] != "ok"),
                                     args.out)))
    return 1 if s["failure"] else 0
