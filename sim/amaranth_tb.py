"""The same job, on the core in Amaranth's own simulator (no Verilog, no HDL simulator).

:class:`AmaranthDriver` implements the driver methods of
:func:`~rtrledit.sim.execute.execute` with an async Amaranth testbench, so
``rtrledit simulate --simulator amaranth`` and the unit tests check the Amaranth design
with the very scoreboard and job the cocotb runs use. It is slow (thousands of cycles
per second): use it for small configurations.
"""

from __future__ import annotations

from amaranth.sim import Simulator

from ..hdl.core import Core
from .access import CoreAccess
from .execute import execute
from .job import Job

__all__ = ["AmaranthDriver", "simulate_amaranth"]


class AmaranthDriver(CoreAccess):
    """Register and stream access to a :class:`~rtrledit.hdl.core.Core` from an Amaranth
    testbench context ``ctx``; counts the clock cycles it spends."""

    def __init__(self, core: Core, ctx) -> None:
        super().__init__(core.cfg, core.lanes)
        self.core, self.ctx, self._cycles = core, ctx, 0

    def cycle(self) -> int:
        return self._cycles

    async def _tick(self):
        self._cycles += 1
        return await self.ctx.tick()

    async def start(self) -> None:
        await self._tick()

    async def _access(self, addr: int, write: bool, value: int = 0) -> int:
        bus, ctx = self.core.bus, self.ctx
        ctx.set(bus.addr, addr)
        ctx.set(bus.w_data, value & 0xFFFFFFFF)
        ctx.set(bus.w_stb if write else bus.r_stb, 1)
        await self._tick()
        ctx.set(bus.w_stb if write else bus.r_stb, 0)
        if not ctx.get(bus.ack):
            raise AssertionError(f"no ack for the access to 0x{addr:06x}")
        return ctx.get(bus.r_data)

    async def write(self, addr: int, value: int) -> None:
        await self._access(addr, True, value)

    async def read(self, addr: int) -> int:
        return await self._access(addr, False)

    async def run_stream(self, xs, ds, on_accept, on_result) -> list[int]:
        """One sample at a time: offer it until taken, then wait for its result."""
        core, ctx = self.core, self.ctx
        accepted = []
        ctx.set(core.result.ready, 1)
        for t in range(len(xs)):
            ctx.set(core.sample.payload, {"x": [int(v) for v in xs[t]],
                                          "d": [int(v) for v in ds[t]]})
            ctx.set(core.sample.valid, 1)
            while not ctx.get(core.sample.ready):
                await self._tick()
            await self._tick()
            ctx.set(core.sample.valid, 0)
            accepted.append(self._cycles)
            on_accept(t)
            while not ctx.get(core.result.valid):
                await self._tick()
            res = ctx.get(core.result.payload)
            on_result(t, [int(v) for v in res.y], int(res.flags), self._cycles - accepted[-1])
            await self._tick()
        ctx.set(core.result.ready, 0)
        return accepted


def simulate_amaranth(job: Job) -> tuple[dict, dict]:
    """Run ``job`` on the core in Amaranth's simulator; returns (report, dump)."""
    core = Core(job.cfg, job.lanes, spram=job.spram)
    out = {}

    async def bench(ctx):
        out["result"] = await execute(job, AmaranthDriver(core, ctx))

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out["result"]
