"""The forward unit in the Amaranth simulator against the integer model's trace, word for word."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtrledit.hdl.forward import SAT_INDEX, ForwardUnit
from rtrledit.model import Config, FixedRTRL, Formats, QFormat
from rtrledit.model.config import SAT_NAMES


class Harness(wiring.Component):
    """The unit with Θ, V, c in RAMs initialised from the test's integers."""

    def __init__(self, cfg, theta, V, c):
        self.cfg, self.init = cfg, (theta, V, c)
        self.unit = ForwardUnit(cfg)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = u = self.unit
        fm = self.cfg.formats
        theta, V, c = self.init
        n = self.cfg.n
        W, U = theta.reshape(n, -1)[:, :n].ravel(), theta.reshape(n, -1)[:, n:].ravel()
        for name, vals, w, addr, dat in (("w", W, fm.P.w, u.w_addr, u.w_data),
                                          ("u", U, fm.P.w, u.u_addr, u.u_data),
                                          ("v", V, fm.O.w, u.v_addr, u.v_data),
                                          ("c", c, fm.O.w, u.c_addr, u.c_data)):
            from amaranth.hdl import signed
            mem = Memory(shape=signed(w), depth=len(vals), init=[int(v) for v in vals])
            m.submodules[name] = mem
            rd = mem.read_port()
            m.d.comb += [rd.addr.eq(addr), dat.eq(rd.data)]
        return m


def run_forward(cfg, theta, V, c, h0, xs, ds):
    """Simulate len(xs) forward passes; returns per step dict of z, a-less outputs."""
    top = Harness(cfg, theta.ravel(), V.ravel(), c)
    u = top.unit
    out = []

    async def bench(ctx):
        for k, v in enumerate(h0):
            ctx.set(u.h_waddr, k)
            ctx.set(u.h_wdata, int(v))
            ctx.set(u.h_we, 1)
            await ctx.tick()
        ctx.set(u.h_we, 0)
        for x, d in zip(xs, ds):
            ctx.set(u.x, [int(v) for v in x])
            ctx.set(u.d, [int(v) for v in d])
            ctx.set(u.start, 1)
            await ctx.tick()
            ctx.set(u.start, 0)
            sat = np.zeros(len(SAT_NAMES), np.int64)
            cycles = 1
            while not ctx.get(u.done):
                sat += [(ctx.get(u.sat_inc) >> i) & 1 for i in range(len(SAT_NAMES))]
                await ctx.tick()
                cycles += 1
            await ctx.tick()
            step = {"y": list(ctx.get(u.y)), "e": list(ctx.get(u.e)), "sat": sat,
                    "cycles": cycles}
            for name, addr, dat, size in (("z", u.z_addr, u.z_data, cfg.q),
                                          ("h", u.h_addr, u.h_data, cfg.n),
                                          ("dphi", u.dphi_addr, u.dphi_data, cfg.n),
                                          ("chat", u.chat_addr, u.chat_data, cfg.n)):
                vals = []
                for i in range(size):
                    ctx.set(addr, i)
                    await ctx.tick()
                    vals.append(ctx.get(dat))
                step[name] = vals
            out.append(step)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


def random_case(seed):
    rng = np.random.default_rng(seed)
    fm = {L: QFormat(int(w), int(w) - 2 if L in "HF" else int(rng.integers(3, w - 2)))
          for L, w in zip("XHPAFOYCS", rng.integers(8, 19, 9))}
    fm["S"] = QFormat(18, max(fm["H"].f - fm["P"].f, 4))  # f_P + f_S >= f_H
    if seed >= 12:      # a and y (seed 13: and ĉ) requantised alike: one shared requantiser
        fm["O"] = fm["P"]
        fm["Y"] = fm["C"] = fm["A"] = fm["H"] if seed == 13 else fm["A"]
    cfg = Config(hidden=int(rng.integers(1, 6)), inputs=int(rng.integers(1, 4)),
                 outputs=int(rng.integers(1, 4)), activation=["hardtanh", "tanh"][seed % 2],
                 formats=Formats(**fm), r_fwd=["floor", "half_up", "half_even"][seed % 3],
                 overflow=["saturate", "wrap"][(seed // 3) % 2], tanh_bits=6)
    f = cfg.formats
    scale = [0.05, 0.4][(seed // 2) % 2]   # the larger scale saturates things

    def ints(fmt, shape):
        return np.clip(rng.normal(0, scale * fmt.max, shape).round(), fmt.min, fmt.max).astype(np.int64)
    return (cfg, ints(f.P, (cfg.n, cfg.q)), ints(f.O, (cfg.p, cfg.n)), ints(f.O, (cfg.p,)),
            ints(f.H, cfg.n), ints(f.X, (4, cfg.m)), ints(f.Y, (4, cfg.p)))


@pytest.mark.parametrize("seed", range(14))
def test_forward_unit_matches_the_model(seed):
    cfg, theta, V, c, h0, xs, ds = random_case(seed)
    model = FixedRTRL(cfg, theta, V, c)
    model.h[:] = h0
    tr = model.run(xs, ds, learn=False, track=False, trace=True).trace
    hw = run_forward(cfg, theta, V, c, h0, xs, ds)
    before = np.zeros(len(SAT_NAMES), np.int64)
    for t, step in enumerate(hw):
        for name in ("z", "h", "dphi", "chat", "y", "e"):
            assert step[name] == tr[name][t].tolist(), f"step {t}: {name}"
        forward_names = [i for n, i in SAT_INDEX.items() if n not in ("s", "theta", "v")]
        delta = tr["sat"][t] - before
        before = tr["sat"][t]
        assert step["sat"][forward_names].tolist() == delta[forward_names].tolist(), \
            f"step {t}: saturation counts"
        n, p, q = cfg.n, cfg.p, cfg.q
        assert step["cycles"] == q + n * q + p * n + n * p + 17, (step["cycles"], n, p, q)
