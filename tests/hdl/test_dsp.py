# amaranth: UnusedElaboratable=no
"""The multiplier (hdl/dsp.py) in Amaranth's simulator: ``p`` is a·b exactly,
:attr:`Multiplier.latency` cycles after the operands, for random operands and the
extremes of their widths; its parameter checks. The board primitives are simulated on
their synthesised netlists in ``tests/sim/test_netlist.py``."""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.dsp import MULTIPLIER_WIDTH, Multiplier


def _extremes(w: int) -> list[int]:
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    return sorted({v for v in (lo, hi, lo + 1, -1, 0, 1) if lo <= v <= hi})


@pytest.mark.parametrize("widths", [(16, 16), (7, 13), (1, 18), (20, 4)])
def test_product_is_exact_one_latency_later(widths):
    aw, bw = widths
    rng = random.Random(aw * 100 + bw)
    pairs = [(a, b) for a in _extremes(aw) for b in _extremes(bw)]
    pairs += [(rng.randrange(-(1 << (aw - 1)), 1 << (aw - 1)),
               rng.randrange(-(1 << (bw - 1)), 1 << (bw - 1))) for _ in range(200)]
    dut = Multiplier(aw, bw)
    assert Multiplier.latency == 1
    checked = []

    async def bench(ctx):
        for a, b in pairs:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            await ctx.tick()          # one clock edge: the latency
            assert ctx.get(dut.p) == a * b, (a, b)
            checked.append((a, b))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert checked == pairs


def test_fitting_uses_the_primitive_only_when_the_operands_fit():
    assert Multiplier.fitting(18, 18, "ecp5").family == "ecp5"
    assert Multiplier.fitting(19, 18, "ecp5").family is None
    assert Multiplier.fitting(16, 16, "ice40").family == "ice40"
    assert Multiplier.fitting(17, 16, "ice40").family is None
    assert Multiplier.fitting(16, 16, None).family is None


@pytest.mark.parametrize("kwargs,word", [
    ({"a_width": 0, "b_width": 4}, "a_width"),
    ({"a_width": 4, "b_width": True}, "b_width"),
    ({"a_width": 4, "b_width": 4, "family": "gowin"}, "family"),
    ({"a_width": MULTIPLIER_WIDTH["ecp5"] + 1, "b_width": 4, "family": "ecp5"}, "exceed"),
    ({"a_width": 4, "b_width": 4, "mutation": "swap"}, "mutation"),
])
def test_bad_parameters_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Multiplier(**kwargs)
