"""The sensitivity sweep engine alone in Amaranth's simulator, and its cycle cost.

:class:`SweepHarness` wraps the :class:`~rtrledit.hdl.sweep.SweepEngine` with the RAMs the
core would own (W, φ', ĉ, z); :func:`load_operands` fills them and :func:`run_sweep` runs
one sweep. :func:`sweep_cycles` is the exact number of clock cycles the engine takes from
``start`` to ``done`` (see :func:`~rtrledit.hdl.sweep.schedule`); :func:`measure_sweep_cycles`
runs the engine in the simulator and counts them.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from ..hdl.sweep import SweepEngine, schedule
from ..model.config import Config

__all__ = ["sweep_cycles", "ideal_cycles", "measure_sweep_cycles", "SweepHarness",
           "load_operands", "run_sweep"]


def sweep_cycles(cfg: Config, lanes: int) -> int:
    """Clock cycles of one sweep, from the cycle ``start`` is sampled to the ``done`` cycle
    (:func:`~rtrledit.hdl.sweep.schedule`). For n ≥ 2, T = ceil(nq/L) and L ≤ n·(n + s): hardtanh
    (s = 1) ``T·n(n+1) + max(q, 4) + n + L + 5``, tanh (s = 2)
    ``T·n(n+2) + max(q, 4) + 2n + L + 7``.
    """
    return schedule(cfg, lanes)["cycles"]


def ideal_cycles(cfg: Config, lanes: int) -> float:
    """The work bound n·n·(n·q)/L (one MAC per PE per cycle, no overhead)."""
    n, q = cfg.n, cfg.q
    return n * n * n * q / lanes


class SweepHarness(Elaboratable):
    """A :class:`SweepEngine` with the RAMs its read ports expect (for simulation).

    ``w_mem`` (W, k·n + l), ``dphi_mem``, ``chat_mem``, ``z_mem``: load them from a testbench
    with ``ctx.set(h.w_mem.data[a], v)`` (depths are rounded up to powers of two so that any
    address the engine drives is in range). ``engine`` is the engine.
    """

    def __init__(self, cfg: Config, lanes: int, target: str | None = None,
                 spram: bool | None = None):
        self.cfg = cfg
        self.engine = SweepEngine(cfg, lanes, target, spram)
        e, fm = self.engine, cfg.formats

        def mem(shape, port):
            return Memory(shape=shape, depth=1 << len(port), init=[])

        self.w_mem = mem(signed(fm.P.w), e.w_addr)
        self.dphi_mem = mem(signed(fm.F.w), e.dphi_addr)
        self.chat_mem = mem(signed(fm.C.w), e.chat_addr)
        self.z_mem = mem(signed(fm.H.w), e.z_addr)

    def elaborate(self, platform):
        m = Module()
        e = self.engine
        m.submodules.engine = e
        for name, mm in (("w", self.w_mem), ("dphi", self.dphi_mem),
                         ("chat", self.chat_mem), ("z", self.z_mem)):
            m.submodules[name + "_mem"] = mm
            rd = mm.read_port()
            m.d.comb += [rd.addr.eq(getattr(e, name + "_addr")),
                         getattr(e, name + "_data").eq(rd.data)]
        return m


async def load_operands(ctx, h: SweepHarness, W, z, dphi, chat) -> None:
    """Write one step's W (n × n), z (q), φ' (n), ĉ (n) into the harness RAMs."""
    W = np.asarray(W)
    n = W.shape[0]
    for kk in range(n):
        for ll in range(n):
            ctx.set(h.w_mem.data[kk * n + ll], int(W[kk, ll]))
        ctx.set(h.dphi_mem.data[kk], int(dphi[kk]))
        ctx.set(h.chat_mem.data[kk], int(chat[kk]))
    for j, v in enumerate(z):
        ctx.set(h.z_mem.data[j], int(v))


async def run_sweep(ctx, h: SweepHarness, max_cycles: int | None = None):
    """Pulse ``start``, collect G writes until ``done``. Returns (cycles, {c: G}, sat):
    ``sat`` sums ``sat_inc`` from the start up to the cycle after ``done``."""
    e = h.engine
    limit = max_cycles or 4 * e.cycles + 100
    ctx.set(e.start, 1)
    await ctx.tick()
    ctx.set(e.start, 0)
    G = {}
    cycles = sat = 0
    while True:
        sat += ctx.get(e.sat_inc)
        cycles += 1
        if cycles > limit:
            raise RuntimeError(f"sweep did not finish within {limit} cycles")
        if ctx.get(e.g_en):
            c = ctx.get(e.g_addr)
            if c in G:
                raise RuntimeError(f"G[{c}] written twice in one sweep")
            G[c] = ctx.get(e.g_data)
        if ctx.get(e.done):
            await ctx.tick()
            return cycles, G, sat + ctx.get(e.sat_inc)
        await ctx.tick()


def measure_sweep_cycles(cfg: Config, lanes: int, seed: int = 0) -> int:
    """Run one sweep of random operands in Amaranth's simulator; return its cycle count
    (same definition as :func:`sweep_cycles`)."""
    rng = np.random.default_rng(seed)
    fm, n, q = cfg.formats, cfg.n, cfg.q
    h = SweepHarness(cfg, lanes)
    out = {}

    async def bench(ctx):
        W = rng.integers(fm.P.min, fm.P.max + 1, (n, n))
        z = rng.integers(fm.H.min, fm.H.max + 1, q)
        dphi = rng.integers(0, fm.F.one + 1, n)
        chat = rng.integers(fm.C.min, fm.C.max + 1, n)
        await load_operands(ctx, h, W, z, dphi, chat)
        out["cycles"], _, _ = await run_sweep(ctx, h)

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out["cycles"]
