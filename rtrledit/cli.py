"""The ``rtrledit`` command line: one entry point, one sub-command per job.

Each sub-command lives in its own module with two functions, ``add_arguments(parser)``
and ``main(args) -> int``. Bad input raises ValueError (or a UsageError); it is printed
as one line on stderr and the exit status is 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "COMMANDS"]

#: sub-command name -> (module under rtrledit, one-line help)
COMMANDS = {
    "train": ("rtrledit.train", "train the float and/or bit-exact integer model on a task"),
    "sweep": ("rtrledit.sweep", "bit-width sweep of the integer model (local or Dask cluster)"),
    "profile": ("rtrledit.profile", "profile value ranges, propose number formats, check they learn"),
    "import": ("rtrledit.import_onnx", "read a trained RNN from ONNX, propose formats, check they learn, write a Config and a checkpoint"),
    "build": ("rtrledit.build", "build a bitstream for a board and report resources and Fmax"),
    "program": ("rtrledit.program", "program a connected board with a built bitstream"),
    "generate": ("rtrledit.generate", "write the learning core's Verilog, register map and config"),
    "simulate": ("rtrledit.simulate", "run a task on the simulated core against the integer model"),
    "run": ("rtrledit.run", "stream a task to a board (or the simulated device): predict, learn, save"),
    "board-sim": ("rtrledit.board_sim", "run the virtual board (the board top under Verilator) on a pseudo-terminal"),
    "doctor": ("rtrledit.doctor", "list the external tools the commands use, what works, how to install the rest"),
    "verify": ("rtrledit.verify", "random configs on the simulated core (Verilator, Icarus) against the integer model"),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rtrledit", description="Real-Time Recurrent Learning "
                                "on small FPGAs: golden models, hardware, boards.")
    from rtrledit import __version__
    p.add_argument("--version", action="version", version=f"rtrledit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        mod = importlib.import_module(module)
        mod.add_arguments(sp)
        sp.set_defaults(_main=mod.main)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args._main(args) or 0)
    except ValueError as e:
        print(f"rtrledit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rtrledit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
