"""``rtrledit sweep``: a bit-width sweep of the integer model, locally or on a Dask cluster."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtrledit.model.explore import (Grid, Spread, check_tasks, load_grid, run_exploration,
                                    seed_spreads, valid_points)
from rtrledit.model.tasks import TASKS

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", nargs="+", metavar="TASK",
                   help=f"task(s): {' | '.join(TASKS)} | .csv/.npz files (default: the grid's, sine)")
    p.add_argument("--hidden", nargs="+", type=int, metavar="N",
                   help="hidden size(s) (default: the grid's, 8)")
    p.add_argument("--steps", type=int, help="time steps per point (default: the grid's, 3000)")
    p.add_argument("--grid", type=Path, metavar="FILE",
                   help="a grid file (.toml or .json; keys: tasks, hidden, activation, approx, r_upd, "
                        "widths, int_bits, steps, seed (one or a list), grad_steps, pes, base)")
    p.add_argument("-o", "--out", type=Path, default=Path("sweep"), metavar="DIR",
                   help="output folder (default ./sweep); points already in it are not recomputed")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="a Dask scheduler, e.g. tcp://host:8786 (default: an embedded local cluster)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for --scheduler to answer (default 10)")
    p.add_argument("--workers", type=int, metavar="K",
                   help="worker processes of the local cluster (default: one per core)")
    p.add_argument("--retry-failed", action="store_true", help="recompute points recorded as failed")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")


def grid_from_args(args: argparse.Namespace) -> Grid:
    grid = load_grid(args.grid)
    d = grid.to_dict()
    if args.task:
        d["tasks"] = list(args.task)
    if args.hidden:
        d["hidden"] = list(args.hidden)
    if args.steps is not None:
        d["steps"] = args.steps
    return Grid.from_dict(d)


def main(args: argparse.Namespace) -> int:
    from rtrledit.train import Progress
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    grid = grid_from_args(args)
    points = valid_points(grid)          # no valid point: error before any work
    check_tasks(grid)                    # unknown task: error before any work
    client = None
    if args.scheduler:                   # a scheduler that does not answer: error, no work
        from rtrledit.model.explore import connect
        client = connect(args.scheduler, timeout=args.connect_timeout)
    bar = Progress(len(points), disable=args.json, desc="sweep (points)")
    try:
        res = run_exploration(grid, args.out, client=client, workers=args.workers,
                        progress=bar.update, retry_failed=args.retry_failed)
    finally:
        bar.close()
        if client is not None:
            client.close()
    summary = {"out": str(args.out), **res.summary(), "best": _best(res.records)}
    if args.json:
        print(json.dumps(summary))
    else:
        _print(summary)
    return 0


def _best(records: list[dict]) -> list[dict]:
    """Per task, hidden size, activation, approximation and rounding: the cheapest point
    (memory of S and Θ) whose median over its seeds is within 10% of the float model's
    final error (:class:`~rtrledit.model.explore.Spread`), with its worst seed."""
    best: dict[tuple, Spread] = {}
    for sp in seed_spreads(records).values():
        if not sp.within():
            continue
        r = sp.recs[0]
        k = (r["task"], r["hidden"], r["activation"], r["approx"], r["r_upd"])
        if k not in best or r["mem_bits"] < best[k].recs[0]["mem_bits"]:
            best[k] = sp
    return [{"task": k[0], "hidden": k[1], "activation": k[2], "approx": k[3], "r_upd": k[4],
             "widths": sp.recs[0]["widths"], "seeds": len(sp.recs), "rel_err": sp.median,
             "rel_err_worst": sp.worst, "mem_bits": sp.recs[0]["mem_bits"]}
            for k, sp in sorted(best.items())]


def _print(s: dict) -> None:
    print(f"sweep: {s['points']} points ({s['computed']} computed, {s['reused']} already done, "
          f"{s['invalid']} invalid, {s['failed']} failed) in {s['seconds']} s")
    if s["best"]:
        print("cheapest points within 10% of the float model's final error "
              "(median over the seeds; the worst seed beside it):")
        print(f"{'task':<14}{'n':>4}  {'act':<9}{'approx':<7}{'r_upd':<12}{'widths':<16}"
              f"{'seeds':>6}{'median':>8}{'worst':>8}{'memory bits':>13}")
        for b in s["best"]:
            w = " ".join(f"{L}={v}" for L, v in b["widths"].items())
            print(f"{b['task']:<14}{b['hidden']:>4}  {b['activation']:<9}{b['approx']:<7}"
                  f"{b['r_upd']:<12}{w:<16}{b['seeds']:>6}{b['rel_err']:>8.3f}"
                  f"{b['rel_err_worst']:>8.3f}{b['mem_bits']:>13,}")
    else:
        print("no point reached within 10% of the float model's final error")
    print("wrote " + ", ".join(s["files"]))
