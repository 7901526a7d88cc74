"""``rtrledit profile``: profile the float model, propose formats, check they learn, save."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtrledit.model.profile import check_config, plot_profile, profile, propose_config
from rtrledit.model.tasks import TASKS, get_task

__all__ = ["add_arguments", "main", "add_proposal_arguments", "check_proposal_arguments",
           "run_profile", "print_report"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_proposal_arguments(p)
    p.add_argument("--hidden", type=int, help="hidden units n (default 16, or the config's)")
    p.add_argument("--approx", choices=("exact", "snap1"), help="exact RTRL or SnAp-1")
    p.add_argument("--config", type=Path, help="the Config to profile and start from (.toml/.json)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task and the initial weights")


def add_proposal_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a profile, its proposal and its check (``profile`` and ``import``)."""
    p.add_argument("--task", default="sine",
                   help=f"{' | '.join(TASKS)} | a .csv/.npz file (default sine)")
    p.add_argument("--steps", type=int, help="time steps (default 5000)")
    p.add_argument("--budget", type=int, default=16, metavar="BITS",
                   help="total width of every proposed format (default 16)")
    p.add_argument("--margin", type=int, default=1, metavar="BITS",
                   help="integer bits above the largest observed magnitude (default 1)")
    p.add_argument("--tolerance", type=float, default=0.5,
                   help="the check passes if the proposal's final error is at most (1 + this) "
                        "times the float model's (default 0.5)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write the profile plot here")
    p.add_argument("-o", "--out", type=Path, metavar="CONFIG",
                   help="write the proposed Config here (.toml or .json), if it learns")
    p.add_argument("--force", action="store_true", help="write the proposal even if the check fails")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")


def check_proposal_arguments(args: argparse.Namespace) -> None:
    """ValueError for --steps, --budget or -o that cannot work (before any long run)."""
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if not 2 <= args.budget <= 32:
        raise ValueError(f"--budget must be in 2..32, got {args.budget}")
    if args.out is not None and args.out.suffix not in (".toml", ".json"):
        raise ValueError(f"-o {args.out}: use a .toml or .json file name")


def run_profile(cfg, task, args: argparse.Namespace, params=None):
    """Profile ``cfg`` on ``task`` (from ``params``, or the seeded initial weights), propose
    formats for the --budget and --margin, check them (``trained``: the rule for a trained
    start) and write --plot: returns (profile, proposal, check)."""
    from rtrledit.train import Progress
    bar = Progress(2 * task.steps, disable=args.json, desc=f"profile {task.name}")
    try:
        prof = profile(cfg, task, seed=args.seed, params=params, progress=bar.update)
    finally:
        bar.close()
    prop = propose_config(prof, budget=args.budget, margin=args.margin)
    check = check_config(prop.cfg, task, seed=args.seed, params=params,
                         tolerance=args.tolerance, trained=params is not None)
    if args.plot:
        plot_profile(prof, args.plot, proposed=prop.cfg)
    return prof, prop, check


def main(args: argparse.Namespace) -> int:
    from rtrledit.options import config_from_args
    check_proposal_arguments(args)
    task = get_task(args.task, steps=args.steps, seed=args.seed)
    cfg = config_from_args(args, task.inputs, task.outputs)
    prof, prop, check = run_profile(cfg, task, args)
    wrote = None
    if args.out and (check["learns"] or args.force):
        prop.cfg.save(args.out)
        wrote = str(args.out)
    if args.json:
        print(json.dumps({"task": task.name, "steps": task.steps, "profile": prof.to_dict(),
                          "proposal": prop.to_dict(), "check": check, "wrote": wrote}))
    else:
        print_report(prof, prop, check, args)
        if wrote:
            print(f"wrote {wrote} (use it with: rtrledit train --config {wrote})")
        elif args.out:
            print(f"did not write {args.out}: the proposal failed the check "
                  "(use --force to write it)")
    return 0 if check["learns"] else 1


def print_report(prof, prop, check, args: argparse.Namespace) -> None:
    """The profile table, the proposal's reasons and the check's verdict, on stdout."""
    cfg = prof.cfg
    print(f"profile of {prof.task}: {prof.steps} steps, n = {cfg.n}, {cfg.approx} RTRL, "
          f"{cfg.activation}")
    print(f"{'quantity':<9}{'min':>11}{'max':>11}{'|p50|':>11}{'|p99|':>11}  format   sat")
    from rtrledit.model.profile import quantity_format
    sat_of = {"x": "x", "a": "a", "h": "h", "dphi": "dphi", "y": "y", "e": "e", "chat": "chat",
              "S": "s", "theta": "theta", "V": "v", "c": "v"}
    for k, st in prof.stats.items():
        d = st.to_dict()
        sat = prof.saturation.get(sat_of.get(k, ""), "")
        print(f"{k:<9}{d['min']:>11.3g}{d['max']:>11.3g}{d['abs_p50']:>11.3g}{d['abs_p99']:>11.3g}"
              f"  {str(quantity_format(cfg, k)):<9}{sat}")
    print(f"\nproposal for a {args.budget}-bit budget, margin {args.margin}:")
    for r in prop.reasons:
        print("  " + r)
    verdict = "learns" if check["learns"] else "does NOT learn"
    print(f"\ncheck on {prof.task}: the proposal {verdict}: final MSE {check['mse_last_fixed']:.4g} "
          f"(first 10%: {check['mse_first_fixed']:.4g}), float model {check['mse_last_float']:.4g}, "
          f"ratio {check['ratio_to_float']:.3f}; rule: {check['rule']}")
