"""A cocotb 2.x testbench for the learning core's generated Verilog.

:class:`CoreTB` owns the clock, the reset, the register-bus driver and the two stream
drivers (samples in, results out) of a ``rtrl_core`` instance; named register and window
access comes from :class:`~rtrledit.sim.access.CoreAccess`, and
:func:`~rtrledit.sim.execute.execute` runs a job on it against the scoreboard. It waits on handshakes (signal edges),
not on every clock edge, so the simulator runs freely while a step computes.

All inputs are driven just after falling clock edges, so the design samples them at the
next rising edge, and outputs are read there too, half a cycle after they settle.
Stalls come from generators set with :meth:`CoreTB.set_idle_generator` and
:meth:`CoreTB.set_backpressure_generator` (named as in cocotbext-axi).
"""

from __future__ import annotations

from collections.abc import Callable

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from ..hdl.regmap import pack
from ..model.config import Config
from .access import ACK_TIMEOUT, CoreAccess
from .job import StallGenerators

__all__ = ["CoreTB"]


class CoreTB(CoreAccess, StallGenerators):
    """Drive and observe one core (cocotb).

    Parameters
    ----------
    dut
        The cocotb handle of the ``rtrl_core`` top level.
    cfg, lanes
        What the core was generated from (they give the register map and the layouts).
    period_ns
        Clock period.
    clock
        ``"gpi"``: the testbench drives ``clk`` with cocotb's C++ (GPI) clock;
        ``"hdl"``: the top level toggles ``clk`` itself (``rtrl_core_clocked`` of
        :func:`~rtrledit.sim.runner.with_clock`) and the testbench only watches it.
        Either way ``clk`` rises at k·period and falls half a period later.
    """

    def __init__(self, dut, cfg: Config, lanes: int, period_ns: int = 10,
                 clock: str = "gpi") -> None:
        super().__init__(cfg, lanes)
        if clock not in ("gpi", "hdl"):
            raise ValueError(f"clock {clock!r}: gpi or hdl")
        self.dut, self.period, self._clock_kind = dut, period_ns, clock
        self._started = False
        self.protocol_errors: list[str] = []
        self.results_seen = 0

    # ---------------------------------------------------------------- clock and reset
    async def start(self) -> None:
        """Start the clock (once), hold reset for two cycles, leave the inputs idle.

        A later call (the next job of a batch) resets the core again and then clears h
        and S with CTRL.RESET_STATE: the reset input clears registers, not memories, and
        the scoreboard starts from h = 0, S = 0, as a core does after configuration."""
        d = self.dut
        again, self._started = self._started, True
        if not again and self._clock_kind == "gpi":
            Clock(d.clk, self.period, unit="ns", impl="gpi").start()
        for s in (d.sample__valid, d.result__ready, d.bus__r_stb, d.bus__w_stb, d.bus__addr,
                  d.bus__w_data, d.sample__payload):
            s.value = 0
        d.rst.value = 1
        await ClockCycles(d.clk, 2)
        await FallingEdge(d.clk)
        d.rst.value = 0
        if again:
            while await self.reg("STATUS") & 1:        # a core may clear S after reset
                pass
            await self.set_reg("CTRL", pack("CTRL", reset_state=1))
            while await self.reg("STATUS") & 1:
                pass

    def cycle(self) -> int:
        """Clock cycles since time 0."""
        return int(get_sim_time("ns") // self.period)

    # ---------------------------------------------------------------- register bus
    async def _access(self, addr: int, write: bool, value: int = 0) -> int:
        d = self.dut
        await FallingEdge(d.clk)
        d.bus__addr.value = addr
        d.bus__w_data.value = value & 0xFFFFFFFF
        (d.bus__w_stb if write else d.bus__r_stb).value = 1
        await FallingEdge(d.clk)          # the rising edge between sampled the strobe
        (d.bus__w_stb if write else d.bus__r_stb).value = 0
        for _ in range(ACK_TIMEOUT):      # addr held until ack
            if int(d.bus__ack.value):
                return int(d.bus__r_data.value)
            await FallingEdge(d.clk)
        raise AssertionError(f"no ack for the access to 0x{addr:06x}")

    async def write(self, addr: int, value: int) -> None:
        await self._access(addr, True, value)

    async def read(self, addr: int) -> int:
        return await self._access(addr, False)

    # ---------------------------------------------------------------- streams
    async def run_stream(self, xs, ds, on_accept: Callable[[int], None],
                         on_result: Callable[[int, list[int], int, int], None]) -> list[int]:
        """Stream every sample and collect a result per sample, with the stalls of the
        idle and back-pressure generators (none: ``valid`` held high, back-pressure does
        the pacing, and ``ready`` held high).

        ``on_accept(t)`` is called when sample t is taken, ``on_result(t, y, flags,
        cycles)`` for each result when its ``valid`` is first seen (``cycles``: from
        acceptance to then, so a stall does not change it). A result that changes, or
        whose ``valid`` drops, while ``ready`` is held low is recorded in
        :attr:`protocol_errors`. Returns the acceptance cycle of every sample.
        """
        d = self.dut               # handles and edge triggers looked up once
        s_valid, s_ready, s_payload = d.sample__valid, d.sample__ready, d.sample__payload
        r_valid, r_ready, r_payload = d.result__valid, d.result__ready, d.result__payload
        fall, rise = FallingEdge(d.clk), RisingEdge(d.clk)
        accepted: list[int] = []
        T = len(xs)
        idle, hold = self._idle, self._backpressure

        async def drive() -> None:
            for t in range(T):
                await fall
                gap = self.draw(idle)
                if gap:
                    s_valid.value = 0
                    while not int(s_ready.value):
                        await RisingEdge(s_ready)
                        await fall
                    await ClockCycles(d.clk, gap)       # the core waits, ready high
                    await fall
                s_payload.value = self.codec.pack_sample(xs[t], ds[t])
                s_valid.value = 1
                while not int(s_ready.value):
                    await RisingEdge(s_ready)
                    await fall
                await rise                            # the handshake
                accepted.append(self.cycle())
                on_accept(t)
            await fall
            s_valid.value = 0

        async def collect() -> None:
            for t in range(T):
                await fall                            # just after the previous handshake
                low = self.draw(hold)
                r_ready.value = 0 if low else 1
                while not int(r_valid.value):
                    await RisingEdge(r_valid)
                    await fall
                word = int(r_payload.value)
                y, flags = self.codec.unpack_result(word)
                on_result(t, y, flags, self.cycle() - accepted[t])
                if low:                           # hold the result back, then take it
                    await ClockCycles(d.clk, low)
                    await fall
                    if not int(r_valid.value) or int(r_payload.value) != word:
                        self.protocol_errors.append(
                            f"result {self.results_seen}: valid or payload changed while "
                            f"ready was low for {low} cycles")
                    r_ready.value = 1
                self.results_seen += 1
                # the handshake happens at the next rising edge (ready is high)
            await fall
            r_ready.value = 1

        drv = cocotb.start_soon(drive())
        await collect()
        await drv
        return accepted
