"""The SnAp-1 engine in the Amaranth simulator against the integer model, word for word."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtrledit.hdl.snap1 import Snap1Engine
from rtrledit.hdl.sweep import S_PORT_LATENCY
from rtrledit.model import Config, FixedRTRL, Formats, QFormat
from rtrledit.model.config import SAT_NAMES


class Harness(wiring.Component):
    """The engine with W, φ', ĉ, z in RAMs the testbench fills before each sweep."""

    def __init__(self, cfg, spram=False):
        self.engine = Snap1Engine(cfg, spram=spram)
        fm, n, q = cfg.formats, cfg.n, cfg.q
        self.mems = {"w": Memory(shape=signed(fm.P.w), depth=n * n, init=[]),
                     "dphi": Memory(shape=signed(fm.F.w), depth=n, init=[]),
                     "chat": Memory(shape=signed(fm.C.w), depth=n, init=[]),
                     "z": Memory(shape=signed(fm.H.w), depth=q, init=[])}
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        e = m.submodules.engine = self.engine
        for name, mem in self.mems.items():
            m.submodules[name] = mem
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(getattr(e, f"{name}_addr")), getattr(e, f"{name}_data").eq(rd.data)]
        return m


@pytest.mark.parametrize("spram", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_snap1_engine_matches_the_model(seed, spram):
    """Every S word, G word and saturation count of every step; with single-port S
    (spram) one column every other cycle."""
    rng = np.random.default_rng(seed)
    w = int(rng.integers(8, 17))
    cfg = Config(hidden=int(rng.integers(1, 6)), inputs=int(rng.integers(1, 3)), approx="snap1",
                 activation=["hardtanh", "tanh"][seed % 2], tanh_bits=6,
                 formats=Formats.uniform(w, S=QFormat(w, w - 5)),
                 r_sens=["floor", "half_up", "half_even"][seed % 3],
                 overflow="wrap" if seed == 5 else "saturate", eta=3)
    f = cfg.formats
    big = 0.7 if seed % 3 == 0 else 0.15

    def ints(fmt, shape):
        return np.clip(rng.normal(0, big * fmt.max, shape).round(), fmt.min, fmt.max).astype(np.int64)
    theta0 = ints(f.P, (cfg.n, cfg.q))
    model = FixedRTRL(cfg, theta0, ints(f.O, (1, cfg.n)), ints(f.O, (1,)))
    T = 4
    tr = model.run(ints(f.X, (T, cfg.m)), ints(f.Y, (T, 1)), learn=True, trace=True).trace
    top = Harness(cfg, spram)
    e = top.engine
    got = []

    async def bench(ctx):
        n, q = cfg.n, cfg.q
        sat = 0
        for t in range(T):
            W = (theta0 if t == 0 else tr["theta"][t - 1])[:, :n]   # the old W of step t
            for name, vals in (("w", W.ravel()), ("dphi", tr["dphi"][t]),
                               ("chat", tr["chat"][t]), ("z", tr["z"][t])):
                for a, v in enumerate(vals):
                    ctx.set(top.mems[name].data[a], int(v))
            ctx.set(e.start, 1)
            await ctx.tick()
            ctx.set(e.start, 0)
            G = np.zeros(n * q, np.int64)
            cycles = 1
            while not ctx.get(e.done):
                sat += ctx.get(e.sat_inc)
                if ctx.get(e.g_en):
                    G[ctx.get(e.g_addr)] = ctx.get(e.g_data)
                await ctx.tick()
                cycles += 1
            sat += ctx.get(e.sat_inc)
            await ctx.tick()                  # sat_inc is registered: one cycle later
            sat += ctx.get(e.sat_inc)
            S = []
            for a in range(n * q + S_PORT_LATENCY):       # pipelined reads
                if a >= S_PORT_LATENCY:
                    S.append(ctx.get(e.s_rdata))
                ctx.set(e.s_c, min(a, n * q - 1))
                await ctx.tick()
            got.append((S, G.tolist(), cycles, sat))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for t, (S, G, cycles, sat) in enumerate(got):
        assert S == tr["S"][t].ravel().tolist(), f"step {t}: S"
        assert G == tr["G"][t].ravel().tolist(), f"step {t}: G"
        assert sat == tr["sat"][t][SAT_NAMES.index("s")], f"step {t}: saturation count of S"
        assert cycles == (2 * cfg.n * cfg.q + 4 if spram else cfg.n * cfg.q + 5)
