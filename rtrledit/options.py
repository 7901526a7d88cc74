"""Command-line options shared by the sub-commands: which Config to use, and the
:class:`~rtrledit.boards.target.Target` (board, lanes, clock) it is built for."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtrledit.boards.target import BOARDS, Target
from rtrledit.model import Config
from rtrledit.model.config import ACTIVATIONS, APPROXIMATIONS

__all__ = ["add_config_arguments", "config_from_args", "add_lanes_argument", "target_from_args"]


def add_config_arguments(p: argparse.ArgumentParser, sizes: bool = True) -> None:
    """--config FILE, and --hidden/--approx/--activation (and, with ``sizes``,
    --inputs/--outputs) to override it or to build a Config without a file."""
    p.add_argument("--config", type=Path, help="a Config file (.toml or .json)")
    p.add_argument("--hidden", type=int, help="hidden units n (default 16, or the config's)")
    if sizes:
        p.add_argument("--inputs", type=int, help="inputs m (default 1, or the config's)")
        p.add_argument("--outputs", type=int, help="outputs p (default 1, or the config's)")
    p.add_argument("--approx", choices=APPROXIMATIONS, help="exact RTRL or SnAp-1")
    p.add_argument("--activation", choices=ACTIVATIONS, help="hardtanh or tanh")


def config_from_args(args: argparse.Namespace, inputs: int | None = None,
                     outputs: int | None = None) -> Config:
    """The Config from --config (or the defaults) with the command-line overrides applied.

    ``inputs``/``outputs``, when given (a task's sizes), fill in the sizes and must agree
    with the config's.
    """
    over = {k: getattr(args, k, None) for k in ("hidden", "inputs", "outputs", "approx",
                                                  "activation")}
    over = {k: v for k, v in over.items() if v is not None}
    if args.config:
        cfg = Config.load(args.config)
    else:
        cfg = Config(hidden=over.get("hidden", 16), inputs=over.get("inputs", inputs or 1),
                     outputs=over.get("outputs", outputs or 1))
    cfg = cfg.replace(**over) if over else cfg
    for name, want in (("inputs", inputs), ("outputs", outputs)):
        if want is not None and getattr(cfg, name) != want:
            raise ValueError(f"the config has {getattr(cfg, name)} {name}, the task {want}")
    return cfg


def _lanes(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of lanes or 'auto', got {text!r}") from None


def add_lanes_argument(p: argparse.ArgumentParser, board_option: bool = True) -> None:
    """--lanes L|auto (and, with ``board_option``, the --board that 'auto' fits to)."""
    p.add_argument("--lanes", type=_lanes, default=1, metavar="L|auto",
                   help="lanes of the sweep engine (default 1); auto: the most that the "
                        "estimate says fit the board (synthesises the design)")
    if board_option:
        p.add_argument("--board", choices=list(BOARDS), help="the board --lanes auto fits to")


#: the command-line option of each Target field that the options below set
_OPTION = {"board": "--board", "lanes": "--lanes", "clock_mhz": "--freq", "baud": "--baud"}


def target_from_args(args: argparse.Namespace, cfg: Config, quiet: bool = False) -> Target:
    """The Target of --board, --lanes and (where the command has them) --freq and --baud.
    --lanes auto becomes the most lanes that fit --board, printed with the reason (on
    stderr with ``quiet``, so that --json output stays one object)."""
    if args.lanes != "auto" and args.lanes < 1:
        raise ValueError(f"--lanes must be >= 1 or auto, got {args.lanes}")
    extra = {"clock_mhz": getattr(args, "freq", None)}
    if getattr(args, "baud", None) is not None:
        extra["baud"] = args.baud
    try:
        target = Target(board=getattr(args, "board", None),
                        lanes=1 if args.lanes == "auto" else args.lanes, **extra)
    except ValueError as e:               # name the option, not the Target field
        field = str(e).split("'")[1] if str(e).startswith("Target '") else None
        if field not in _OPTION:
            raise
        raise ValueError(str(e).replace(f"Target '{field}'", _OPTION[field], 1)) from None
    if args.lanes != "auto":
        return target
    if target.board is None:
        raise ValueError("--lanes auto needs --board (the board whose resources it fills)")
    import sys

    from rtrledit.boards.lanes import auto_lanes
    choice = auto_lanes(cfg, target)
    print(f"--lanes auto for {target.board}: {choice.reason}", file=sys.stderr if quiet else sys.stdout)
    return target.replace(lanes=choice.lanes)
