"""The native Verilator harness: a whole job in C++, checked afterwards by the scoreboard.

Python runs nothing per cycle. :func:`compile_job` runs :func:`~rtrledit.sim.execute.execute`
on a recording driver, so the job's register traffic (the words of
:class:`~rtrledit.firmware.regmodel.RegisterModel`), its stream words and its stall draws
become a flat :class:`Program` of bus operations and stream records;
``sim/native_harness.cpp``, built by Verilator from the same generated Verilog as the cocotb
path (:func:`build`, cached per design), replays it and writes what the core answered
(:func:`run_program`); :func:`check` runs ``execute`` again on a replaying driver that hands
those answers to the scoreboard, which checks them against the integer model. The report is
that of :func:`~rtrledit.sim.runner.simulate`, with the harness's own cycle and time counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..hdl.core import cycles_per_step
from ..toolchain import require
from .access import ACK_TIMEOUT, CoreAccess
from .execute import execute
from .job import Job, StallGenerators
from .runner import TOP, VERILATOR_ARGS, core_verilog, verilator_env
from .scoreboard import protocol_checked

__all__ = ["Program", "NativeRun", "build", "compile_job", "run_program", "check",
           "simulate_native", "verilator_build"]

HARNESS = Path(__file__).with_name("native_harness.cpp")
MAGIC, VERSION = 0x4C525452, 1
OP_END, OP_RESET, OP_WRITE, OP_READ, OP_POLL, OP_CYCLE, OP_STREAM = range(7)
STATUS = {0: "done", 1: "watchdog: no handshake", 2: "no ack", 3: "bad program"}
TRAILER = 12                   # words
RESET_CYCLES = 2


def _words(value: int, count: int) -> list[int]:
    return [(value >> (32 * i)) & 0xFFFFFFFF for i in range(count)]


def _value(words) -> int:
    return sum(int(w) << (32 * i) for i, w in enumerate(words))


@dataclass
class Program:
    """The harness's input: ``words`` (header, operations, OP_END) and what each
    operation answers (``outputs``: "read", "cycle" or a stream's sample count)."""

    sample_words: int
    result_words: int
    watchdog: int
    ops: list[int] = field(default_factory=list)
    outputs: list[str | int] = field(default_factory=list)

    def words(self) -> np.ndarray:
        head = [MAGIC, VERSION, self.sample_words, self.result_words, self.watchdog]
        return np.array(head + self.ops + [OP_END], "<u4")


@dataclass
class Stream:
    accepted: np.ndarray        # (T,) cycle of each sample's handshake
    payload: list[int]          # each result's payload word
    seen: np.ndarray            # (T,) cycle its valid was first seen
    protocol: np.ndarray        # (T,) 1: valid or payload changed while held back


@dataclass
class NativeRun:
    """What the harness answered: read words, cycle counts and streams in program order,
    and its trailer (status, where it stopped, cycles, stream cycles, seconds and CPU
    seconds)."""

    reads: list[int]
    cycles: list[int]
    streams: list[Stream]
    status: int
    op_index: int
    detail: int
    total_cycles: int
    stream_cycles: int
    stream_seconds: float
    stream_cpu_seconds: float


class _Recorder(CoreAccess, StallGenerators):
    """A driver that answers every read with 0 and records what ``execute`` does. A read
    of STATUS becomes a poll until BUSY is clear, then the read: ``execute`` waits on BUSY
    and on nothing else that a read returns."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.cfg, job.lanes)
        sw = -(-self.codec.sample.size // 32)
        rw = -(-self.codec.result.size // 32)
        st = job.stalls
        worst = 4 * max(cycles_per_step(job.cfg, job.lanes, s.learn, s.track)
                        for s in job.segments)
        self.prog = Program(sw, rw, worst + 4 * (st.idle_max + st.backpressure_max) + 1000)
        self._status = self.regmap["STATUS"].addr
        self._busy = self.regmap["STATUS"].pack(busy=1)

    def cycle(self) -> int:
        self.prog.ops.append(OP_CYCLE)
        self.prog.outputs.append("cycle")
        return 0

    async def start(self) -> None:
        self.prog.ops += [OP_RESET, RESET_CYCLES]

    async def read(self, addr: int) -> int:
        if addr == self._status:
            self.prog.ops += [OP_POLL, addr, self._busy]
        self.prog.ops += [OP_READ, addr]
        self.prog.outputs.append("read")
        return 0

    async def write(self, addr: int, value: int) -> None:
        self.prog.ops += [OP_WRITE, addr, value & 0xFFFFFFFF]

    async def run_stream(self, xs, ds, on_accept, on_result) -> list[int]:
        p = self.prog
        T = len(xs)
        p.ops += [OP_STREAM, T]
        for t in range(T):
            p.ops += _words(self.codec.pack_sample(xs[t], ds[t]), p.sample_words)
            p.ops += [self.draw(self._idle), self.draw(self._backpressure)]
        p.outputs.append(T)
        return []


class _Replay(CoreAccess, StallGenerators):
    """A driver that gives ``execute`` the harness's answers, in the order it asks."""

    def __init__(self, job: Job, run: NativeRun) -> None:
        super().__init__(job.cfg, job.lanes)
        self._reads, self._cycles, self._streams = (iter(run.reads), iter(run.cycles),
                                                    iter(run.streams))
        self.protocol_errors: list[str] = []
        self._results = 0

    def cycle(self) -> int:
        return next(self._cycles)

    async def start(self) -> None:
        pass

    async def read(self, addr: int) -> int:
        return next(self._reads)

    async def write(self, addr: int, value: int) -> None:
        pass

    async def run_stream(self, xs, ds, on_accept, on_result) -> list[int]:
        """Samples taken and results seen, in the order of the cycles they happened."""
        s = next(self._streams)
        T, i = len(s.seen), 0
        for j in range(T):
            while i < T and s.accepted[i] <= s.seen[j]:
                on_accept(i)
                i += 1
            y, flags = self.codec.unpack_result(s.payload[j])
            on_result(j, y, flags, int(s.seen[j] - s.accepted[j]) if j < i else 0)
            if s.protocol[j]:
                self.protocol_errors.append(f"result {self._results + j}: valid or payload "
                                            "changed while ready was low")
        for k in range(i, T):
            on_accept(k)
        self._results += T
        return s.accepted.tolist()


def compile_job(job: Job) -> Program:
    """The job as the harness's program (stall draws included)."""
    rec = _Recorder(job)
    job.stalls.apply(rec)
    asyncio.run(execute(job, rec))
    return rec.prog


def build(job: Job, build_root: str | Path | None = None, optimise: bool = True,
          eval_low: bool = False) -> Path:
    """The harness executable for the job's design, built once per design (Verilog and
    harness source) under ``build_root`` (default ``build/sim``); ``optimise=False``
    compiles without optimisation (a build in less than half the time, a slower run:
    for short jobs); ``eval_low`` evaluates the model at clk = 0 too, as a harness
    without the one-evaluation edge does (the same answers, twice the work: for the
    test that compares the two)."""
    require("verilator")
    text = core_verilog(job.cfg, job.lanes, job.spram)
    source = HARNESS.read_text()
    cflags = [f"-DACK_TIMEOUT={ACK_TIMEOUT}", *["-DRTRL_EVAL_LOW"] * eval_low]
    key = hashlib.sha256((text + source + " ".join(VERILATOR_ARGS + cflags)
                          + " -O0" * (not optimise)).encode()).hexdigest()[:16]
    bdir = Path(build_root or "build/sim").resolve() / f"native-{key}"
    exe = bdir / "obj" / "rtrl_native"
    if exe.exists():
        return exe
    bdir.mkdir(parents=True, exist_ok=True)
    (bdir / f"{TOP}.v").write_text(text)
    return verilator_build(bdir, TOP, "rtrl_native", [bdir / f"{TOP}.v", HARNESS], optimise,
                           cflags)


def verilator_build(bdir: Path, top: str, name: str, sources: list[Path],
                    optimise: bool = True, cflags: Sequence[str] = ()) -> Path:
    """Verilator builds executable ``name`` of module ``top`` from ``sources`` (Verilog and
    a C++ harness) into ``bdir/obj`` (its log: ``bdir/build.log``); its path. A half-built
    tree is never left as ``obj``; RuntimeError when the build fails. ``optimise``: see
    :func:`~rtrledit.sim.runner.verilator_env`; ``cflags``: for the C++ compiler."""
    env = verilator_env(optimise)
    tmp = bdir / f"obj-{os.getpid()}"
    cmd = [shutil.which("verilator", path=env["PATH"]) or "verilator", "--cc", "--exe",
           "--build", "-j", "1", *VERILATOR_ARGS, *["-O3"] * optimise, "--top-module", top,
           "-Mdir", str(tmp), "-o", name, *[a for f in cflags for a in ("-CFLAGS", f)],
           *map(str, sources)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    (bdir / "build.log").write_text(p.stdout + p.stderr)
    if p.returncode:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"{name} did not build; see {bdir / 'build.log'}")
    try:
        os.rename(tmp, bdir / "obj")
    except OSError:                                # built meanwhile by another process
        shutil.rmtree(tmp, ignore_errors=True)
    return bdir / "obj" / name


def run_program(exe: str | Path, prog: Program) -> NativeRun:
    """Run the harness on ``prog``; its answers."""
    with tempfile.TemporaryDirectory() as tmp:
        pin, pout = Path(tmp) / "program.bin", Path(tmp) / "output.bin"
        prog.words().tofile(pin)
        p = subprocess.run([str(exe), str(pin), str(pout)], capture_output=True, text=True)
        if not pout.exists():
            raise RuntimeError(f"the native harness wrote no output (exit {p.returncode}): "
                               f"{p.stderr.strip()}")
        out = np.fromfile(pout, "<u4").astype(np.int64)
    trailer, body = out[-TRAILER:], out[:-TRAILER]
    run = NativeRun([], [], [], int(trailer[0]), int(trailer[1]), int(trailer[2]),
                    _value(trailer[3:5]), _value(trailer[5:7]), _value(trailer[7:9]) * 1e-9,
                    _value(trailer[9:11]) * 1e-9)
    pos, rw = 0, prog.result_words
    for kind in prog.outputs:
        if kind == "read":
            if pos + 1 > len(body):
                break
            run.reads.append(int(body[pos]))
            pos += 1
        elif kind == "cycle":
            if pos + 2 > len(body):
                break
            run.cycles.append(_value(body[pos:pos + 2]))
            pos += 2
        else:
            T = kind
            if pos + T * (rw + 5) > len(body):
                break
            acc = body[pos:pos + 2 * T].reshape(T, 2)
            res = body[pos + 2 * T:pos + T * (rw + 5)].reshape(T, rw + 3)
            run.streams.append(Stream(acc[:, 0] | (acc[:, 1] << 32),
                                      [_value(r[:rw]) for r in res],
                                      res[:, rw] | (res[:, rw + 1] << 32), res[:, rw + 2]))
            pos += T * (rw + 5)
    return run


def _failed(run: NativeRun, prog: Program) -> tuple[dict, dict]:
    what = STATUS.get(run.status, f"status {run.status}")
    if run.status == 1 and prog.outputs:
        where = (f"after {run.detail >> 16} samples and {run.detail & 0xFFFF} results of "
                 f"stream {len(run.streams)}")
    else:
        where = f"address 0x{run.detail:06x}"
    msg = f"native harness stopped at operation {run.op_index}: {what} ({where})"
    report = {"bitexact": False, "mismatches": 1,
              "first_mismatch": {"step": None, "quantity": what, "index": [], "expected": 0,
                                 "got": run.detail},
              "mismatch_list": [msg], "steps": 0, "results": 0, "cycles_per_step": {},
              "sim_cycles": run.total_cycles, "saturation": {}}
    return report, {}


def check(job: Job, prog: Program, run: NativeRun) -> tuple[dict, dict]:
    """The report and dump of :func:`~rtrledit.sim.execute.execute` for what the harness
    answered (a harness that stopped early: one mismatch that says where and why)."""
    if run.status:
        return _failed(run, prog)
    drv = _Replay(job, run)
    report, dump = protocol_checked(asyncio.run(execute(job, drv)), drv.protocol_errors)
    report.update(sim_cycles=run.total_cycles, stream_cycles=run.stream_cycles,
                  stream_seconds=run.stream_seconds, stream_cpu_seconds=run.stream_cpu_seconds,
                  sim_cycles_per_second=(run.stream_cycles / run.stream_seconds
                                         if run.stream_seconds else 0.0))
    return report, dump


def simulate_native(job: Job, build_root: str | Path | None = None,
                    dump: str | Path | None = None, optimise: bool = True) -> dict:
    """Run ``job`` on the native harness and return the report of
    :func:`~rtrledit.sim.runner.simulate` (``dump``: the outputs and final state, .npz;
    ``optimise``: see :func:`build`)."""
    t0 = time.perf_counter()
    exe = build(job, build_root, optimise)
    t1 = time.perf_counter()
    prog = compile_job(job)
    run = run_program(exe, prog)
    report, data = check(job, prog, run)
    report["build_seconds"] = t1 - t0
    report["wall_seconds"] = time.perf_counter() - t1
    if dump and data:
        np.savez(dump, **data)
    return report
