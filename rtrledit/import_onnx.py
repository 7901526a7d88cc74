"""``rtrledit import``: a trained Elman RNN from an ONNX file to a Config and a checkpoint.

The graph is read by :mod:`rtrledit.model.onnx_import` (one forward tanh ``RNN`` node and a
linear readout, as ``torch.onnx.export(..., dynamo=False)`` writes ``nn.RNN`` + ``nn.Linear``).
The float model is then profiled online on the task from the imported parameters, number
formats are proposed for the bit budget (:mod:`rtrledit.model.profile`, as ``rtrledit
profile`` does) and checked with the rule for a trained start: the integer model and the
float model both learn online from the imported parameters, and the integer model's final
error (mean over the last 10 % of the steps) must be at most ``1 + tolerance`` times the
float model's final error and at most ``1 + tolerance`` times its own error over the first
10 % (it does not diverge), each bound plus LSB²/12 of the output format Y (the
mean squared error of rounding to it).

Only when the check passes (or with ``--force``) are the Config (``-o``, TOML or JSON) and
the checkpoint (``--checkpoint``, .npz: the Config and the imported float Θ, V, c) written,
each atomically; every error is found before either is written.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rtrledit.model import Config
from rtrledit.model.config import APPROXIMATIONS
from rtrledit.model.checkpoint import Checkpoint, save_checkpoint
from rtrledit.model.onnx_import import load_onnx
from rtrledit.model.tasks import get_task
from rtrledit.profile import (add_proposal_arguments, check_proposal_arguments, print_report,
                              run_profile)

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL.onnx",
                   help="an ONNX file: one forward tanh RNN node and a linear readout")
    add_proposal_arguments(p)
    p.add_argument("--approx", choices=APPROXIMATIONS, default="exact",
                   help="exact RTRL or SnAp-1 for the online learning (default exact)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task")
    p.add_argument("--checkpoint", type=Path, metavar="NPZ",
                   help="write the imported parameters here (for train/simulate/run --init), "
                        "if the proposal learns")


def _check_outputs(args: argparse.Namespace) -> None:
    """ValueError unless every file to write has a valid name in a writable folder."""
    check_proposal_arguments(args)
    if args.checkpoint is not None and args.checkpoint.suffix != ".npz":
        raise ValueError(f"--checkpoint {args.checkpoint}: use a .npz file name")
    for opt, path in (("-o", args.out), ("--checkpoint", args.checkpoint), ("--plot", args.plot)):
        if path is None:
            continue
        folder = path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"{opt} {path}: the folder {str(folder)!r} does not exist or is "
                             "not writable")
    if args.out is not None and args.out == args.checkpoint:
        raise ValueError(f"-o and --checkpoint are the same file ({args.out})")


def main(args: argparse.Namespace) -> int:
    _check_outputs(args)
    imp = load_onnx(args.model)
    n, m, p = imp.sizes
    task = get_task(args.task, steps=args.steps, seed=args.seed)
    if (task.inputs, task.outputs) != (m, p):
        raise ValueError(f"{args.model}: the network has {m} input{'s' * (m != 1)} and {p} "
                         f"output{'s' * (p != 1)}, the task {task.name!r} {task.inputs} and "
                         f"{task.outputs}")
    cfg = Config(hidden=n, inputs=m, outputs=p, activation="tanh", approx=args.approx)
    params = (imp.theta, imp.V, imp.c)
    prof, prop, check = run_profile(cfg, task, args, params=params)
    wrote = {}
    if check["learns"] or args.force:
        if args.out:
            prop.cfg.save(args.out)
            wrote["config"] = str(args.out)
        if args.checkpoint:
            save_checkpoint(args.checkpoint, Checkpoint(
                prop.cfg, {"float": {"theta": imp.theta, "V": imp.V, "c": imp.c}}))
            wrote["checkpoint"] = str(args.checkpoint)
    if args.json:
        print(json.dumps({"model": str(args.model), "hidden": n, "inputs": m, "outputs": p,
                          "task": task.name, "steps": task.steps, "profile": prof.to_dict(),
                          "proposal": prop.to_dict(), "check": check, "wrote": wrote}))
    else:
        print(f"imported {args.model}: n = {n} hidden units (tanh), m = {m} input{'s' * (m != 1)}, "
              f"p = {p} output{'s' * (p != 1)}")
        print_report(prof, prop, check, args)
        for what, path in wrote.items():
            print(f"wrote the {what} {path}")
        if wrote:
            print(f"next: rtrledit build --board BOARD --config {wrote.get('config', 'CONFIG')}, "
                  f"then rtrledit run --port PORT --init {wrote.get('checkpoint', 'NPZ')}")
        elif args.out or args.checkpoint:
            print("wrote nothing: the proposal failed the check (use --force to write it)")
    return 0 if check["learns"] else 1
