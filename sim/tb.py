"""A cocotb 2.x testbench for the learning core's generated Verilog.

:class:`CoreTB` owns the clock, the reset, the register-bus driver and the two stream
drivers (samples in, results out) of a ``rtrl_core`` instance, and talks to a
:class:`~rtrledit.sim.scoreboard.Scoreboard`. It waits on handshakes (signal edges),
not on every clock edge, so the simulator runs freely while a step computes.

All inputs are driven just after falling clock edges, so the design samples them at the
next rising edge, and outputs are read there too, half a cycle after they settle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from ..hdl.regmap import CTRL, register_map
from ..model.config import SAT_NAMES, Config
from .codec import Codec, to_signed

__all__ = ["CoreTB"]


class CoreTB:
    """Drive and observe one core.

    Parameters
    ----------
    dut
        The cocotb handle of the ``rtrl_core`` top level.
    cfg, lanes
        What the core was generated from (they give the register map and the layouts).
    period_ns
        Clock period.
    """

    def __init__(self, dut, cfg: Config, lanes: int, period_ns: int = 10) -> None:
        self.dut, self.cfg, self.period = dut, cfg, period_ns
        self.regmap = register_map(cfg, lanes)
        self.codec = Codec(cfg)

    # ---------------------------------------------------------------- clock and reset
    async def start(self) -> None:
        """Start the clock, hold reset for two cycles, leave the inputs idle."""
        d = self.dut
        Clock(d.clk, self.period, unit="ns").start()
        for s in (d.sample__valid, d.result__ready, d.bus__r_stb, d.bus__w_stb, d.bus__addr,
                  d.bus__w_data, d.sample__payload):
            s.value = 0
        d.rst.value = 1
        await ClockCycles(d.clk, 2)
        await FallingEdge(d.clk)
        d.rst.value = 0

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
        if not int(d.bus__ack.value):
            raise AssertionError(f"no ack for the access to 0x{addr:06x}")
        return int(d.bus__r_data.value)

    async def write(self, addr: int, value: int) -> None:
        await self._access(addr, True, value)

    async def read(self, addr: int) -> int:
        """An unsigned 32-bit register value."""
        return await self._access(addr, False)

    async def reg(self, name: str) -> int:
        return await self.read(self.regmap[name].addr)

    async def set_reg(self, name: str, value: int) -> None:
        await self.write(self.regmap[name].addr, value)

    async def write_window(self, name: str, values: Sequence[int]) -> None:
        base = self.regmap[name].base
        for i, v in enumerate(values):
            await self.write(base + i, int(v))

    async def read_window(self, name: str, count: int | None = None,
                          indices: Sequence[int] | None = None) -> list[int]:
        """Signed words of a window (all of it, or ``indices``)."""
        w = self.regmap[name]
        idx = range(count if count is not None else w.size) if indices is None else indices
        return [to_signed(await self.read(w.base + i), 32) for i in idx]

    async def set_mode(self, learn: bool, track: bool) -> None:
        await self.set_reg("CTRL", (learn << CTRL["LEARN"][0]) | (track << CTRL["TRACK"][0]))

    # ---------------------------------------------------------------- parameters and state
    async def load_params(self, theta, V, c) -> None:
        n = self.cfg.n
        theta = np.asarray(theta)
        await self.write_window("W", theta[:, :n].ravel())
        await self.write_window("U", theta[:, n:].ravel())
        await self.write_window("V", np.asarray(V).ravel())
        await self.write_window("C", np.asarray(c).ravel())

    async def read_params(self) -> dict[str, np.ndarray]:
        cfg = self.cfg
        n, m, p = cfg.n, cfg.m, cfg.p
        W = np.array(await self.read_window("W")).reshape(n, n)
        U = np.array(await self.read_window("U")).reshape(n, m + 1)
        return {"theta": np.concatenate([W, U], axis=1),
                "V": np.array(await self.read_window("V")).reshape(p, n),
                "c": np.array(await self.read_window("C"))}

    def s_addresses(self) -> list[int]:
        """Window indices of S, in the model's (row-major) order of S."""
        cfg = self.cfg
        nq = cfg.n * cfg.q
        if cfg.approx == "snap1":
            return list(range(nq))
        cbits = max(1, (nq - 1).bit_length())
        return [(k << cbits) + col for k in range(cfg.n) for col in range(nq)]

    async def read_state(self) -> dict:
        """Everything the scoreboard can compare at the end of a run."""
        cfg = self.cfg
        st = await self.read_params()
        st["h"] = np.array(await self.read_window("H"))
        st["S"] = np.array(await self.read_window("S", indices=self.s_addresses())
                           ).reshape(cfg.s_shape)
        st["sat"] = {name: await self.reg(f"SAT_{name.upper()}") for name in SAT_NAMES}
        st["lfsr"] = await self.reg("LFSR")
        st["steps"] = await self.reg("STEPS")
        return st

    # ---------------------------------------------------------------- streams
    async def run_stream(self, xs, ds, on_accept: Callable[[int], None],
                         on_result: Callable[[int, list[int], int, int], None]) -> list[int]:
        """Stream every sample with ``valid`` held high (back-pressure does the pacing)
        and collect a result per sample.

        ``on_accept(t)`` is called when sample t is taken, ``on_result(t, y, flags,
        cycles)`` for each result (``cycles``: from acceptance to result). Returns the
        acceptance cycle of every sample.
        """
        d = self.dut
        accepted: list[int] = []
        T = len(xs)

        async def drive() -> None:
            for t in range(T):
                await FallingEdge(d.clk)
                d.sample__payload.value = self.codec.pack_sample(xs[t], ds[t])
                d.sample__valid.value = 1
                while not int(d.sample__ready.value):
                    await RisingEdge(d.sample__ready)
                    await FallingEdge(d.clk)
                await RisingEdge(d.clk)           # the handshake
                accepted.append(self.cycle())
                on_accept(t)
            await FallingEdge(d.clk)
            d.sample__valid.value = 0

        async def collect() -> None:
            d.result__ready.value = 1
            for t in range(T):
                await FallingEdge(d.clk)
                while not int(d.result__valid.value):
                    await RisingEdge(d.result__valid)
                    await FallingEdge(d.clk)
                y, flags = self.codec.unpack_result(int(d.result__payload.value))
                on_result(t, y, flags, self.cycle() - accepted[t])
                # the handshake happens at the next rising edge (ready is held high)

        drv = cocotb.start_soon(drive())
        await collect()
        await drv
        return accepted
