"""``rtrledit simulate``: a task through the simulated core and the integer model, compared."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from rtrledit.model import FixedRTRL, init_params, load_checkpoint
from rtrledit.model.tasks import TASKS, get_task
from rtrledit.options import add_config_arguments, add_lanes_argument, config_from_args, target_from_args

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--simulator", choices=("icarus", "verilator", "amaranth"), default="icarus")
    p.add_argument("--task", default="sine",
                   help=f"{' | '.join(TASKS)} | a .csv/.npz file (default sine)")
    p.add_argument("--init", type=Path, metavar="NPZ", help="start from a saved checkpoint")
    add_config_arguments(p, sizes=False)
    add_lanes_argument(p)
    p.add_argument("--steps", type=int, default=200, help="samples (default 200): the first "
                   "90%% learn, the last 10%% run inference only")
    p.add_argument("--no-learn", action="store_true", help="inference only, every step")
    p.add_argument("--seed", type=int, default=0, help="seed of the task and initial weights")
    p.add_argument("--dump", type=Path, metavar="NPZ",
                   help="save the core's outputs and final parameters and state")
    p.add_argument("--waves", action="store_true", help="write a waveform (Icarus: VCD, "
                   "Verilator: FST) in the build folder")
    p.add_argument("--build-dir", type=Path, default=Path("build/sim"), metavar="DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def main(args: argparse.Namespace) -> int:
    from rtrledit.sim.job import Job, Segment
    from rtrledit.sim.runner import simulate

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    task = get_task(args.task, steps=args.steps, seed=args.seed)
    if args.init:
        ckpt = load_checkpoint(args.init)
        cfg = ckpt.cfg if not (args.config or args.hidden) else config_from_args(
            args, task.inputs, task.outputs)
        params = ckpt.fixed_params()
    else:
        cfg = config_from_args(args, task.inputs, task.outputs)
        th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=args.seed)
        params = FixedRTRL.from_float(cfg, th, V, c).params()
    model = FixedRTRL(cfg, **params)                # validates the parameters
    args.lanes = target_from_args(args, cfg, quiet=args.json).lanes
    xs, ds = model.quantise_inputs(task.xs, task.ds)
    T = task.steps
    infer = T if args.no_learn else (T // 10 if T >= 2 else 0)
    segments = [s for s in (Segment(T - infer), Segment(infer, learn=False, track=False))
                if s.steps]
    job = Job(cfg, args.lanes, model.theta, model.V, model.c, xs, ds, segments)
    report = simulate(job, args.simulator, build_root=args.build_dir, waves=args.waves,
                      dump=args.dump)
    out = {"simulator": args.simulator, "task": task.name, "steps": T, "hidden": cfg.n,
           "approx": cfg.approx, "lanes": args.lanes,
           **{k: report[k] for k in ("bitexact", "mismatches", "first_mismatch",
                                     "cycles_per_step", "sim_cycles_per_second",
                                     "saturation")}}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.simulator}: {T} steps of {task.name}, n = {cfg.n}, {cfg.approx}, "
              f"L = {args.lanes}")
        print(f"bit-exact with the integer model: {'yes' if out['bitexact'] else 'NO'}"
              f" ({out['mismatches']} mismatches)")
        for m in report["mismatch_list"][:5]:
            print(f"  {m}")
        for kind, c in out["cycles_per_step"].items():
            print(f"cycles per {kind} step: {c:.0f}")
        print(f"simulation speed: {out['sim_cycles_per_second']:,.0f} cycles/s")
    return 0 if out["bitexact"] else 1
