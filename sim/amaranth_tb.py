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
from .access import ACK_TIMEOUT, CoreAccess
from .execute import execute
from .job import Job, StallGenerators
from .scoreboard import protocol_checked

__all__ = ["AmaranthDriver", "simulate_amaranth"]


class AmaranthDriver(CoreAccess, StallGenerators):
    """Register and stream access to a :class:`~rtrledit.hdl.core.Core` from an Amaranth
    testbench context ``ctx``; counts the clock cycles it spends."""

    def __init__(self, core: Core, ctx) -> None:
        super().__init__(core.cfg, core.lanes)
        self.core, self.ctx, self._cycles = core, ctx, 0
        self.protocol_errors: list[str] = []

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
        for _ in range(ACK_TIMEOUT):      # addr held until ack
            if ctx.get(bus.ack):
                return ctx.get(bus.r_data)
            await self._tick()
        raise AssertionError(f"no ack for the access to 0x{addr:06x}")

    async def write(self, addr: int, value: int) -> None:
        await self._access(addr, True, value)

    async def read(self, addr: int) -> int:
        return await self._access(addr, False)

    async def run_stream(self, xs, ds, on_accept, on_result) -> list[int]:
        """Both streams at once, cycle by cycle: sample t is offered (after its idle gap)
        while result t - 1 may still be held back, and result t is taken after its
        ready-low run. ``on_result`` gets the cycles from acceptance to the first cycle
        ``valid`` is seen; a result that changes or drops while held is recorded in
        :attr:`protocol_errors`."""
        core, ctx = self.core, self.ctx
        T = len(xs)
        accepted: list[int] = []
        draw = self.draw
        # one draw per sample and per result, in order, as CoreTB draws them
        s_t, gap, waiting, offered = 0, draw(self._idle) if T else 0, False, False
        r_t, low, seen = 0, draw(self._backpressure) if T else 0, None   # seen: the held result
        ctx.set(core.result.ready, 0 if low else 1)
        while r_t < T:
            # ---- sample s_t: offered once the core was ready for ``gap`` cycles
            if s_t < T and not offered:
                if gap and not waiting:
                    waiting = bool(ctx.get(core.sample.ready))
                elif gap:
                    gap -= 1
                if not gap:
                    ctx.set(core.sample.payload, {"x": [int(v) for v in xs[s_t]],
                                                  "d": [int(v) for v in ds[s_t]]})
                    ctx.set(core.sample.valid, 1)
                    offered = True
            s_fire = offered and ctx.get(core.sample.ready)
            # ---- result r_t: taken after ``low`` cycles of ready low
            r_fire = False
            if r_t < len(accepted) and ctx.get(core.result.valid):
                res = ctx.get(core.result.payload)
                word = ([int(v) for v in res.y], int(res.flags))
                if seen is None:
                    seen = word
                    on_result(r_t, *word, self._cycles - accepted[r_t])
                elif word != seen:
                    self.protocol_errors.append(f"result {r_t}: payload changed while held")
                if low:
                    low -= 1
                else:
                    ctx.set(core.result.ready, 1)
                    r_fire = True
            elif seen is not None:
                self.protocol_errors.append(f"result {r_t}: valid dropped while held")
            await self._tick()
            if s_fire:
                ctx.set(core.sample.valid, 0)
                accepted.append(self._cycles)
                on_accept(s_t)
                s_t, waiting, offered = s_t + 1, False, False
                gap = draw(self._idle) if s_t < T else 0
            if r_fire:
                r_t, seen = r_t + 1, None
                low = draw(self._backpressure) if r_t < T else 0
                ctx.set(core.result.ready, 0 if low else 1)
        ctx.set(core.result.ready, 0)
        return accepted


def simulate_amaranth(job: Job) -> tuple[dict, dict]:
    """Run ``job`` on the core in Amaranth's simulator; returns (report, dump)."""
    core = Core(job.cfg, job.lanes, spram=job.spram)
    out = {}

    async def bench(ctx):
        drv = AmaranthDriver(core, ctx)
        job.stalls.apply(drv)
        out["result"] = protocol_checked(await execute(job, drv), drv.protocol_errors)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out["result"]
