"""Compiling the C driver and its programs for the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


from tests.tools import missing

C = Path(__file__).resolve().parents[2] / "firmware" / "c"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow"]
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]


#: The compilers the driver must build with, and the names they go by.
COMPILERS = {"gcc": ("gcc",), "clang": ("clang", "clang-14", "clang-16", "clang-19")}


def find(kind: str) -> str | None:
    return next((n for n in COMPILERS[kind] if shutil.which(n)), None)


def compiler(kind: str) -> str:
    """The installed ``gcc`` or ``clang``; skip (fail in CI) when it is not."""
    cc = find(kind)
    if cc is None:
        missing(f"{kind} not installed (apt-get install -y {'gcc' if kind == 'gcc' else 'clang-14'})")
    return cc


def clang() -> str | None:
    return find("clang")


def build(cc: str, out: Path, sources: list[Path], includes: list[Path], flags=()) -> Path:
    cmd = [cc, *WARN, *flags, *[f"-I{i}" for i in includes], *map(str, sources), "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    assert not r.stderr.strip(), r.stderr          # warning-free
    return out
