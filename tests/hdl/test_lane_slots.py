# amaranth: UnusedElaboratable=no
"""The one-multiplier lane (hdl/lane.py) in the sweep engine, against the integer model.

* hardtanh's φ' as a mask gives the bits of the model's second RQ (checked on the
  model's ``rq`` itself, every rounding mode, saturate and wrap);
* the engine word for word against step 7 for hardtanh and tanh, n = 1, 2, 3 and chains
  longer than n whose length does not divide n·q, dual- and single-port banks, with
  saturation exercised;
* mutation checks: the same tests fail when the ĉ slot comes one row early (before its
  S_new is ready), when it shares a cycle with a MAC, when the single-port loader
  does not wait for the write-back, and when rounds are too short for the G chain
  (a chain longer than a round: G of two rounds meet);
* the schedule is built from the lane's latencies.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from rtrledit.hdl import sweep
from rtrledit.hdl.lane import Lane
from rtrledit.hdl.sweep import SweepEngine, schedule
from rtrledit.model.config import Config, Formats, QFormat
from rtrledit.model.requant import ROUNDING_CODE, rq

from .test_sweep import _random_formats, _random_steps, run_engine_steps


# ----------------------------------------------------------------------------- mask == RQ2
@pytest.mark.parametrize("mode", ["floor", "half_up", "half_even"])
@pytest.mark.parametrize("wrap", [False, True])
def test_hardtanh_mask_is_the_second_rq(mode, wrap):
    """RQ(s1·φ', f_S + f_F → S) with φ' ∈ {0, 2^f_F} is ``φ' ? s1 : 0``, never clipped."""
    rng = random.Random(7)
    for wS in (4, 8, 12, 16, 18):
        for fF in range(0, 15):
            wF = fF + 2                       # F holds 1.0 exactly
            values = (range(-(1 << (wS - 1)), 1 << (wS - 1)) if wS <= 12 else
                      [-(1 << (wS - 1)), (1 << (wS - 1)) - 1, 0, 1, -1]
                      + [rng.randint(-(1 << (wS - 1)), (1 << (wS - 1)) - 1) for _ in range(500)])
            for s1 in values:
                for dphi in (0, 1 << fF):
                    assert -(1 << (wF - 1)) <= dphi < 1 << (wF - 1)
                    v, clipped = rq(s1 * dphi, fF, wS, ROUNDING_CODE[mode], wrap, 0)
                    assert (v, clipped) == ((s1 if dphi else 0), 0), (wS, fF, s1, dphi)


# ----------------------------------------------------------------------------- engine
# (n, m, lanes): n = 1, 2, 3; L > n with n·q % L != 0; L = n·q
# (2, 2, 4), (2, 1, 5): several rounds shorter than 2L - 1 without the G chain's padding
CASES = [(1, 1, 1), (1, 2, 4), (2, 1, 3), (2, 2, 10), (3, 1, 2), (3, 2, 7), (4, 1, 5),
         (2, 2, 4), (2, 1, 5), (2, 1, 8)]


def _case(idx: int, activation: str):
    n, m, lanes = CASES[idx]
    rng = random.Random(300 + idx)
    nrng = np.random.default_rng(300 + idx)
    fm = Formats.uniform(rng.choice([8, 12, 16])) if idx % 2 else _random_formats(rng)
    cfg = Config(hidden=n, inputs=m, formats=fm, activation=activation,
                 r_sens=("floor", "half_up", "half_even")[idx % 3],
                 overflow="wrap" if idx % 4 == 3 else "saturate")
    assert (n * cfg.q) % lanes or lanes in (1, n * cfg.q) or idx == len(CASES) - 1
    S0 = nrng.integers(cfg.formats.S.min, cfg.formats.S.max + 1, (n, n * cfg.q))
    steps = _random_steps(cfg, nrng, 3, S0, "mask" if activation == "hardtanh" else "any")
    assert sum(s[6] for s in steps) > 0, "test setup: no saturation exercised"
    return cfg, lanes, S0, steps


@pytest.mark.parametrize("spram", [False, True])
@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
@pytest.mark.parametrize("idx", range(len(CASES)))
def test_engine_matches_model(idx, activation, spram):
    cfg, lanes, S0, steps = _case(idx, activation)
    run_engine_steps(cfg, lanes, steps, S0=S0, spram=spram)


# ----------------------------------------------------------------------------- mutations
@pytest.mark.parametrize("mutation", ["chat_early", "chat_on_mac"])
@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
@pytest.mark.parametrize("idx", [2, 5, 6])
def test_mutated_slot_is_caught(idx, activation, mutation):
    """The ĉ slot one row early (its S_new not ready) or on a MAC cycle: S/G mismatch."""
    cfg, lanes, S0, steps = _case(idx, activation)
    run_engine_steps(cfg, lanes, steps, S0=S0)                    # the real engine passes
    with pytest.raises(AssertionError, match=r"step \d+: (S\[|G\[|sat_s)"):
        run_engine_steps(cfg, lanes, steps, S0=S0, check_cycles=False, mutation=mutation)


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
@pytest.mark.parametrize("idx", [2, 6])
def test_single_port_conflict_is_caught(idx, activation):
    """A single-port loader that reads while a write-back holds the port: S mismatch."""
    cfg, lanes, S0, steps = _case(idx, activation)
    with pytest.raises(AssertionError, match=r"step \d+: (S\[|G\[|sat_s)"):
        run_engine_steps(cfg, lanes, steps, S0=S0, spram=True, mutation="no_stall")


@pytest.mark.parametrize("idx", [7, 8])
def test_g_chain_collision_is_caught(idx):
    """Rounds of at least L but fewer than 2L − 1 cycles: a G of the next round reaches a
    lane in the cycle a G of this round passes it, and one is lost: G mismatch."""
    cfg, lanes, S0, steps = _case(idx, "hardtanh")
    sch = schedule(cfg, lanes, "g_collide")
    assert lanes <= sch["R"] < 2 * lanes - 1, "test setup: the mutation changes nothing"
    with pytest.raises(AssertionError, match=r"step \d+: G\["):
        run_engine_steps(cfg, lanes, steps, S0=S0, check_cycles=False, mutation="g_collide")


def test_mutation_parameter_checked():
    with pytest.raises(ValueError, match="mutation"):
        SweepEngine(Config(hidden=2, inputs=1), 1, mutation="nonsense")


# ----------------------------------------------------------------------------- schedule
@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
def test_schedule_comes_from_the_lane(activation, monkeypatch):
    """The cycle count follows the lane's latencies (no hand-counted tail)."""
    cfg = Config(hidden=5, inputs=2, activation=activation)
    base = schedule(cfg, 3)
    assert base["rowlen"] == 5 + Lane.slots_for(cfg)
    assert base["cycles"] == (base["s_end"] + sweep.CONTROL_LATENCY
                              + 2 * (Lane.forward_latency + Lane.g_forward_latency)
                              + Lane.latency + sweep.DONE_LATENCY)
    monkeypatch.setattr(Lane, "latency", Lane.latency + 2)
    assert schedule(cfg, 3)["cycles"] == base["cycles"] + 2
    # a slower sum pushes the slots a row later
    monkeypatch.setattr(Lane, "sum_latency", Lane.sum_latency + base["rowlen"])
    later = schedule(cfg, 3)
    assert later["lag_chat"] == base["lag_chat"] + 1
    assert later["cycles"] == base["cycles"] + 2 + base["rowlen"]


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
def test_one_multiplier_use(activation):
    """Cycles per sweep ≈ n²·nq/L · (n + slots)/n: the lanes' one multiplier is busy
    with MACs n of every n + slots cycles (n = 16, L = 8: ≥ 0.85 for hardtanh)."""
    cfg = Config(hidden=16, inputs=4, activation=activation)
    use = 16 ** 3 * cfg.q / (8 * schedule(cfg, 8)["cycles"])
    assert use >= (0.93 if activation == "hardtanh" else 0.88)
