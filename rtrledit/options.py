"""Command-line options shared by the sub-commands: which Config to use."""

from __future__ import annotations

import argparse
from pathlib import Path

from rtrledit.model import Config
from rtrledit.model.config import ACTIVATIONS, APPROXIMATIONS

__all__ = ["add_config_arguments", "config_from_args"]


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
