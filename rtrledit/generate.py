"""``rtrledit generate``: the core's Verilog, register map and Config, lint-checked."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from rtrledit.options import add_config_arguments, add_lanes_argument, config_from_args, target_from_args

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    add_lanes_argument(p)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder (created; files in it are replaced)")
    p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint pass")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def main(args: argparse.Namespace) -> int:
    from rtrledit.sim.runner import generate, lint

    cfg = config_from_args(args)
    args.lanes = target_from_args(args, cfg, quiet=args.json).lanes
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".generate-") as tmp:
        files = generate(cfg, args.lanes, tmp)        # refuses a bad config or lanes
        messages = "" if args.no_lint else lint(files["verilog"])
        placed = {}
        for key, path in files.items():
            dest = out / path.name
            shutil.move(path, dest.with_suffix(dest.suffix + ".new"))
            os.replace(dest.with_suffix(dest.suffix + ".new"), dest)
            placed[key] = str(dest)
    result = {"files": placed, "lint": "skipped" if args.no_lint else
              ("clean" if not messages else "warnings"), "hidden": cfg.n, "inputs": cfg.m,
              "outputs": cfg.p, "approx": cfg.approx, "lanes": args.lanes}
    if args.json:
        print(json.dumps(result))
    else:
        for path in placed.values():
            print(f"wrote {path}")
        print(f"verilator lint: {result['lint']}")
    if messages:
        print(messages)
        return 1
    return 0
