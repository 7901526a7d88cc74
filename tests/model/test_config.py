"""Config validation, derived widths and serialisation."""

import json

import numpy as np
import pytest

from rtrledit.model import Config, FixedRTRL, Formats, QFormat
from rtrledit.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def test_defaults_work():
    cfg = Config(hidden=16, inputs=1, outputs=1)
    assert cfg.q == 18 and cfg.s_shape == (16, 16, 18)
    assert Config(hidden=4, approx="snap1").s_shape == (4, 6)


@pytest.mark.parametrize("kwargs,field", [
    ({"hidden": 0}, "hidden"),
    ({"hidden": 2, "inputs": -1}, "inputs"),
    ({"hidden": 2, "activation": "relu"}, "activation"),
    ({"hidden": 2, "approx": "snap2"}, "approx"),
    ({"hidden": 2, "r_fwd": "stochastic"}, "r_fwd"),
    ({"hidden": 2, "r_sens": "nearest"}, "r_sens"),
    ({"hidden": 2, "overflow": "clip"}, "overflow"),
    ({"hidden": 2, "eta": -1}, "eta"),
    ({"hidden": 2, "lfsr_seed": 0}, "lfsr_seed"),
    ({"hidden": 2, "formats": Formats(S=QFormat(8, 9))}, "formats.S"),
    ({"hidden": 2, "formats": Formats(F=QFormat(8, 7))}, "formats.F"),
    ({"hidden": 2, "formats": Formats(H=QFormat(8, 7))}, "formats.H"),
    ({"hidden": 2, "formats": Formats(P=QFormat(16, 2), S=QFormat(16, 2))}, "formats.S"),
    ({"hidden": 2, "formats": Formats(P=QFormat(32, 12), S=QFormat(32, 12))}, "formats"),
])
def test_bad_configs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"config field '{field}'"):
        Config(**kwargs)


def test_exact_sum_widths_follow_the_rule():
    cfg = Config(hidden=16, inputs=4, outputs=3, formats=Formats.uniform(12))
    # w1 + w2 + ceil(log2 terms)
    assert cfg.acc_widths["a"] == 12 + 12 + 5      # q = 21 terms
    assert cfg.acc_widths["u"] == 12 + 12 + 5      # n + 1 = 17 terms
    assert cfg.acc_widths["chat"] == 12 + 12 + 2   # p = 3 terms
    assert cfg.acc_widths["g"] == 12 + 12 + 4      # n = 16 terms


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_save_load_round_trip(tmp_path, suffix):
    cfg = Config(hidden=5, inputs=2, outputs=3, activation="tanh", approx="snap1",
                 formats=Formats.uniform(14, S=(18, 10)), r_upd="stochastic", eta=6,
                 overflow="wrap", lfsr_seed=12345)
    cfg.save(tmp_path / f"c{suffix}")
    assert Config.load(tmp_path / f"c{suffix}") == cfg


def test_load_rejects_unknown_fields_and_bad_files(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"hidden": 4, "hiden": 3}))
    with pytest.raises(ValueError, match="'hiden': unknown field"):
        Config.load(p)
    p.write_text(json.dumps({"hidden": 4, "formats": {"Q": [8, 4]}}))
    with pytest.raises(ValueError, match="formats.Q"):
        Config.load(p)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid"):
        Config.load(p)
    with pytest.raises(ValueError, match="cannot read"):
        Config.load(tmp_path / "missing.toml")


def test_checkpoint_resumes_bit_exactly(tmp_path):
    cfg = Config(hidden=4, inputs=1, outputs=1, r_upd="stochastic", eta=4)
    rng = np.random.default_rng(3)
    th = rng.integers(-300, 300, (4, cfg.q))
    xs = rng.integers(-2000, 2000, (100, 1))
    ds = rng.integers(-2000, 2000, (100, 1))
    a = FixedRTRL(cfg, th, [[100, -50, 20, 3]], [0])
    a.run(xs[:50], ds[:50])
    save_checkpoint(tmp_path / "ck.npz", Checkpoint(cfg, {"fixed": a.state()}))
    ck = load_checkpoint(tmp_path / "ck.npz")
    assert ck.cfg == cfg
    b = FixedRTRL(cfg, **ck.fixed_params())
    b.load_state(ck.arrays["fixed"])
    assert np.array_equal(a.run(xs[50:], ds[50:]).y, b.run(xs[50:], ds[50:]).y)
    assert np.array_equal(a.theta, b.theta) and a.lfsr == b.lfsr


def test_checkpoint_rejects_foreign_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an rtrledit checkpoint"):
        load_checkpoint(tmp_path / "x.npz")
    (tmp_path / "y.npz").write_text("garbage")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "y.npz")
