"""The learning step's length as the core's gateware takes it (Amaranth's simulator): an
independent figure for the cycle formulas the board reports use."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core
from rtrledit.model.config import Config

__all__ = ["measured_cycles_per_step"]


def measured_cycles_per_step(cfg: Config, lanes: int, steps: int = 4) -> int:
    """Cycles between sample acceptances with the sample stream always full and results
    always taken (learning, the reset mode); AssertionError if they are not all equal."""
    core = Core(cfg, lanes)
    cyc = Signal(32)
    m = Module()
    m.submodules.core = core
    m.d.sync += cyc.eq(cyc + 1)
    accepts: list[int] = []

    async def tb(ctx):
        ctx.set(core.result.ready, 1)
        ctx.set(core.sample.valid, 1)
        async for _, _, v, r in ctx.tick().sample(core.sample.valid, core.sample.ready):
            if v and r:
                accepts.append(ctx.get(cyc))
                if len(accepts) == steps:
                    return

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    gaps = np.diff(accepts)
    assert len(set(gaps.tolist())) == 1, gaps
    return int(gaps[0])
