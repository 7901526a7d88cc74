"""The requantiser and the LFSR against exact rational arithmetic (fractions)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtrledit.model import QFormat, dequantise, quantise
from rtrledit.model.requant import ROUNDING_CODE, fit, lfsr_next, rq

from tests.exact import lfsr_reference, rq_exact

MODES = ("floor", "half_up", "half_even", "stochastic")


def edge_values(s: int, w: int) -> list[int]:
    """Ties, near-ties, zero, -1, both saturation bounds (before the shift) and extremes."""
    vals = {0, -1, 1, 2**40 - 1, -(2**40)}
    unit = 2**s if s > 0 else 1
    for q in (-3, -2, -1, 0, 1, 2, 3, 2 ** (w - 1) - 1, 2 ** (w - 1), -(2 ** (w - 1)),
              -(2 ** (w - 1)) - 1):
        base = q * unit
        vals |= {base, base + 1, base - 1}
        if s > 0:
            half = unit // 2
            vals |= {base + half, base + half - 1, base + half + 1, base - half}
    return sorted(vals)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("s,w", [(0, 8), (-3, 12), (1, 4), (4, 8), (7, 16), (12, 16), (20, 9)])
@pytest.mark.parametrize("wrap", [False, True])
def test_rq_edges_match_rationals(mode, s, w, wrap):
    rng = np.random.default_rng(abs(s) * 100 + w)
    for v in edge_values(s, w):
        r = int(rng.integers(0, 2**32))
        got = rq(v, s, w, ROUNDING_CODE[mode], wrap, r)
        assert (int(got[0]), bool(got[1])) == rq_exact(v, s, w, mode, wrap, r), (v, s, w, mode)


@settings(max_examples=400, deadline=None)
@given(v=st.integers(-(2**50), 2**50), s=st.integers(-8, 40), w=st.integers(2, 32),
       mode=st.sampled_from(MODES), wrap=st.booleans(), r=st.integers(0, 2**32 - 1))
def test_rq_random_matches_rationals(v, s, w, mode, wrap, r):
    got = rq(v, s, w, ROUNDING_CODE[mode], wrap, r)
    assert (int(got[0]), bool(got[1])) == rq_exact(v, s, w, mode, wrap, r)


def test_half_even_ties_go_to_even():
    # 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4 (s = 1: v = 5, 7, -5, -7)
    assert [rq(v, 1, 8, ROUNDING_CODE["half_even"], False, 0)[0] for v in (5, 7, -5, -7)] == \
        [2, 4, -2, -4]
    # half_up: 2.5 -> 3, -2.5 -> -2; floor: -2.5 -> -3
    assert rq(5, 1, 8, ROUNDING_CODE["half_up"], False, 0)[0] == 3
    assert rq(-5, 1, 8, ROUNDING_CODE["half_up"], False, 0)[0] == -2
    assert rq(-5, 1, 8, ROUNDING_CODE["floor"], False, 0)[0] == -3


def test_stochastic_rounding_is_unbiased_over_the_lfsr():
    # v / 2^s = 3 + 5/16: the mean over many LFSR outputs approaches 3.3125.
    state, total, N = 0xACE1, 0, 20000
    for _ in range(N):
        state = lfsr_next(state)
        total += rq(3 * 16 + 5, 4, 16, ROUNDING_CODE["stochastic"], False, state)[0]
    assert abs(total / N - 3.3125) < 0.01


def test_fit_saturates_and_wraps():
    assert fit(200, 8, False) == (127, True)
    assert fit(-129, 8, False) == (-128, True)
    assert fit(128, 8, True) == (-128, True)
    assert fit(127, 8, True) == (127, False)


def test_lfsr_sequence_and_no_short_cycle():
    a = b = 0xACE1
    seen = set()
    for _ in range(100_000):
        a, b = lfsr_next(a), lfsr_reference(b)
        assert a == b and 0 < a < 2**32
        seen.add(a)
    assert len(seen) == 100_000  # no repeat within 1e5 steps


def test_quantise_round_trip_and_saturation():
    fmt = QFormat(8, 4)
    vals = np.array([0.0, 0.03125, 0.09375, -0.03125, 1.5, 100.0, -100.0])
    q = quantise(vals, fmt)
    assert q.tolist() == [0, 0, 2, 0, 24, 127, -128]  # 0.5 ulp ties go to even
    assert np.allclose(dequantise(q[:5], fmt), [0, 0, 0.125, 0, 1.5])
    with pytest.raises(ValueError):
        quantise([np.nan], fmt)
