"""The integer model against an independent implementation of §3.1, by hand, and the float model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtrledit.model import SAT_NAMES, Config, FixedRTRL, Formats, QFormat, dequantise
from rtrledit.model.config import ROUNDINGS
from rtrledit.model import fixed
from rtrledit.model.fixed import kernel_constants, tanh_table

from tests.exact import reference_run


def random_config(rng: np.random.Generator) -> Config:
    """A random valid Config: small sizes, formats 6..20 bits, any rounding and overflow."""
    while True:
        fm = {}
        for L in "XHPAFOYCS":
            w = int(rng.integers(6, 21))
            hi = w - 2 if L in "HF" else w
            fm[L] = QFormat(w, int(rng.integers(max(0, w // 3), hi + 1)))
        try:
            return Config(
                hidden=int(rng.integers(1, 6)), inputs=int(rng.integers(1, 4)),
                outputs=int(rng.integers(1, 4)),
                activation=str(rng.choice(["hardtanh", "tanh"])),
                approx=str(rng.choice(["exact", "snap1"])), formats=Formats(**fm),
                r_fwd=str(rng.choice(ROUNDINGS[:3])), r_sens=str(rng.choice(ROUNDINGS[:3])),
                r_upd=str(rng.choice(ROUNDINGS)),
                overflow=str(rng.choice(["saturate", "saturate", "wrap"])),
                eta=int(rng.integers(0, 8)), eta_o=int(rng.integers(0, 8)),
                lfsr_seed=int(rng.integers(1, 2**32)), tanh_bits=int(rng.integers(3, 9)))
        except ValueError:
            continue


def random_ints(rng, fmt: QFormat, shape, scale: float) -> np.ndarray:
    """Integers of ``fmt``: mostly within ``scale`` of the range, some at the extremes."""
    v = rng.normal(0, scale * fmt.max, size=shape).round().astype(np.int64)
    extreme = rng.random(shape) < 0.05
    v[extreme] = rng.choice([fmt.min, fmt.max], size=int(extreme.sum()))
    return np.clip(v, fmt.min, fmt.max)


def model_S_as_dict(cfg: Config, S: np.ndarray) -> dict:
    if cfg.approx == "exact":
        return {(k, i, j): int(S[k, i, j]) for k in range(cfg.n) for i in range(cfg.n)
                for j in range(cfg.q)}
    return {(i, i, j): int(S[i, j]) for i in range(cfg.n) for j in range(cfg.q)}


@pytest.mark.parametrize("seed", range(40))
def test_model_equals_independent_implementation(seed, monkeypatch):
    if seed % 2:   # half the configs take the float64-BLAS path for W·S where it is exact
        monkeypatch.setattr(fixed, "BLAS_MIN_HIDDEN", 1)
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    fm = cfg.formats
    scale = float(rng.choice([0.02, 0.2, 0.6]))
    theta = random_ints(rng, fm.P, (cfg.n, cfg.q), scale)
    V = random_ints(rng, fm.O, (cfg.p, cfg.n), scale)
    c = random_ints(rng, fm.O, (cfg.p,), scale)
    T = 6
    xs = random_ints(rng, fm.X, (T, cfg.m), scale)
    ds = random_ints(rng, fm.Y, (T, cfg.p), scale)
    learn = seed % 4 != 3
    track = learn or seed % 8 == 7  # seeds 3, 11, ...: inference only
    model = FixedRTRL(cfg, theta, V, c)
    model.S[...] = random_ints(rng, fm.S, cfg.s_shape, scale)  # S carried in from before
    S0 = model_S_as_dict(cfg, model.S)
    run = model.run(xs, ds, learn=learn, track=track, keep_grads=True)
    ref = reference_run(cfg, theta, V, c, xs, ds, learn=learn, track=track,
                        table=tanh_table(cfg), S=S0)
    for t in range(T):
        assert run.y[t].tolist() == ref["y"][t], f"step {t}: y"
        assert run.e[t].tolist() == ref["e"][t], f"step {t}: e"
        assert run.G[t].tolist() == ref["G"][t], f"step {t}: G"
    assert model.theta.tolist() == ref["theta"]
    assert model.V.tolist() == ref["V"]
    assert model.c.tolist() == ref["c"]
    assert model.h.tolist() == ref["h"]
    assert model_S_as_dict(cfg, model.S) == ref["S"]
    assert dict(zip(SAT_NAMES, model.sat.tolist())) == ref["sat"]
    assert model.lfsr == ref["lfsr"]


def test_saturation_is_exercised_by_the_random_configs():
    """The comparison above is only worth something if saturation happens in it."""
    seen = set()
    for seed in range(40):
        rng = np.random.default_rng(seed)
        cfg = random_config(rng)
        fm = cfg.formats
        scale = float(rng.choice([0.02, 0.2, 0.6]))
        model = FixedRTRL(cfg, random_ints(rng, fm.P, (cfg.n, cfg.q), scale),
                          random_ints(rng, fm.O, (cfg.p, cfg.n), scale),
                          random_ints(rng, fm.O, (cfg.p,), scale))
        model.run(random_ints(rng, fm.X, (6, cfg.m), scale),
                  random_ints(rng, fm.Y, (6, cfg.p), scale), learn=seed % 4 != 3)
        seen |= {name for name, v in zip(SAT_NAMES, model.sat) if v}
    assert seen >= {"x", "a", "h", "y", "e", "chat", "s", "theta", "v"}


def test_hand_worked_step():
    """n = m = p = 1, Q(8, 4) everywhere (H, F: Q(8, 6)), hardtanh, half_even, eta = 1.

    Θ = [W U b] = [0.5, 1.0, 0.25] -> [8, 16, 4]; V = 1.0 -> 16; c = 0.
    x = 0.5 -> 8 (f_X = 4); d = 0.25 -> 4 (f_Y = 4).
    1. z = [0, RQ(8, 4 -> 6) = 32, 64]
    2. a = RQ(8*0 + 16*32 + 4*64 = 768, f 10 -> 4) = 768 / 64 = 12 (0.75)
    3. h = RQ(12, 4 -> 6) = 48 (0.75); |a| < 16 so φ' = 64 (1.0)
    4. y = RQ(16*48 + 0 = 768, f 10 -> 4) = 12 (0.75)
    5. e = 12 - 4 = 8 (0.5)
    6. ĉ = RQ(16*8 = 128, f 8 -> 4) = 8 (0.5)
    7. S[0,0,j] = RQ(RQ(8*0 + z_j * 2^(4+4-6), f 8 -> 4) * 64, f 10 -> 4):
       j=0: 0; j=1: 32*4 = 128 -> 8 -> 8*64 = 512 -> 8; j=2: 256 -> 16 -> 16.
       G = ĉ S = [0, 64, 128] (f 8)
    8. Θ -= RQ(G, f 8 + 1 -> 4) = [0, 2, 4] -> [8, 14, 0]
       V -= RQ(e h = 384, f 4 + 6 + 1 -> 4) = 384 / 128 = 3 -> 13; c -= RQ(8, f 5 -> 4) = 4 -> -4
    """
    q84, q86 = QFormat(8, 4), QFormat(8, 6)
    fm = Formats(X=q84, H=q86, P=q84, A=q84, F=q86, O=q84, Y=q84, C=q84, S=q84)
    cfg = Config(hidden=1, formats=fm, eta=1, eta_o=1)
    model = FixedRTRL(cfg, [[8, 16, 4]], [[16]], [0])
    r = model.run([[8]], [[4]], keep_grads=True)
    assert r.y.tolist() == [[12]] and r.e.tolist() == [[8]]
    assert model.S.tolist() == [[[0, 8, 16]]]
    assert r.G.tolist() == [[[0, 64, 128]]]
    assert model.theta.tolist() == [[8, 14, 0]]
    assert model.V.tolist() == [[13]] and model.c.tolist() == [-4]
    assert model.h.tolist() == [48]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 8), m=st.integers(1, 3), p=st.integers(1, 3))
def test_wide_formats_track_the_float_model(seed, n, m, p):
    """With learning off and exactly representable parameters and inputs, the integer
    outputs differ from the float model's by at most the rounding errors propagated
    through the network: a per-step bound derived from the formats.

    Per step (hardtanh and clip are 1-Lipschitz; nearest rounding errs by half a unit):
    δa_t <= |W|_inf δh_{t-1} + 2^-(f_A+1), δh_t <= δa_t + 2^-(f_H+1),
    δy_t <= |V|_inf δh_t + 2^-(f_Y+1).
    """
    from rtrledit.model import FloatRTRL
    rng = np.random.default_rng(seed)
    fm = Formats(X=QFormat(24, 16), H=QFormat(24, 20), P=QFormat(24, 16), A=QFormat(24, 16),
                 F=QFormat(24, 20), O=QFormat(24, 16), Y=QFormat(24, 16), C=QFormat(24, 16),
                 S=QFormat(24, 16))
    cfg = Config(hidden=n, inputs=m, outputs=p, formats=fm)
    theta = np.round(rng.normal(0, 0.6 / np.sqrt(n), (n, cfg.q)) * 2**16).astype(np.int64)
    V = np.round(rng.normal(0, 0.5, (p, n)) * 2**16).astype(np.int64)
    c = np.round(rng.normal(0, 0.1, p) * 2**16).astype(np.int64)
    T = 30
    xs = np.round(rng.normal(0, 1, (T, m)) * 2**16).astype(np.int64)
    ds = np.zeros((T, p), np.int64)
    fx = FixedRTRL(cfg, theta, V, c)
    fl = FloatRTRL(dequantise(theta, fm.P), dequantise(V, fm.O), dequantise(c, fm.O))
    y_int = dequantise(fx.run(xs, ds, learn=False).y, fm.Y)
    y_flt = fl.run(dequantise(xs, fm.X), np.zeros((T, p)), learn=False).y
    Wn = np.abs(dequantise(theta[:, :n], fm.P)).sum(axis=1).max()
    Vn = np.abs(dequantise(V, fm.O)).sum(axis=1).max()
    dh, bounds = 0.0, []
    for _ in range(T):
        dh = Wn * dh + 2.0 ** -(fm.A.f + 1) + 2.0 ** -(fm.H.f + 1)
        bounds.append(Vn * dh + 2.0 ** -(fm.Y.f + 1))
    err = np.abs(y_int - y_flt).max(axis=1)
    assert np.all(err <= np.array(bounds) * (1 + 1e-9)), (err, bounds)


def test_tanh_table_approximates_tanh_within_its_bin():
    cfg = Config(hidden=2, activation="tanh", tanh_bits=8)
    T = tanh_table(cfg)
    fm, s = cfg.formats, cfg.tanh_shift
    assert len(T) == 256 and T.min() >= -fm.H.one and T.max() <= fm.H.one
    for a in np.random.default_rng(0).integers(-4 * fm.A.one, 4 * fm.A.one, 500):
        idx = min(max(int(a) >> s, -128), 127) + 128
        # the bin is 2^s wide: error <= half a bin (tanh' <= 1) + half a unit of H
        assert abs(T[idx] / fm.H.one - np.tanh(a / fm.A.one)) <= \
            2.0 ** (s - fm.A.f - 1) + 2.0 ** -(fm.H.f + 1)


@pytest.mark.parametrize("approx", ["exact", "snap1"])
def test_same_seed_same_bits_and_chunking_changes_nothing(approx):
    cfg = Config(hidden=6, inputs=2, outputs=2, approx=approx, r_upd="stochastic", eta=4)
    rng = np.random.default_rng(7)
    args = (random_ints(rng, cfg.formats.P, (6, cfg.q), 0.05),
            random_ints(rng, cfg.formats.O, (2, 6), 0.1), np.zeros(2, np.int64))
    xs = random_ints(rng, cfg.formats.X, (300, 2), 0.1)
    ds = random_ints(rng, cfg.formats.Y, (300, 2), 0.1)
    a, b = FixedRTRL(cfg, *args), FixedRTRL(cfg, *args)
    ra = a.run(xs, ds, trace=True)
    rb = np.concatenate([b.run(xs[i:i + 70], ds[i:i + 70]).y for i in range(0, 300, 70)])
    assert np.array_equal(ra.y, rb)
    for k, v in a.state().items():
        assert np.array_equal(v, b.state()[k]), k
    assert np.array_equal(ra.trace["S"][-1], a.S) and np.array_equal(ra.trace["theta"][-1], a.theta)
    assert np.array_equal(ra.trace["sat"][-1], a.sat)


def test_flags_mark_the_steps_that_saturated():
    cfg = Config(hidden=2)
    model = FixedRTRL(cfg, np.zeros((2, cfg.q), np.int64), [[0, 0]], [0])
    big = cfg.formats.X.max
    r = model.run([[0], [big], [0]], [[0], [0], [0]], learn=False)
    x_bit = 1 << SAT_NAMES.index("x")
    assert [bool(f & x_bit) for f in r.flags] == [False, True, False]


def test_bad_parameters_are_refused_with_the_array_named():
    cfg = Config(hidden=3)
    ok = (np.zeros((3, cfg.q), np.int64), np.zeros((1, 3), np.int64), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="theta: expected shape"):
        FixedRTRL(cfg, np.zeros((3, 3)), *ok[1:])
    with pytest.raises(ValueError, match="V: values outside format"):
        FixedRTRL(cfg, ok[0], np.full((1, 3), 2**20), ok[2])
    with pytest.raises(ValueError, match="c: expected integers"):
        FixedRTRL(cfg, ok[0], ok[1], np.array([0.5]))
    with pytest.raises(ValueError, match="ds: expected shape"):
        FixedRTRL(cfg, *ok).run(np.zeros((4, 1), np.int64), np.zeros((3, 1), np.int64))


def test_blas_and_integer_loops_give_the_same_bits(monkeypatch):
    """n = 32: the float64-BLAS W·S product (used from BLAS_MIN_HIDDEN on) and the int64
    loops agree word for word over a learning run, and the BLAS path is really taken."""
    from rtrledit.model import init_params
    cfg = Config(hidden=32, inputs=4, outputs=1, r_upd="stochastic")
    assert kernel_constants(cfg).blas
    args = FixedRTRL.from_float(cfg, *init_params(32, 4, 1, seed=3)).params()
    rng = np.random.default_rng(3)
    xs = random_ints(rng, cfg.formats.X, (60, 4), 0.2)
    ds = random_ints(rng, cfg.formats.Y, (60, 1), 0.2)
    a = FixedRTRL(cfg, **args)
    ra = a.run(xs, ds, keep_grads=True)
    monkeypatch.setattr(fixed, "BLAS_MIN_HIDDEN", 10**9)
    b = FixedRTRL(cfg, **args)
    assert not kernel_constants(cfg).blas
    rb = b.run(xs, ds, keep_grads=True)
    assert np.array_equal(ra.y, rb.y) and np.array_equal(ra.G, rb.G)
    assert np.array_equal(a.S, b.S) and np.array_equal(a.theta, b.theta)
