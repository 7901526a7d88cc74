"""The host register model, with no device: hand-worked addresses and words, and a state
that goes through a memory of words and comes back whole."""

import numpy as np
import pytest

from rtrledit.firmware import RegisterModel
from rtrledit.model.config import SAT_NAMES, Config
from rtrledit.model.fixed import FixedRTRL

from .common import int_params


def test_s_layout_by_hand():
    # n = 3, m = 2: q = 6, n·q = 18 columns, so 5 column bits: S[k, i, j] at k·32 + i·6 + j
    cfg = Config(hidden=3, inputs=2)
    rm = RegisterModel(cfg)
    base = rm.map["S"].base
    assert [(s.addr - base, s.count) for s in rm.s_spans()] == [(0, 18), (32, 18), (64, 18)]
    snap = RegisterModel(Config(hidden=3, inputs=2, approx="snap1"))
    assert [(s.addr - snap.map["S"].base, s.count) for s in snap.s_spans()] == [(0, 18)]


def test_register_words_by_hand():
    rm = RegisterModel(Config(hidden=2))
    assert rm.mode(True) == 0b11 and rm.mode(False) == 0 and rm.mode(False, True) == 0b10
    assert rm.mode(True, pulses=["reset_state"]) == 0x103
    assert rm.learning(0x102) == (False, True)
    assert rm.learning_rates(8, 6) == 0x0608
    assert rm.busy(1) and not rm.busy(2) and rm.error(2)
    with pytest.raises(ValueError, match=r"ETA\.ETA_O = 40"):
        rm.learning_rates(3, 40)


def test_check_shape_compares_every_field():
    rm = RegisterModel(Config(hidden=4, inputs=1))
    rm.check_shape(0x00010104)                       # n 4, m 1, p 1
    with pytest.raises(ValueError, match=r"0x00010105, the config's is 0x00010104, n = 5 "
                       r"\(the config: 4\)$"):
        rm.check_shape(0x00010105)
    with pytest.raises(ValueError, match=r"snap1 = 1 \(the config: 0\)$"):
        rm.check_shape(0x00210104)
    with pytest.raises(ValueError, match="reads 0x40010104"):    # bits outside the fields
        rm.check_shape(0x40010104)


@pytest.mark.parametrize("cfg", [Config(hidden=3, inputs=2), Config(hidden=2, inputs=1,
                                                                     approx="snap1")])
def test_state_round_trip_through_a_word_memory(cfg):
    rm = RegisterModel(cfg)
    theta, V, c = int_params(cfg, seed=1)
    model = FixedRTRL(cfg, theta, V, c)
    rng = np.random.default_rng(0)
    model.run(rng.integers(-200, 200, (5, cfg.m)), rng.integers(-200, 200, (5, cfg.p)))
    st = model.state()
    mem: dict[int, int] = {}
    for run in rm.state(st):
        for i, v in enumerate(run.values):
            mem[run.addr + i] = v & 0xFFFFFFFF                  # what the bus stores
    mem[rm.map["STEPS"].addr] = st["steps"]
    for i, s in enumerate(SAT_NAMES):
        mem[rm.map[f"SAT_{s.upper()}"].addr] = int(st["sat"][i])
    got = rm.decode_state([[mem.get(s.addr + i, 0) for i in range(s.count)]
                           for s in rm.state_spans()])
    for k in ("theta", "V", "c", "h", "S"):
        np.testing.assert_array_equal(got[k], st[k])
    assert (got["lfsr"], got["steps"]) == (st["lfsr"], st["steps"])
    assert got["sat"] == dict(zip(SAT_NAMES, st["sat"].tolist()))


def test_window_values_are_checked_against_the_format():
    cfg = Config(hidden=2)
    rm = RegisterModel(cfg)
    top = cfg.formats.P.max
    assert rm.window("W", [top, -top - 1, 0, 1]).values == (top, -top - 1, 0, 1)
    with pytest.raises(ValueError, match="window W: values outside"):
        rm.window("W", [top + 1, 0, 0, 0])
    with pytest.raises(ValueError, match="window C: 2 words from 0 do not fit its 1"):
        rm.window("C", [0, 0])
