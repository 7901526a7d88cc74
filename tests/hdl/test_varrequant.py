"""The run-time-shift requantiser against the model's rq for every shift it can take."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.requant import VariableRequantiser
from rtrledit.model.requant import ROUNDING_CODE, rq


@pytest.mark.parametrize("mode", ["floor", "half_up", "half_even", "stochastic"])
@pytest.mark.parametrize("in_width,base,out_width,wrap,max_amount",
                         [(20, 6, 10, False, 15), (16, -3, 12, True, 15), (24, 0, 8, False, 15),
                          (11, 0, 13, True, 15), (11, 0, 13, False, 15), (20, -2, 10, False, 9),
                          (30, 3, 34, False, 12), (20, 20, 8, False, 15), (12, 5, 6, True, 15)])
@pytest.mark.parametrize("early,split", [(False, False), (True, False), (True, True)])
def test_variable_requantiser_matches_rq(mode, in_width, base, out_width, wrap, max_amount,
                                         early, split):
    """Every amount up to ``max_amount`` (a bound below 2^4 - 1 shrinks the shifters; an
    ``out_width`` wider than the input is the exact, never-clipping use of the update).
    ``early``: the amount is given a cycle before the input, and changes every cycle;
    ``split``: the result comes a cycle after the input."""
    dut = VariableRequantiser(in_width, base, 4, out_width, mode, wrap, max_amount=max_amount,
                              early=early, split=split)
    rng = np.random.default_rng(in_width + base)
    lo, hi = -(1 << (in_width - 1)), (1 << (in_width - 1)) - 1
    cases = []
    for amount in range(max_amount + 1):
        s = base + amount
        vals = list(rng.integers(lo, hi + 1, 12)) + [lo, hi, 0, -1]
        if s > 0:
            vals += [(3 << s) + (1 << (s - 1)), (2 << s) + (1 << (s - 1)), -(1 << (s - 1))]
        for v in vals:
            if lo <= v <= hi:
                cases.append((int(v), amount, int(rng.integers(0, 2**32))))

    rng.shuffle(cases)

    async def bench(ctx):
        for k, (v, amount, r) in enumerate(cases):
            if early:                    # this case's amount now, the next one's after a tick
                if k == 0:
                    ctx.set(dut.amount, amount)
                    await ctx.tick()
                ctx.set(dut.amount, cases[k + 1][1] if k + 1 < len(cases) else 0)
            else:
                ctx.set(dut.amount, amount)
            ctx.set(dut.i, v)
            ctx.set(dut.rnd, r)
            want = rq(v, base + amount, out_width, ROUNDING_CODE[mode], wrap, r)
            if split:
                await ctx.tick()
                ctx.set(dut.i, -1)                  # the next input must not leak in
                ctx.set(dut.rnd, 0)
            got = (ctx.get(dut.o), ctx.get(dut.clipped))
            assert got == (int(want[0]), int(want[1])), (v, amount, r)
            if early and not split:
                await ctx.tick()

    sim = Simulator(dut)
    if early:
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
