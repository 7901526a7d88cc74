"""The two W·S paths of the integer model give the same integers, and the measured choice
between them (rtrledit.model.calibrate) is cached and can be overridden.

The int64-loop path is checked against exact rational arithmetic (tests/exact.py) in
tests/model/test_fixed.py and here at a larger n; the float64 path (BLAS product, float64
requantisation, S kept as float64 between steps) is checked against it word for word.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtrledit.model import SAT_NAMES, Config, FixedRTRL, Formats, QFormat, calibrate, fixed
from rtrledit.model.fixed import float_exact, kernel_constants, tanh_table

from tests.exact import reference_run
from tests.model.test_fixed import model_S_as_dict, random_config, random_ints


def sized_config(rng: np.random.Generator, n: int) -> Config:
    """A random valid Config (any formats, roundings, overflow, activation) with n hidden."""
    while True:
        try:
            return random_config(rng).replace(hidden=n)
        except ValueError:
            continue


def random_model_args(rng, cfg: Config, T: int):
    """Parameters, a carried-in S and a stream, scaled so that saturation happens."""
    fm = cfg.formats
    scale = float(rng.choice([0.05, 0.3, 0.7]))
    params = (random_ints(rng, fm.P, (cfg.n, cfg.q), scale),
              random_ints(rng, fm.O, (cfg.p, cfg.n), scale),
              random_ints(rng, fm.O, (cfg.p,), scale))
    S0 = random_ints(rng, fm.S, cfg.s_shape, scale)
    xs = random_ints(rng, fm.X, (T, cfg.m), scale)
    ds = random_ints(rng, fm.Y, (T, cfg.p), scale)
    return params, S0, xs, ds


def run_path(cfg, params, S0, xs, ds, blas: bool, chunks: int = 1, **kw):
    """One model on one path, run over the stream in ``chunks`` calls: (model, runs)."""
    model = FixedRTRL(cfg, *params, blas=blas)
    assert model._K.blas == (blas and float_exact(cfg))
    model.S[...] = S0
    bounds = np.linspace(0, len(xs), chunks + 1).astype(int)
    return model, [model.run(xs[a:b], ds[a:b], **kw) for a, b in zip(bounds, bounds[1:])]


def assert_same_words(a, b, ra, rb) -> None:
    """Every output word, every gradient and every word of the final state equal."""
    for x, y in zip(ra, rb):
        assert np.array_equal(x.y, y.y) and np.array_equal(x.e, y.e)
        assert np.array_equal(x.flags, y.flags)
        if x.G is not None:
            assert np.array_equal(x.G, y.G)
        if x.trace is not None:
            for k in x.trace:
                assert np.array_equal(x.trace[k], y.trace[k]), k
    for k, v in a.state().items():
        assert np.array_equal(v, b.state()[k]), k


SIZES = (1, 2, 3, 5, 7, 8, 9, 12, 16)   # both sides of any threshold calibrate measures


@pytest.mark.parametrize("seed", range(36))
def test_float_and_integer_paths_give_the_same_words(seed):
    rng = np.random.default_rng(1000 + seed)
    cfg = sized_config(rng, SIZES[seed % len(SIZES)])
    if seed % 6 == 0:
        cfg = cfg.replace(r_upd="stochastic")
    T = 8 if cfg.n <= 9 else 4
    params, S0, xs, ds = random_model_args(rng, cfg, T)
    kw = dict(keep_grads=True, trace=seed % 3 == 0, learn=seed % 5 != 4)
    a, ra = run_path(cfg, params, S0, xs, ds, blas=True, chunks=1 + seed % 3, **kw)
    b, rb = run_path(cfg, params, S0, xs, ds, blas=False, chunks=1 + seed % 3, **kw)
    assert_same_words(a, b, ra, rb)


def test_the_random_configs_exercise_the_float_path_fully():
    """Worth something only if the float path is taken with saturation (in S too), wrap,
    every deterministic rounding, both activations and stochastic updates."""
    seen = set()
    for seed in range(36):
        rng = np.random.default_rng(1000 + seed)
        cfg = sized_config(rng, SIZES[seed % len(SIZES)])
        if seed % 6 == 0:
            cfg = cfg.replace(r_upd="stochastic")
        if not (float_exact(cfg)):
            continue
        params, S0, xs, ds = random_model_args(rng, cfg, 8 if cfg.n <= 9 else 4)
        model, _ = run_path(cfg, params, S0, xs, ds, blas=True)
        seen |= {name for name, v in zip(SAT_NAMES, model.sat) if v}
        seen |= {cfg.activation, cfg.overflow, "sens-" + cfg.r_sens, "upd-" + cfg.r_upd}
    assert seen >= {"s", "a", "theta", "hardtanh", "tanh", "wrap", "saturate", "sens-floor",
                    "sens-half_up", "sens-half_even", "upd-stochastic"}, seen


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
def test_float_path_equals_exact_arithmetic_at_n_10(activation):
    """The float64 path against the rational-arithmetic reference, at a size above the
    ones tests/model/test_fixed.py uses, with saturation and stochastic updates."""
    rng = np.random.default_rng(5 if activation == "tanh" else 6)
    cfg = Config(hidden=10, inputs=2, outputs=2, activation=activation, r_upd="stochastic",
                 r_sens="half_even", eta=3, formats=Formats.uniform(12))
    assert float_exact(cfg)
    params, S0, xs, ds = random_model_args(rng, cfg, 3)
    model, (run,) = run_path(cfg, params, S0, xs, ds, blas=True, keep_grads=True)
    ref = reference_run(cfg, *params, xs, ds, table=tanh_table(cfg),
                        S=model_S_as_dict(cfg, S0))
    assert run.y.tolist() == ref["y"] and run.G.tolist() == ref["G"]
    assert model.theta.tolist() == ref["theta"] and model_S_as_dict(cfg, model.S) == ref["S"]
    assert dict(zip(SAT_NAMES, model.sat.tolist())) == ref["sat"]
    assert model.lfsr == ref["lfsr"]


def test_too_wide_formats_fall_back_to_the_integer_loops():
    """32-bit P and S: u needs more than 53 bits, so BLAS is refused even when forced,
    and the run still agrees with a narrower-guarded int64 run (it is one)."""
    wide = Formats.uniform(16, P=QFormat(32, 20), S=QFormat(28, 20))
    cfg = Config(hidden=4, formats=wide)
    assert cfg.acc_widths["u"] > fixed.FLOAT_EXACT_BITS and not float_exact(cfg)
    assert not kernel_constants(cfg, blas=True).blas
    assert not float_exact(Config(hidden=4, approx="snap1"))
    assert float_exact(Config(hidden=4))


def test_override_forces_either_path(monkeypatch):
    cfg = Config(hidden=8)
    monkeypatch.setattr(fixed, "BLAS_MIN_HIDDEN", None)
    monkeypatch.setenv(calibrate.ENV_VAR, "9")
    assert not kernel_constants(cfg).blas
    monkeypatch.setenv(calibrate.ENV_VAR, "8")
    assert kernel_constants(cfg).blas
    monkeypatch.setattr(fixed, "BLAS_MIN_HIDDEN", 10**9)   # the module global wins
    assert not kernel_constants(cfg).blas
    assert kernel_constants(cfg, blas=True).blas           # and the argument over both
    monkeypatch.setenv(calibrate.ENV_VAR, "many")
    monkeypatch.setattr(fixed, "BLAS_MIN_HIDDEN", None)
    with pytest.raises(ValueError, match=calibrate.ENV_VAR):
        kernel_constants(cfg)


def test_calibration_is_measured_once_and_cached(monkeypatch, tmp_path):
    monkeypatch.delenv(calibrate.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calibrate, "_memo", {})
    calls = []
    monkeypatch.setattr(calibrate, "measure_blas_min_hidden", lambda: calls.append(1) or 12)
    assert calibrate.blas_min_hidden() == 12 and calibrate.blas_min_hidden() == 12
    assert len(calls) == 1
    assert calibrate.cache_file().is_relative_to(tmp_path)
    assert 12 in json.loads(calibrate.cache_file().read_text()).values()
    monkeypatch.setattr(calibrate, "_memo", {})               # a new process reads the file
    assert calibrate.blas_min_hidden() == 12 and len(calls) == 1


def test_measurement_returns_a_measured_size():
    """The real measurement (small sizes only, to stay fast): one of the sizes it timed."""
    assert calibrate.measure_blas_min_hidden((2, 4, 8)) in (2, 4, 8)


def test_blas_runs_on_one_thread_inside_a_run_and_the_count_comes_back():
    """Checked with threadpoolctl's own report, not with the model's controllers."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def counts() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    fixed.blas_libraries()
    with threadpool_limits(limits=2, user_api="blas"):
        outside = counts()
        with fixed._one_blas_thread():
            assert counts() and set(counts()) == {1}
        assert counts() == outside
