# amaranth: UnusedElaboratable=no
"""The HDL requantiser against the golden model :func:`rtrledit.model.requant.rq`.

Every rounding mode, saturate and wrap, several (in_width, shift, out_width) triples
(left shifts, shift >= in_width, shifts above the LFSR width), on edge values (ties,
values just around each saturation bound, the input's extremes, 0, -1) and seeded random
values; ``o`` and ``clipped`` must match exactly.
"""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.requant import Requantiser
from rtrledit.model.config import QFormat
from rtrledit.model.requant import ROUNDING_CODE, rq

MODES = ("floor", "half_up", "half_even", "stochastic")

# (in_width, shift, out_width)
TRIPLES = [
    (12, 4, 8),     # ordinary narrowing
    (16, 12, 6),    # shift with little output headroom
    (32, 14, 16),   # accumulator -> 16-bit format
    (10, 0, 6),     # no shift, pure saturation
    (8, -3, 12),    # exact left shift, always fits
    (8, -3, 9),     # exact left shift that can saturate
    (6, 6, 4),      # shift == in_width
    (6, 9, 3),      # shift > in_width (result in {-1, 0, 1})
    (40, 35, 5),    # shift beyond the 32-bit LFSR word
    (20, 1, 20),    # 1-bit shift, output as wide as the input
    (5, 2, 1),      # 1-bit output
]


def _edge_inputs(in_width: int, shift: int, out_width: int) -> list[int]:
    """Ties, bounds of the output mapped back to the input scale, input extremes."""
    lo_in, hi_in = -(1 << (in_width - 1)), (1 << (in_width - 1)) - 1
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    vals = {lo_in, lo_in + 1, hi_in, hi_in - 1, 0, 1, -1, 2, -2}
    if shift > 0:
        one, half = 1 << shift, 1 << (shift - 1)
        deltas = {0, 1, -1, half, half - 1, half + 1, -half, -half - 1, -half + 1,
                  one - 1, one, -one}
        for base in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 0, 1, -1, 2, -2, 3, -3):
            vals.update(base * one + d for d in deltas)
    else:
        for base in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1):
            # the inputs whose left shift lands nearest to each bound
            vals.update({(base >> -shift) + d for d in (-1, 0, 1)})
    return sorted(v for v in vals if lo_in <= v <= hi_in)


def _stimuli(in_width: int, shift: int, out_width: int, mode: str,
             n_random: int = 150) -> list[tuple[int, int]]:
    rng = random.Random(f"{in_width}/{shift}/{out_width}/{mode}")
    lo_in, hi_in = -(1 << (in_width - 1)), (1 << (in_width - 1)) - 1
    rnds = [0, 0xFFFFFFFF, 1, 0x80000000]
    if 0 < shift <= 32:
        rnds += [(1 << shift) - 1, 1 << (shift - 1), (1 << (shift - 1)) - 1]
    pairs = []
    for v in _edge_inputs(in_width, shift, out_width):
        if mode == "stochastic":
            pairs += [(v, r) for r in rnds]
            pairs.append((v, rng.getrandbits(32)))
        else:
            pairs.append((v, rng.getrandbits(32)))   # rnd must be ignored
    for _ in range(n_random):
        pairs.append((rng.randint(lo_in, hi_in), rng.getrandbits(32)))
    # a stretch of consecutive inputs around zero exercises every residue
    pairs += [(v, rng.getrandbits(32)) for v in range(max(lo_in, -40), min(hi_in, 40) + 1)]
    return pairs


def run_requantiser(dut: Requantiser, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drive ``(i, rnd)`` pairs through ``dut`` in the simulator; return ``(o, clipped)``."""
    results: list[tuple[int, int]] = []

    async def bench(ctx):
        for v, r in pairs:
            ctx.set(dut.i, v)
            ctx.set(dut.rnd, r)
            results.append((ctx.get(dut.o), ctx.get(dut.clipped)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return results


def expected(v: int, shift: int, out_width: int, mode: str, wrap: bool, r: int) -> tuple[int, int]:
    o, c = rq(v, shift, out_width, ROUNDING_CODE[mode], wrap, r)
    return int(o), int(c)


@pytest.mark.parametrize("wrap", [False, True], ids=["sat", "wrap"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("in_width,shift,out_width", TRIPLES,
                         ids=[f"{a}s{b}to{c}" for a, b, c in TRIPLES])
def test_matches_model(in_width: int, shift: int, out_width: int, mode: str, wrap: bool) -> None:
    dut = Requantiser(in_width, shift, out_width, mode, wrap)
    pairs = _stimuli(in_width, shift, out_width, mode)
    got = run_requantiser(dut, pairs)
    bad = [(v, r, g, expected(v, shift, out_width, mode, wrap, r))
           for (v, r), g in zip(pairs, got) if g != expected(v, shift, out_width, mode, wrap, r)]
    assert not bad, (f"{len(bad)} of {len(pairs)} mismatches; first (i, rnd, (o, clipped) hw, "
                     f"model): {bad[:5]}")


def test_edges_really_hit_ties_and_saturation() -> None:
    """The edge stimuli include exact ties and both saturation directions (non-vacuity)."""
    in_width, shift, out_width = 12, 2, 8
    vals = _edge_inputs(in_width, shift, out_width)
    assert any(v % 4 == 2 for v in vals)                        # ties
    outs = [expected(v, shift, out_width, "half_even", False, 0) for v in vals]
    assert (127, 1) in outs and (-128, 1) in outs and (127, 0) in outs and (-128, 0) in outs


def test_half_even_ties_known_values() -> None:
    """Hand-checked ties: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4 (shift 1: v = 2x)."""
    dut = Requantiser(8, 1, 8, "half_even")
    got = run_requantiser(dut, [(5, 0), (7, 0), (-5, 0), (-7, 0), (1, 0), (-1, 0)])
    assert [o for o, _ in got] == [2, 4, -2, -4, 0, 0]


def test_from_formats() -> None:
    dut = Requantiser.from_formats(32, 24, QFormat(16, 12), "half_up")
    assert (dut.in_width, dut.shift, dut.out_width, dut.mode) == (32, 12, 16, "half_up")
    assert run_requantiser(dut, [(3 << 11, 0), (-(1 << 30), 0)]) == [(2, 0), (-(1 << 15), 1)]


@pytest.mark.parametrize("kwargs,name", [
    (dict(in_width=0, shift=1, out_width=8, mode="floor"), "in_width"),
    (dict(in_width=8, shift=1.5, out_width=8, mode="floor"), "shift"),
    (dict(in_width=8, shift=1, out_width=0, mode="floor"), "out_width"),
    (dict(in_width=8, shift=1, out_width=8, mode="nearest"), "mode"),
    (dict(in_width=8, shift=1, out_width=8, mode="floor", wrap=1), "wrap"),
    (dict(in_width=True, shift=1, out_width=8, mode="floor"), "in_width"),
])
def test_bad_parameters(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"'{name}'"):
        Requantiser(**kwargs)
