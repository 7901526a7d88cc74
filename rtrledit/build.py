"""``rtrledit build``: a bitstream for a board, and the report read from the toolchain."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtrledit.boards.target import BOARDS, TARGET_FILE, Target
from rtrledit.boards.targets import check_fit, cycles_per_step
from rtrledit.model import Config
from rtrledit.model.config import ACTIVATIONS, APPROXIMATIONS
from rtrledit.options import add_lanes_argument, target_from_args

__all__ = ["add_arguments", "main", "config_from_args", "format_report"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, choices=list(BOARDS), help="target board")
    p.add_argument("--config", type=Path, help="a Config file (.toml or .json)")
    p.add_argument("--hidden", type=int, help="hidden units n (default 4, or the config's)")
    p.add_argument("--inputs", type=int, help="inputs m (default 4, or the config's)")
    p.add_argument("--outputs", type=int, help="outputs p (default 1, or the config's)")
    p.add_argument("--approx", choices=APPROXIMATIONS, help="exact RTRL or SnAp-1")
    p.add_argument("--activation", choices=ACTIVATIONS, help="hardtanh or tanh")
    add_lanes_argument(p, board_option=False)
    p.add_argument("--freq", type=float, metavar="MHZ",
                   help="core clock (default: the board's: 6 MHz iCEBreaker = 12 MHz / 2, 20 MHz ULX3S via the PLL)")
    p.add_argument("--baud", type=int, default=Target.baud, help=f"UART baud rate (default {Target.baud})")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    p.add_argument("-o", "--out", type=Path, metavar="DIR",
                   help="build directory (default build/<board>)")
    p.add_argument("--estimate", action="store_true",
                   help="only check the resource estimate (no synthesis)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")


def config_from_args(args: argparse.Namespace) -> Config:
    """--config (if given) with --hidden/--inputs/--outputs/--approx/--activation on top."""
    base = Config.load(args.config) if args.config else Config(hidden=4, inputs=4, outputs=1)
    over = {k: v for k, v in (("hidden", args.hidden), ("inputs", args.inputs),
                              ("outputs", args.outputs), ("approx", args.approx),
                              ("activation", args.activation)) if v is not None}
    return base.replace(**over) if over else base


def format_report(r: dict) -> str:
    met = "met" if r["timing_met"] else "MISSED"
    lines = [
        f"{r['board']} ({r['device']}): n={r['hidden']} m={r['inputs']} p={r['outputs']} "
        f"{r['approx']} {r['activation']}, L={r['lanes']}",
        f"  bitstream   {r['bitstream']}",
        f"  clock       target {r['target_mhz']:.3f} MHz, Fmax {r['fmax_mhz']:.2f} MHz ({met})",
    ]
    if r["family"] == "ice40":
        lines.append(f"  logic       {r['lcs']}/{r['lcs_available']} LCs ({r['luts']} LUT4, "
                     f"{r['ffs']} FF)")
        lines.append(f"  DSP         {r['dsps']}/{r['dsps_available']} SB_MAC16")
        lines.append(f"  RAM         {r['bram']}/{r['bram_available']} EBR, "
                     f"{r['spram']}/{r['spram_available']} SPRAM")
    else:
        lines.append(f"  logic       {r['luts']}/{r['luts_available']} LUT4, {r['ffs']} FF")
        lines.append(f"  DSP         {r['dsps']}/{r['dsps_available']} MULT18X18D")
        lines.append(f"  RAM         {r['bram']}/{r['bram_available']} DP16KD")
    lines.append(f"  speed       {r['cycles_per_step']} cycles/step -> "
                 f"{r['learning_steps_per_s']:,.0f} learning steps/s at {r['target_mhz']:.3f} MHz")
    folder = Path(r["bitstream"]).parent
    lines.append(f"  UART        {r['uart_baud']} baud; report {folder / 'report.json'}, "
                 f"target {folder / TARGET_FILE}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from rtrledit.boards.build import BuildError, build
    cfg = config_from_args(args)
    target = target_from_args(args, cfg, quiet=args.json)
    brd = target.device
    if args.estimate:
        est = check_fit(cfg, target)
        out = {"board": brd.name, "fits": True, "lanes": target.lanes, **est.to_dict(),
               "dsp_available": brd.resources["dsp"], "bram_available": brd.resources["bram"],
               "cycles_per_step": cycles_per_step(cfg, target), "target": target.to_dict()}
        print(json.dumps(out) if args.json else
              f"{brd.name}: estimate fits ({est.dsp}/{brd.resources['dsp']} multipliers, "
              f"{est.bram_min}..{est.bram}/{brd.resources['bram']} block RAMs)")
        return 0
    out_dir = args.out or Path("build") / brd.name
    try:
        rep = build(cfg, target, out_dir, seed=args.seed)
    except BuildError as e:
        if e.report is not None:
            print(json.dumps(e.report) if args.json else format_report(e.report))
        raise
    print(json.dumps(rep) if args.json else format_report(rep))
    sys.stdout.flush()
    return 0
