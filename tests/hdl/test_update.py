"""The update unit in the Amaranth simulator against the integer model, word for word."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtrledit.hdl.update import UpdateUnit
from rtrledit.model import Config, FixedRTRL, Formats, QFormat
from rtrledit.model.config import SAT_NAMES


class Harness(wiring.Component):
    def __init__(self, cfg, theta, V, c):
        self.cfg, self.init = cfg, (theta, V, c)
        self.unit = UpdateUnit(cfg)
        fm, n, p, q = cfg.formats, cfg.n, cfg.p, cfg.q
        self.mems = {
            "W": Memory(shape=signed(fm.P.w), depth=n * n, init=theta[:, :n].ravel().tolist()),
            "U": Memory(shape=signed(fm.P.w), depth=n * (q - n), init=theta[:, n:].ravel().tolist()),
            "V": Memory(shape=signed(fm.O.w), depth=p * n, init=V.ravel().tolist()),
            "c": Memory(shape=signed(fm.O.w), depth=p, init=c.tolist()),
            "G": Memory(shape=signed(self.unit.g_width), depth=n * q, init=[]),
            "h": Memory(shape=signed(fm.H.w), depth=n, init=[]),
        }
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        u = m.submodules.unit = self.unit
        for name, mem in self.mems.items():
            m.submodules[name] = mem
        ports = {"W": ("w", True), "U": ("u", True), "V": ("v", True), "c": ("c", True),
                 "G": ("g", False), "h": ("h", False)}
        for name, (pre, writable) in ports.items():
            rd = self.mems[name].read_port()
            m.d.comb += [rd.addr.eq(getattr(u, f"{pre}_addr")), getattr(u, f"{pre}_data").eq(rd.data)]
            if writable:
                wr = self.mems[name].write_port()
                m.d.comb += [wr.addr.eq(getattr(u, f"{pre}_waddr")),
                             wr.data.eq(getattr(u, f"{pre}_wdata")),
                             wr.en.eq(getattr(u, f"{pre}_we"))]
        return m


@pytest.mark.parametrize("seed", range(10))
def test_update_unit_matches_the_model(seed):
    rng = np.random.default_rng(seed)
    w = int(rng.integers(8, 17))
    # seeds 7-9: O wider than P, so Θ and V/c have fits of their own
    wide_o = {"O": QFormat(w + 3, w - 4)} if seed >= 7 else {}
    fm = Formats.uniform(w, S=QFormat(w, w - 5), **wide_o)
    cfg = Config(hidden=int(rng.integers(1, 5)), inputs=int(rng.integers(1, 3)),
                 outputs=int(rng.integers(1, 3)), formats=fm,
                 r_upd=["floor", "half_up", "half_even", "stochastic"][seed % 4],
                 overflow=["saturate", "wrap"][seed % 2 if seed > 3 else 0],
                 eta=int(rng.integers(0, 6)), eta_o=int(rng.integers(0, 6)),
                 lfsr_seed=int(rng.integers(1, 2**32)))
    f = cfg.formats
    big = 0.6 if seed % 3 == 0 else 0.1

    def ints(fmt, shape):
        return np.clip(rng.normal(0, big * fmt.max, shape).round(), fmt.min, fmt.max).astype(np.int64)
    theta, V, c = ints(f.P, (cfg.n, cfg.q)), ints(f.O, (cfg.p, cfg.n)), ints(f.O, (cfg.p,))
    xs, ds = ints(f.X, (3, cfg.m)), ints(f.Y, (3, cfg.p))
    model = FixedRTRL(cfg, theta, V, c)
    tr = model.run(xs, ds, learn=True, trace=True).trace

    top = Harness(cfg, theta, V, c)
    u = top.unit
    got = []

    async def bench(ctx):
        for t in range(3):
            for i, g in enumerate(tr["G"][t].ravel()):
                ctx.set(top.mems["G"].data[i], int(g))
            for k, h in enumerate(tr["h"][t]):
                ctx.set(top.mems["h"].data[k], int(h))
            ctx.set(u.e, [int(v) for v in tr["e"][t]])
            ctx.set(u.start, 1)
            await ctx.tick()
            ctx.set(u.start, 0)
            sat, cycles = [0, 0], 1
            while not ctx.get(u.done):
                sat[0] += ctx.get(u.sat_theta)
                sat[1] += ctx.get(u.sat_v)
                await ctx.tick()
                cycles += 1
            rd = {name: [ctx.get(top.mems[name].data[i]) for i in range(top.mems[name].depth)]
                  for name in ("W", "U", "V", "c")}
            got.append((rd, sat, cycles, ctx.get(u.lfsr)))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    before = np.zeros(len(SAT_NAMES), np.int64)
    it, iv = SAT_NAMES.index("theta"), SAT_NAMES.index("v")
    for t, (rd, sat, cycles, lfsr) in enumerate(got):
        n = cfg.n
        assert rd["W"] == tr["theta"][t][:, :n].ravel().tolist(), f"step {t}: W"
        assert rd["U"] == tr["theta"][t][:, n:].ravel().tolist(), f"step {t}: U"
        assert rd["V"] == tr["V"][t].ravel().tolist(), f"step {t}: V"
        assert rd["c"] == tr["c"][t].tolist(), f"step {t}: c"
        delta = tr["sat"][t] - before
        before = tr["sat"][t]
        assert sat == [delta[it], delta[iv]], f"step {t}: saturation counts"
        assert cycles == cfg.n * cfg.q + cfg.p * cfg.n + cfg.p + 7
    assert got[-1][3] == model.lfsr
