"""Profiling and automatic formats (rtrledit.model.profile, ``rtrledit profile``)."""

import json

import numpy as np
import pytest

from rtrledit.cli import main
from rtrledit.model import SAT_NAMES, Config, Formats, QFormat, tasks
from rtrledit.model.profile import (QUANTITIES, check_config, plot_profile, profile,
                                    propose_config)


@pytest.fixture(scope="module")
def sine():
    return tasks.sine(steps=2000, seed=0)


@pytest.fixture(scope="module")
def prof(sine):
    return profile(Config(hidden=8), sine)


def test_profile_records_every_quantity(prof, sine):
    assert set(prof.stats) == set(QUANTITIES)
    x = prof.stats["x"]
    assert x.count == sine.steps
    assert x.min == sine.xs.min() and x.max == sine.xs.max()
    assert prof.stats["d"].absmax == np.abs(sine.ds).max()
    # hardtanh: |h| <= 1 and phi' is a 0/1 mask
    assert prof.stats["h"].absmax <= 1.0
    assert set(np.unique(prof.stats["dphi"].sample)) <= {0.0, 1.0}
    n, q = 8, 10
    assert prof.stats["S"].count == sine.steps * n * n * q
    assert prof.stats["theta"].count == sine.steps * n * q
    # the update sizes are eta times the gradients (eta = 2^-8 by default)
    assert prof.stats["dtheta"].absmax == pytest.approx(prof.stats["G"].absmax * 2.0**-8)
    assert set(prof.saturation) == set(SAT_NAMES)
    assert prof.mse_float[1] < prof.mse_float[0] and prof.mse_fixed[1] < prof.mse_fixed[0]
    d = prof.to_dict()
    json.dumps(d)  # JSON-able
    assert d["quantities"]["x"]["max"] == sine.xs.max()


def test_fraction_below(prof):
    st = prof.stats["S"]
    assert st.fraction_below(2.0**-70) == 0.0
    assert st.fraction_below(2.0**40) == 1.0
    a, b = st.fraction_below(2.0**-12), st.fraction_below(2.0**-6)
    assert 0 < a < b < 1


def test_proposal_integer_and_fraction_bits(prof):
    st = prof.stats
    st_S, st_P = st["S"].absmax, st["theta"].absmax
    try:
        st["S"].absmax = 5.0      # needs 3 integer bits (2^3 > 5), + 1 margin
        st["theta"].absmax = 0.3  # needs 0 integer bits, + 1 margin
        p = propose_config(prof, budget=16, margin=1)
        assert p.cfg.formats.S == QFormat(16, 16 - 1 - 4)
        assert p.cfg.formats.P == QFormat(16, 16 - 1 - 1)
        assert p.int_bits["S"] == 4 and p.int_bits["P"] == 1
        # hardtanh: h and phi' are bounded by construction: no margin on them, but they
        # must hold ±1, so H and F keep at least one integer bit
        assert p.int_bits["F"] == 1 and p.cfg.formats.F.f <= p.cfg.formats.F.w - 2
        assert any(r.startswith("S = Q(16,11)") for r in p.reasons)
        # a per-letter budget
        p = propose_config(prof, budget={"S": 12, "P": 10}, margin=0)
        assert p.cfg.formats.S == QFormat(12, 12 - 1 - 3)
        assert p.cfg.formats.X.w == 16
        # a budget too narrow for the range widens the format
        st["S"].absmax = 100.0    # 7 integer bits
        p = propose_config(prof, budget=6, margin=1)
        assert p.cfg.formats.S.w - 1 - p.cfg.formats.S.f >= 8
        assert any("widened" in r for r in p.reasons)
    finally:
        st["S"].absmax, st["theta"].absmax = st_S, st_P


def test_proposal_keeps_the_zterm_rule_and_picks_stochastic_rounding(prof):
    p = propose_config(prof, budget=8)
    fm = p.cfg.formats
    assert fm.P.f + fm.S.f >= fm.H.f
    # at 8 bits, every Θ update is far below half an LSB of P: nearest would drop them
    assert p.cfg.r_upd == "stochastic"
    assert any(r.startswith("r_upd = stochastic") for r in p.reasons)
    p24 = propose_config(prof, budget=24)
    assert p24.cfg.r_upd == "half_even"   # 20 fraction bits resolve the updates


def test_proposed_config_learns_and_is_accepted_by_train(prof, sine, tmp_path, capsys):
    p = propose_config(prof, budget=12)
    check = check_config(p.cfg, sine)
    assert check["learns"], check
    assert check["mse_last_fixed"] < 0.2 * check["mse_first_fixed"]
    path = tmp_path / "proposed.toml"
    p.cfg.save(path)
    assert Config.load(path) == p.cfg
    assert main(["train", "--config", str(path), "--steps", "1000", "--model", "fixed",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["mse_last"] < r["mse_first"]


def test_check_fails_for_a_config_that_cannot_learn(sine):
    # 6-bit Θ, V and c, nearest rounding: no update survives requantisation
    bad = Config(hidden=8, formats=Formats.uniform(16, P=QFormat(6, 2), O=QFormat(6, 4)))
    check = check_config(bad, sine)
    assert not check["learns"]


def test_plot(prof, tmp_path):
    png = tmp_path / "p.png"
    plot_profile(prof, png, proposed=propose_config(prof, budget=12).cfg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_profile_writes_a_config_that_learns(tmp_path, capsys):
    out, png = tmp_path / "c.json", tmp_path / "prof.png"
    rc = main(["profile", "--hidden", "6", "--steps", "1500", "--budget", "12", "--json",
               "-o", str(out), "--plot", str(png)])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["check"]["learns"] and r["wrote"] == str(out)
    cfg = Config.load(out)
    assert cfg.n == 6 and all(getattr(cfg.formats, L).w == 12 for L in "XPSCY")
    assert png.exists()
    assert r["proposal"]["reasons"] and set(r["profile"]["quantities"]) == set(QUANTITIES)


def test_cli_profile_bad_input(tmp_path, capsys):
    assert main(["profile", "--task", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown task" in err
    assert main(["profile", "-o", str(tmp_path / "c.txt"), "--steps", "10"]) == 2
