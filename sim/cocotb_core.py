"""The cocotb test module for the core: runs the :class:`~rtrledit.sim.job.Job` named by
``RTRLEDIT_JOB`` against the scoreboard and writes the report to ``RTRLEDIT_REPORT``
(and the design's outputs and final state to ``RTRLEDIT_DUMP`` when set).

Run it through :func:`rtrledit.sim.runner.simulate`, not directly.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np

from ..hdl.regmap import CTRL, ID_MAGIC
from .job import Job
from .scoreboard import Mismatch, Scoreboard
from .tb import CoreTB


async def check_bus_errors(tb: CoreTB, sb: Scoreboard) -> None:
    """Bad accesses are ignored and flagged (ERR, ERR_ADDR), as the register map says."""
    rm = tb.regmap
    ident = await tb.reg("ID")
    if ident != ID_MAGIC:
        sb.mismatches.append(Mismatch(None, "ID", (), ID_MAGIC, ident))
    cases = [("write to read-only STEPS", rm["STEPS"].addr, True),
             ("read of unmapped address", 0x9, False),
             ("write past the last window", rm["S"].base + rm["S"].size, True)]
    for what, addr, write in cases:
        before = await tb.reg("STEPS")
        if write:
            await tb.write(addr, 0x1234)
        else:
            value = await tb.read(addr)
            if value != 0:
                sb.mismatches.append(Mismatch(None, f"{what}: read value", (), 0, value))
        status, err_addr = await tb.reg("STATUS"), await tb.reg("ERR_ADDR")
        if not status & 2 or err_addr != addr:
            sb.mismatches.append(Mismatch(None, f"{what}: ERR/ERR_ADDR", (), addr, err_addr))
        if await tb.reg("STEPS") != before:
            sb.mismatches.append(Mismatch(None, f"{what}: state changed", (), before, -1))
        await tb.set_reg("CTRL", (1 << CTRL["CLEAR_ERR"][0]) | 0b11)
        if await tb.reg("STATUS") & 2:
            sb.mismatches.append(Mismatch(None, "CTRL.CLEAR_ERR", (), 0, 1))


@cocotb.test()
async def run_job(dut) -> None:
    job = Job.load(os.environ["RTRLEDIT_JOB"])
    cfg = job.cfg
    tb = CoreTB(dut, cfg, job.lanes)
    sb = Scoreboard(cfg, job.theta, job.V, job.c)
    wall0 = time.perf_counter()
    await tb.start()
    if job.check_bus:
        await check_bus_errors(tb, sb)
    await tb.load_params(job.theta, job.V, job.c)
    ys = np.zeros((len(job.xs), cfg.p), np.int64)
    flags = np.zeros(len(job.xs), np.int64)
    cycles: dict[str, list[int]] = {"learn": [], "track": [], "infer": []}
    t0 = 0
    sim_cycles0 = tb.cycle()
    for seg in job.segments:
        if seg.eta is not None or seg.eta_o is not None:
            eta = cfg.eta if seg.eta is None else seg.eta
            eta_o = cfg.eta_o if seg.eta_o is None else seg.eta_o
            await tb.set_reg("ETA", eta | (eta_o << 8))
            sb.set_learning_rates(eta, eta_o)
        if seg.reset:
            bit = CTRL["RESET_STATE" if seg.reset == "state" else "RESET_SENS"][0]
            await tb.set_reg("CTRL", (1 << bit) | (seg.learn << 0) | (seg.track << 1))
            while await tb.reg("STATUS") & 1:
                pass
            sb.reset_state(h=seg.reset == "state")
        await tb.set_mode(seg.learn, seg.track)
        kind = "learn" if seg.learn else "track" if seg.track else "infer"
        xs, ds = job.xs[t0:t0 + seg.steps], job.ds[t0:t0 + seg.steps]

        def on_accept(t, xs=xs, ds=ds, seg=seg):
            sb.expect(xs[t], ds[t], seg.learn, seg.track)

        def on_result(t, y, f, cyc, t0=t0, kind=kind):
            sb.check_result(y, f)
            ys[t0 + t], flags[t0 + t] = y, f
            cycles[kind].append(cyc)

        await tb.run_stream(xs, ds, on_accept, on_result)
        t0 += seg.steps
    sim_cycles = tb.cycle() - sim_cycles0
    state = await tb.read_state()
    sb.check_state(state)
    wall = time.perf_counter() - wall0
    report = {
        "bitexact": sb.ok, "mismatches": len(sb.mismatches),
        "first_mismatch": sb.first_mismatch.to_dict() if sb.first_mismatch else None,
        "mismatch_list": [str(m) for m in sb.mismatches[:20]],
        "steps": int(t0), "results": sb.results,
        "cycles_per_step": {k: float(np.mean(v)) for k, v in cycles.items() if v},
        "sim_cycles": int(sim_cycles), "wall_seconds": wall,
        "sim_cycles_per_second": tb.cycle() / wall,
        "saturation": {k: int(v) for k, v in state["sat"].items()},
    }
    with open(os.environ["RTRLEDIT_REPORT"], "w") as fh:
        json.dump(report, fh)
    if os.environ.get("RTRLEDIT_DUMP"):
        np.savez(os.environ["RTRLEDIT_DUMP"], y=ys, flags=flags, theta=state["theta"],
                 V=state["V"], c=state["c"], h=state["h"], S=state["S"])
    assert sb.ok, "; ".join(str(m) for m in sb.mismatches[:5])
