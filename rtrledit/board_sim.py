"""``rtrledit board-sim``: the virtual board (:mod:`rtrledit.boards.virtual`) on a
pseudo-terminal. It prints the pty's path and runs until Ctrl-C; ``rtrledit run --port
/dev/pts/N`` (or any serial host at the same baud) then talks to it as to a board."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from rtrledit.options import add_config_arguments, config_from_args

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from rtrledit.boards.virtual import DEFAULT_CLOCK_HZ
    add_config_arguments(p)
    p.add_argument("--lanes", type=int, default=1, help="PEs of the core (default 1)")
    p.add_argument("--baud", type=int, help="UART baud rate (default: the fastest the clock "
                   "makes, clock / 4)")
    p.add_argument("--clock", type=float, metavar="MHZ", default=DEFAULT_CLOCK_HZ / 1e6,
                   help=f"core clock (default {DEFAULT_CLOCK_HZ / 1e6:g} MHz, the iCEBreaker's)")
    p.add_argument("--json", action="store_true", help="print the pty and settings as one "
                   "JSON line instead of a sentence")


def _config(args: argparse.Namespace):
    """The Config of --config/--hidden/...; n defaults to ``rtrledit run``'s."""
    from rtrledit.run import DEFAULT_HIDDEN
    if args.hidden is None and not args.config:
        args.hidden = DEFAULT_HIDDEN
    return config_from_args(args)


def main(args: argparse.Namespace) -> int:
    from rtrledit.boards.virtual import VirtualBoard, fastest_baud
    cfg = _config(args)
    if args.lanes < 1:
        raise ValueError(f"--lanes must be >= 1, got {args.lanes}")
    if args.clock <= 0:
        raise ValueError(f"--clock must be > 0 MHz, got {args.clock:g}")
    clock_hz = args.clock * 1e6
    baud = args.baud or fastest_baud(clock_hz)
    with VirtualBoard(cfg, args.lanes, clock_hz, baud,
                      announce=lambda msg: print(msg, file=sys.stderr)) as vb:
        # Ctrl-C (SIGINT) or SIGTERM: this command stops the board (in a session of its
        # own), then exits with status 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: vb.stop())
        info = {"port": vb.port, "baud": baud, "clock_mhz": args.clock, "hidden": cfg.n,
                "inputs": cfg.m, "outputs": cfg.p, "approx": cfg.approx, "lanes": args.lanes}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            same = " ".join(f"--{k} {getattr(args, k)}" for k in
                            ("config", "hidden", "approx", "activation") if getattr(args, k))
            print(f"virtual board on {vb.port}: n = {cfg.n}, m = {cfg.m}, p = {cfg.p}, "
                  f"{cfg.approx}, {args.lanes} lane(s), {args.clock:g} MHz, {baud} baud "
                  f"(Ctrl-C stops it)\n  rtrledit run --port {vb.port} --baud {baud} {same}",
                  flush=True)
        rc = vb.wait()
    if rc:
        print(f"rtrledit board-sim: error: the virtual board stopped (status {rc})",
              file=sys.stderr)
        return 1
    return 0
