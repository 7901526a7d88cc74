"""Run a :class:`~rtrledit.sim.job.Job` against a core through any driver, scored by the model.

A driver is anything with the methods of :class:`Driver` — the cocotb testbench
(:class:`~rtrledit.sim.tb.CoreTB`) and the Amaranth-simulator driver
(:class:`~rtrledit.sim.amaranth_tb.AmaranthDriver`) both are — so the same job, the same
scoreboard and the same report come out of every simulator.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from ..hdl.regmap import ID_MAGIC, RegisterMap, pack, unpack
from .job import Job
from .scoreboard import Mismatch, Scoreboard

__all__ = ["Driver", "execute", "check_bus_errors"]


class Driver(Protocol):
    regmap: RegisterMap

    async def start(self) -> None: ...
    def cycle(self) -> int: ...
    async def reg(self, name: str) -> int: ...
    async def set_reg(self, name: str, value: int) -> None: ...
    async def read(self, addr: int) -> int: ...
    async def write(self, addr: int, value: int) -> None: ...
    async def set_mode(self, learn: bool, track: bool) -> None: ...
    async def load_params(self, theta, V, c) -> None: ...
    async def read_state(self) -> dict: ...
    async def run_stream(self, xs, ds, on_accept, on_result) -> list[int]: ...


async def check_bus_errors(drv: Driver, sb: Scoreboard) -> None:
    """Bad accesses are ignored and flagged (STATUS.ERR, ERR_ADDR), as the register map says."""
    rm = drv.regmap
    ident = await drv.reg("ID")
    if ident != ID_MAGIC:
        sb.mismatches.append(Mismatch(None, "ID", (), ID_MAGIC, ident))
    cases = [("write to read-only STEPS", rm["STEPS"].addr, True),
             ("read of unmapped address", 0x9, False),
             ("write past the last window", rm["S"].base + rm["S"].size, True)]
    for what, addr, write in cases:
        before = await drv.reg("STEPS")
        if write:
            await drv.write(addr, 0x1234)
        else:
            value = await drv.read(addr)
            if value != 0:
                sb.mismatches.append(Mismatch(None, f"{what}: read value", (), 0, value))
        status, err_addr = await drv.reg("STATUS"), await drv.reg("ERR_ADDR")
        if not unpack("STATUS", status)["err"] or err_addr != addr:
            sb.mismatches.append(Mismatch(None, f"{what}: ERR/ERR_ADDR", (), addr, err_addr))
        if await drv.reg("STEPS") != before:
            sb.mismatches.append(Mismatch(None, f"{what}: state changed", (), before, -1))
        await drv.set_reg("CTRL", pack("CTRL", learn=1, track=1, clear_err=1))
        if unpack("STATUS", await drv.reg("STATUS"))["err"]:
            sb.mismatches.append(Mismatch(None, "CTRL.CLEAR_ERR", (), 0, 1))


async def execute(job: Job, drv: Driver) -> tuple[dict, dict]:
    """Run ``job`` on the design behind ``drv``; returns (report, dump).

    The report holds ``bitexact``, ``mismatches``, ``first_mismatch``, ``mismatch_list``,
    ``steps``, ``cycles_per_step`` (mean, by mode: learn / track / infer), ``sim_cycles``,
    ``wall_seconds``, ``sim_cycles_per_second`` (while samples stream: the simulator and
    the scoreboard, without set-up and read-back), ``stream_cpu_seconds`` (the CPU time
    of this process while they stream: on a loaded machine the fairer measure) and
    ``saturation``; the dump the design's
    outputs (y, flags) and final state (theta, V, c, h, S).
    """
    cfg = job.cfg
    sb = Scoreboard(cfg, job.theta, job.V, job.c)
    wall0 = time.perf_counter()
    await drv.start()
    while unpack("STATUS", await drv.reg("STATUS"))["busy"]:   # a core may clear S after reset
        pass
    if job.check_bus:
        await check_bus_errors(drv, sb)
    await drv.load_params(job.theta, job.V, job.c)
    ys = np.zeros((len(job.xs), cfg.p), np.int64)
    flags = np.zeros(len(job.xs), np.int64)
    cycles: dict[str, list[int]] = {"learn": [], "track": [], "infer": []}
    t0 = 0
    stream_cycles, stream_wall, stream_cpu = 0, 0.0, 0.0
    for seg in job.segments:
        if seg.eta is not None or seg.eta_o is not None:
            eta = cfg.eta if seg.eta is None else seg.eta
            eta_o = cfg.eta_o if seg.eta_o is None else seg.eta_o
            await drv.set_reg("ETA", pack("ETA", eta=eta, eta_o=eta_o))
            sb.set_learning_rates(eta, eta_o)
        mode = {"learn": seg.learn, "track": seg.track}
        if seg.reset:
            pulse = "reset_state" if seg.reset == "state" else "reset_sens"
            await drv.set_reg("CTRL", pack("CTRL", **mode, **{pulse: 1}))
            while unpack("STATUS", await drv.reg("STATUS"))["busy"]:
                pass
            sb.reset_state(h=seg.reset == "state")
        if seg.clear_sat:
            await drv.set_reg("CTRL", pack("CTRL", **mode, clear_sat=1))
            sb.clear_saturation()
        await drv.set_mode(seg.learn, seg.track)
        kind = "learn" if seg.learn else "track" if seg.track else "infer"
        xs, ds = job.xs[t0:t0 + seg.steps], job.ds[t0:t0 + seg.steps]

        def on_accept(t, xs=xs, ds=ds, seg=seg):
            sb.expect(xs[t], ds[t], seg.learn, seg.track)

        def on_result(t, y, f, cyc, t0=t0, kind=kind):
            sb.check_result(y, f)
            ys[t0 + t], flags[t0 + t] = y, f
            cycles[kind].append(cyc)

        c0, w0, p0 = drv.cycle(), time.perf_counter(), time.process_time()
        await drv.run_stream(xs, ds, on_accept, on_result)
        stream_cycles += drv.cycle() - c0
        stream_wall += time.perf_counter() - w0
        stream_cpu += time.process_time() - p0
        t0 += seg.steps
    state = await drv.read_state()
    sb.check_state(state)
    wall = time.perf_counter() - wall0
    report = {
        "bitexact": sb.ok, "mismatches": len(sb.mismatches),
        "first_mismatch": sb.first_mismatch.to_dict() if sb.first_mismatch else None,
        "mismatch_list": [str(m) for m in sb.mismatches[:20]],
        "steps": int(t0), "results": sb.results,
        "cycles_per_step": {k: float(np.mean(v)) for k, v in cycles.items() if v},
        "sim_cycles": int(drv.cycle()), "stream_cycles": int(stream_cycles),
        "wall_seconds": wall, "stream_seconds": stream_wall, "stream_cpu_seconds": stream_cpu,
        "sim_cycles_per_second": stream_cycles / stream_wall if stream_wall else 0.0,
        "saturation": {k: int(v) for k, v in state["sat"].items()},
    }
    dump = {"y": ys, "flags": flags, **{k: np.asarray(state[k]) for k in
                                        ("theta", "V", "c", "h", "S")}}
    return report, dump
