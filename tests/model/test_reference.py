"""Tests of the float64 reference (rtrledit.model.reference) and BPTT (rtrledit.model.bptt).

Every gradient is checked against an independent source: BPTT (a different algorithm),
central finite differences of the sequence loss, and JAX autodiff of a forward pass
written here in jax.numpy. No expected number is copied from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtrledit.model.bptt import bptt_gradient, sequence_loss
from rtrledit.model.config import Config
from rtrledit.model.reference import FloatRTRL, FloatRun, init_params

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

ACTS = ("tanh", "hardtanh")

# (n, m, p, T, seed): ~15 sizes covering the corners n = 1, n = 12, m = 4, p = 3.
CASES = [
    (1, 1, 1, 20, 0), (1, 3, 2, 37, 1), (2, 1, 1, 60, 2), (2, 4, 3, 25, 3),
    (3, 2, 1, 41, 4), (4, 1, 2, 33, 5), (5, 3, 3, 52, 6), (6, 2, 1, 29, 7),
    (7, 4, 2, 45, 8), (8, 1, 3, 58, 9), (9, 3, 1, 22, 10), (10, 2, 2, 39, 11),
    (11, 4, 3, 31, 12), (12, 1, 1, 60, 13), (12, 4, 3, 47, 14),
]
JAX_CASES = [CASES[i] for i in (0, 3, 6, 10, 14)]


# ---------------------------------------------------------------------------- helpers
def make_case(n: int, m: int, p: int, T: int, seed: int, activation: str):
    """Random parameters and a random sequence. For hardtanh the weights are large enough
    that pre-activations leave [-1, 1] part of the time, so the 0/1 mask matters."""
    rng = np.random.default_rng(1000 + seed)
    if activation == "hardtanh":
        theta, V, c = init_params(n, m, p, seed=seed, radius=1.2, input_scale=2.0)
    else:
        theta, V, c = init_params(n, m, p, seed=seed, radius=0.9, input_scale=1.0)
    theta[:, -1] = rng.normal(0.0, 0.5, n)      # non-zero biases, so their gradients count
    c = rng.normal(0.0, 0.5, p)
    xs = rng.standard_normal((T, m))
    ds = rng.standard_normal((T, p))
    return theta, V, c, xs, ds


def preactivations(theta, xs, activation):
    """All a_t of a plain forward pass (written here, independently of the package)."""
    n = theta.shape[0]
    h = np.zeros(n)
    out = []
    for x in xs:
        a = theta @ np.concatenate([h, x, [1.0]])
        h = np.clip(a, -1, 1) if activation == "hardtanh" else np.tanh(a)
        out.append(a)
    return np.array(out)


def rel(a, b) -> float:
    """Norm of the difference over the norm of the reference ``b``."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def jax_step_losses(theta, V, c, xs, ds, activation):
    """Per-step losses ½‖y_t − d_t‖² of the Elman RNN, in jax.numpy (docs/design.md §2)."""
    n = theta.shape[0]

    def phi(a):
        return jnp.tanh(a) if activation == "tanh" else jnp.minimum(jnp.maximum(a, -1.0), 1.0)

    def body(h_prev, xd):
        x, d = xd
        z = jnp.concatenate([h_prev, x, jnp.ones(1)])
        h = phi(theta @ z)
        e = V @ h + c - d
        return h, 0.5 * jnp.sum(e * e)

    _, losses = jax.lax.scan(body, jnp.zeros(n), (xs, ds))
    return losses


def jax_sequence_grad(theta, V, c, xs, ds, activation):
    f = lambda th, v, cc: jnp.sum(jax_step_losses(th, v, cc, xs, ds, activation))  # noqa: E731
    g = jax.grad(f, argnums=(0, 1, 2))(jnp.asarray(theta), jnp.asarray(V), jnp.asarray(c))
    return tuple(np.asarray(x) for x in g)


# ---------------------------------------------------------------------------- RTRL vs BPTT
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}m{}p{}T{}s{}".format(*c))
def test_rtrl_sum_equals_bptt(case, activation):
    theta, V, c, xs, ds = make_case(*case, activation)
    if activation == "hardtanh":
        frac = np.mean(np.abs(preactivations(theta, xs, activation)) >= 1.0)
        assert 0.05 < frac < 0.95, f"mask would not matter (saturated fraction {frac:.2f})"
    model = FloatRTRL(theta, V, c, activation=activation, approx="exact")
    run = model.run(xs, ds, learn=False, keep_grads=True)
    dtheta, _, _ = bptt_gradient(theta, V, c, xs, ds, activation)
    assert run.G.shape == (len(xs),) + theta.shape
    assert np.linalg.norm(dtheta) > 0
    assert rel(run.G.sum(axis=0), dtheta) < 1e-9
    # learning off leaves the parameters untouched and the losses are the sequence loss
    np.testing.assert_array_equal(model.theta, theta)
    assert run.loss.sum() == pytest.approx(sequence_loss(theta, V, c, xs, ds, activation),
                                           rel=1e-12)


# ---------------------------------------------------------------------------- BPTT vs finite differences
def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("size", [(3, 2, 2, 15), (5, 1, 1, 25)])
def test_bptt_against_finite_differences(size, activation):
    n, m, p, T = size
    # pick the first seed whose pre-activations stay clear of hardtanh's kinks at ±1
    # (and, for hardtanh, that saturates some of the time so the mask is exercised)
    for seed in range(200):
        theta, V, c, xs, ds = make_case(n, m, p, T, seed, activation)
        a = preactivations(theta, xs, activation)
        if activation == "tanh":
            break
        if np.min(np.abs(np.abs(a) - 1.0)) > 1e-3 and 0.05 < np.mean(np.abs(a) > 1) < 0.95:
            break
    else:
        pytest.fail("no seed keeps clear of the kinks")

    dtheta, dV, dc = bptt_gradient(theta, V, c, xs, ds, activation)
    fd_theta = _fd_grad(lambda t: sequence_loss(t, V, c, xs, ds, activation), theta)
    fd_V = _fd_grad(lambda v: sequence_loss(theta, v, c, xs, ds, activation), V)
    fd_c = _fd_grad(lambda cc: sequence_loss(theta, V, cc, xs, ds, activation), c)
    assert rel(dtheta, fd_theta) < 1e-6
    assert rel(dV, fd_V) < 1e-6
    assert rel(dc, fd_c) < 1e-6
    np.testing.assert_allclose(dtheta, fd_theta, atol=1e-6)


# ---------------------------------------------------------------------------- vs JAX autodiff
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("case", JAX_CASES, ids=lambda c: "n{}m{}p{}T{}s{}".format(*c))
def test_bptt_and_rtrl_against_jax(case, activation):
    theta, V, c, xs, ds = make_case(*case, activation)
    j_theta, j_V, j_c = jax_sequence_grad(theta, V, c, xs, ds, activation)
    dtheta, dV, dc = bptt_gradient(theta, V, c, xs, ds, activation)
    assert rel(dtheta, j_theta) < 1e-10
    assert rel(dV, j_V) < 1e-10
    assert rel(dc, j_c) < 1e-10
    run = FloatRTRL(theta, V, c, activation=activation).run(xs, ds, learn=False,
                                                             keep_grads=True)
    assert rel(run.G.sum(axis=0), j_theta) < 1e-10
    j_losses = np.asarray(jax_step_losses(theta, V, c, xs, ds, activation))
    np.testing.assert_allclose(run.loss, j_losses, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ACTS)
def test_each_step_gradient_is_that_steps_loss_gradient(activation):
    """g_t (not just the sum) is ∂(½‖e_t‖²)/∂Θ through the whole history: JAX Jacobian."""
    theta, V, c, xs, ds = make_case(6, 2, 2, 30, 21, activation)
    jac = jax.jacrev(lambda th: jax_step_losses(th, V, c, xs, ds, activation))(
        jnp.asarray(theta))
    run = FloatRTRL(theta, V, c, activation=activation).run(xs, ds, learn=False,
                                                             keep_grads=True)
    assert rel(run.G, np.asarray(jac)) < 1e-10


# ---------------------------------------------------------------------------- SnAp-1
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("learn", [False, True])
def test_snap1_equals_exact_for_one_unit(activation, learn):
    theta, V, c, xs, ds = make_case(1, 3, 2, 50, 5, activation)
    runs = [FloatRTRL(theta, V, c, activation=activation, approx=ap, eta=2**-4,
                      eta_o=2**-4).run(xs, ds, learn=learn, keep_grads=True)
            for ap in ("exact", "snap1")]
    assert np.max(np.abs(runs[0].G)) > 0
    np.testing.assert_allclose(runs[1].G, runs[0].G, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(runs[1].y, runs[0].y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTS)
def test_snap1_differs_for_nondiagonal_w(activation):
    theta, V, c, xs, ds = make_case(6, 2, 2, 40, 3, activation)
    n = theta.shape[0]
    W = theta[:, :n]
    assert np.linalg.norm(W - np.diag(np.diag(W))) > 0.5
    exact = FloatRTRL(theta, V, c, activation=activation, approx="exact").run(
        xs, ds, learn=False, keep_grads=True)
    snap = FloatRTRL(theta, V, c, activation=activation, approx="snap1").run(
        xs, ds, learn=False, keep_grads=True)
    assert snap.G.shape == exact.G.shape
    assert rel(snap.G.sum(axis=0), exact.G.sum(axis=0)) > 0.05
    # the forward pass does not depend on the approximation
    np.testing.assert_array_equal(snap.y, exact.y)


@pytest.mark.parametrize("activation", ACTS)
def test_snap1_is_exact_for_diagonal_w(activation):
    """With W diagonal, ∂h[k]/∂Θ[i, j] = 0 for k ≠ i, so SnAp-1 loses nothing: it must
    then match the BPTT gradient (an independent check of which entries it keeps)."""
    theta, V, c, xs, ds = make_case(5, 2, 2, 40, 8, activation)
    n = theta.shape[0]
    theta[:, :n] = np.diag(np.diag(theta[:, :n]) + 0.3)
    run = FloatRTRL(theta, V, c, activation=activation, approx="snap1").run(
        xs, ds, learn=False, keep_grads=True)
    dtheta, _, _ = bptt_gradient(theta, V, c, xs, ds, activation)
    assert rel(run.G.sum(axis=0), dtheta) < 1e-9


# ---------------------------------------------------------------------------- learning
@pytest.mark.parametrize("approx", ["exact", "snap1"])
def test_first_learning_step_is_minus_eta_g(approx):
    theta, V, c, xs, ds = make_case(4, 2, 3, 1, 2, "tanh")
    eta, eta_o = 2**-5, 2**-3
    model = FloatRTRL(theta, V, c, activation="tanh", approx=approx, eta=eta, eta_o=eta_o)
    y, G = model.step(xs[0], ds[0], learn=True)
    # independent first-step quantities: h_0 = 0, so z = [0; x; 1]
    z = np.concatenate([np.zeros(4), xs[0], [1.0]])
    h = np.tanh(theta @ z)
    e = V @ h + c - ds[0]
    np.testing.assert_allclose(y, V @ h + c, rtol=1e-14)
    np.testing.assert_array_equal(model.theta, theta - eta * G)
    np.testing.assert_array_equal(model.V, V - eta_o * np.outer(e, h))
    np.testing.assert_array_equal(model.c, c - eta_o * e)
    # and G is the true first-step gradient: δ = φ' ⊙ Vᵀe, G = δ zᵀ
    np.testing.assert_allclose(G, np.outer((1 - h**2) * (V.T @ e), z), rtol=1e-12)


def test_second_learning_step_sweeps_with_the_old_w():
    """Step 2 of a learning run: its forward pass uses Θ₁ (after step 1's update) and its
    sweep the same W₁ (not W after step 2's update). Its g is then the JAX gradient at Θ₁
    of step 2's loss, with h₁ linearised around the stored a₁:
    h₁(Θ) = φ(a₁ + (Θ − Θ₁) z₁), whose derivative is RTRL's S₁ = φ'(a₁) e_i z₁ᵀ."""
    n, m, p = 4, 2, 2
    theta0, V0, c0, xs, ds = make_case(n, m, p, 2, 6, "tanh")
    model = FloatRTRL(theta0, V0, c0, activation="tanh", eta=2**-2, eta_o=2**-2)
    model.step(xs[0], ds[0], learn=True)
    theta1, V1, c1 = model.theta.copy(), model.V.copy(), model.c.copy()
    _, G2 = model.step(xs[1], ds[1], learn=True)

    z1 = np.concatenate([np.zeros(n), xs[0], [1.0]])
    a1 = theta0 @ z1

    def loss2(th):
        h1 = jnp.tanh(a1 + (th - theta1) @ z1)
        h2 = jnp.tanh(th @ jnp.concatenate([h1, xs[1], jnp.ones(1)]))
        e = V1 @ h2 + c1 - ds[1]
        return 0.5 * jnp.sum(e * e)

    expected = np.asarray(jax.grad(loss2)(jnp.asarray(theta1)))
    assert rel(G2, expected) < 1e-12


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("approx", ["exact", "snap1"])
def test_learning_lowers_the_loss_on_a_sine(approx, activation):
    T = 3000
    s = np.sin(2 * np.pi * np.arange(T + 1) / 25)
    xs, ds = s[:-1, None], s[1:, None]                      # one-step-ahead prediction
    tenth = T // 10

    def run(eta):
        theta, V, c = init_params(8, 1, 1, seed=0)
        model = FloatRTRL(theta, V, c, activation=activation, approx=approx,
                          eta=eta, eta_o=2**-5)
        loss = model.run(xs, ds, learn=True).loss
        assert np.all(np.isfinite(loss))
        return loss[:tenth].mean(), loss[-tenth:].mean()

    first, last = run(2**-5)
    assert last < 0.1 * first
    # learning Θ through the sensitivities beats learning the readout alone
    _, last_readout_only = run(0.0)
    assert last < 0.5 * last_readout_only


# ---------------------------------------------------------------------------- API and validation
def test_state_shapes_and_reset():
    theta, V, c, xs, ds = make_case(3, 2, 1, 20, 0, "tanh")
    exact = FloatRTRL(theta, V, c, activation="tanh", approx="exact")
    snap = FloatRTRL(theta, V, c, activation="tanh", approx="snap1")
    assert exact.S.shape == (3, 3, 6) and snap.S.shape == (3, 6)
    first = exact.run(xs, ds, learn=False, keep_grads=True)
    assert isinstance(first, FloatRun)
    assert first.y.shape == (20, 1) and first.loss.shape == (20,)
    assert np.any(exact.h != 0) and np.any(exact.S != 0)
    exact.reset_state()
    assert not np.any(exact.h) and not np.any(exact.S)
    again = exact.run(xs, ds, learn=False, keep_grads=True)
    np.testing.assert_array_equal(again.G, first.G)
    assert exact.run(xs, ds, learn=False).G is None


def test_constructor_copies_arrays():
    theta, V, c, xs, ds = make_case(3, 2, 1, 10, 0, "tanh")
    keep = theta.copy(), V.copy(), c.copy()
    model = FloatRTRL(theta, V, c, activation="tanh")
    model.run(xs, ds, learn=True)
    for before, arr in zip(keep, (theta, V, c)):
        np.testing.assert_array_equal(arr, before)
    assert not np.array_equal(model.theta, theta)


def test_from_config():
    cfg = Config(hidden=3, inputs=2, outputs=1, activation="tanh", approx="snap1",
                 eta=5, eta_o=7)
    theta, V, c = init_params(3, 2, 1)
    model = FloatRTRL.from_config(cfg, theta, V, c)
    assert (model.activation, model.approx) == ("tanh", "snap1")
    assert model.eta == 2.0**-5 and model.eta_o == 2.0**-7
    assert model.S.shape == cfg.s_shape
    with pytest.raises(ValueError, match="config"):
        FloatRTRL.from_config(cfg, *init_params(4, 2, 1))


def test_init_params():
    theta, V, c = init_params(6, 3, 2, seed=4, radius=0.7)
    assert theta.shape == (6, 10) and V.shape == (2, 6) and c.shape == (2,)
    assert np.max(np.abs(np.linalg.eigvals(theta[:, :6]))) == pytest.approx(0.7, rel=1e-12)
    assert not np.any(theta[:, -1]) and not np.any(c)
    again = init_params(6, 3, 2, seed=4, radius=0.7)
    for a, b in zip((theta, V, c), again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(init_params(6, 3, 2, seed=5)[0], theta)


@pytest.mark.parametrize("shapes, name", [
    (((3,), (1, 3), (1,)), "theta"),         # theta not 2-D
    (((3, 4), (1, 3), (1,)), "theta"),       # q = n + 1: no input column
    (((3, 6), (1, 4), (1,)), "V"),           # V has the wrong number of columns
    (((3, 6), (3,), (1,)), "V"),             # V not 2-D
    (((3, 6), (2, 3), (1,)), "c"),           # c does not match V's rows
    (((3, 6), (2, 3), (2, 1)), "c"),         # c not 1-D
])
def test_shape_validation(shapes, name):
    theta, V, c = (np.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=name) as err:
        FloatRTRL(theta, V, c)
    assert str(shapes[("theta", "V", "c").index(name)]) in str(err.value)
    with pytest.raises(ValueError, match=name):
        bptt_gradient(theta, V, c, np.zeros((5, 2)), np.zeros((5, 1)), "tanh")


def test_input_validation():
    theta, V, c = init_params(3, 2, 1)
    model = FloatRTRL(theta, V, c)
    with pytest.raises(ValueError, match="x"):
        model.step(np.zeros(3), np.zeros(1))
    with pytest.raises(ValueError, match="d"):
        model.step(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="xs"):
        model.run(np.zeros((5, 3)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="same length"):
        model.run(np.zeros((5, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="activation"):
        FloatRTRL(theta, V, c, activation="relu")
    with pytest.raises(ValueError, match="approx"):
        FloatRTRL(theta, V, c, approx="snap2")
    with pytest.raises(ValueError, match="activation"):
        sequence_loss(theta, V, c, np.zeros((5, 2)), np.zeros((5, 1)), "relu")
