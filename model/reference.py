"""The float64 reference of RTRL: docs/design.md §2, written to be checked line by line.

Network (Elman RNN, n hidden units, m inputs, p linear outputs), per time step t::

    z_t = [h_{t-1}; x_t; 1]                 (q = n + m + 1 entries)
    a_t = Θ z_t                             (Θ = [W | U | b], n × q)
    h_t = φ(a_t)
    y_t = V h_t + c                         (V is p × n)
    e_t = y_t − d_t                         (loss ½‖e_t‖²)

Exact RTRL carries the sensitivities S_t[k, i, j] = ∂h_t[k] / ∂Θ[i, j] (n × n × q)::

    S_t[:, i, j] = φ'(a_t) ⊙ ( W S_{t-1}[:, i, j] + e_i · z_t[j] )
    g_t[i, j]    = Σ_k ĉ_t[k] · S_t[k, i, j],     ĉ_t = Vᵀ e_t

SnAp-1 keeps only the diagonal s[i, j] ≈ S[i, i, j]::

    s[i, j] ← φ'(a_i) (W[i, i] s[i, j] + z[j]),   g[i, j] = ĉ[i] s[i, j]

With learning on, every step ends with Θ ← Θ − η g_t, V ← V − η_o e_t h_tᵀ,
c ← c − η_o e_t, the sensitivity update having used the old W.

This module is the ground truth the integer model is compared with; it favours
clarity over speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config

__all__ = ["FloatRTRL", "FloatRun", "init_params", "activate", "check_params",
           "ACTIVATIONS", "APPROXIMATIONS"]

#: Activations the reference knows (same names as the configuration).
ACTIVATIONS = ("hardtanh", "tanh")
#: Sensitivity approximations the reference knows.
APPROXIMATIONS = ("exact", "snap1")


# ---------------------------------------------------------------------------- helpers
def activate(a: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """The activation φ and its derivative φ' at the pre-activation ``a``.

    Parameters
    ----------
    a : numpy.ndarray
        Pre-activations.
    activation : {"hardtanh", "tanh"}
        ``"hardtanh"``: h = clip(a, −1, 1), φ'(a) = 1 if −1 < a < 1 else 0
        (0 at the kinks a = ±1, as the hardware's strict comparison).
        ``"tanh"``: h = tanh(a), φ'(a) = 1 − h².

    Returns
    -------
    h, dphi : numpy.ndarray
        φ(a) and φ'(a), both shaped like ``a``.

    Raises
    ------
    ValueError
        For an unknown activation.
    """
    if activation == "hardtanh":
        h = np.clip(a, -1.0, 1.0)
        dphi = ((a > -1.0) & (a < 1.0)).astype(np.float64)
    elif activation == "tanh":
        h = np.tanh(a)
        dphi = 1.0 - h * h
    else:
        raise ValueError(f"unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    return h, dphi


def check_params(theta: np.ndarray, V: np.ndarray, c: np.ndarray) -> tuple[int, int, int]:
    """Check that Θ, V and c fit together and return the sizes (n, m, p).

    Parameters
    ----------
    theta : numpy.ndarray
        Θ = [W | U | b], shape (n, n + m + 1) with n ≥ 1 and m ≥ 1.
    V : numpy.ndarray
        Readout weights, shape (p, n).
    c : numpy.ndarray
        Readout bias, shape (p,).

    Returns
    -------
    n, m, p : int
        Hidden units, inputs and outputs.

    Raises
    ------
    ValueError
        Naming the array and the shapes, when a shape does not fit.
    """
    theta, V, c = np.asarray(theta), np.asarray(V), np.asarray(c)
    if theta.ndim != 2 or theta.shape[0] < 1 or theta.shape[1] < theta.shape[0] + 2:
        raise ValueError(f"theta must have shape (n, n + m + 1) with n >= 1 and m >= 1, "
                         f"got shape {theta.shape}")
    n = theta.shape[0]
    m = theta.shape[1] - n - 1
    if V.ndim != 2 or V.shape[0] < 1 or V.shape[1] != n:
        raise ValueError(f"V must have shape (p, n) = (p, {n}) with p >= 1 to match theta "
                         f"of shape {theta.shape}, got shape {V.shape}")
    p = V.shape[0]
    if c.shape != (p,):
        raise ValueError(f"c must have shape (p,) = ({p},) to match V of shape {V.shape}, "
                         f"got shape {c.shape}")
    return n, m, p


def _as_vector(v: np.ndarray | float, size: int, name: str) -> np.ndarray:
    """``v`` as a float64 vector of ``size`` entries (a scalar is accepted when size is 1)."""
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 0 and size == 1:
        arr = arr.reshape(1)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got shape {arr.shape}")
    return arr


def _as_sequence(vs: np.ndarray, width: int, name: str) -> np.ndarray:
    """``vs`` as a float64 array (T, width) (shape (T,) is accepted when width is 1)."""
    arr = np.asarray(vs, dtype=np.float64)
    if arr.ndim == 1 and width == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{name} must have shape (T, {width}), got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class FloatRun:
    """What :meth:`FloatRTRL.run` returns.

    Attributes
    ----------
    y : numpy.ndarray
        Outputs, shape (T, p); y_t is computed before that step's update.
    loss : numpy.ndarray
        Per-step loss ½‖y_t − d_t‖², shape (T,).
    G : numpy.ndarray or None
        Per-step gradients g_t w.r.t. Θ, shape (T, n, q), when ``keep_grads`` was set.
    """

    y: np.ndarray
    loss: np.ndarray
    G: np.ndarray | None = None


# ---------------------------------------------------------------------------- the model
class FloatRTRL:
    """Float64 RTRL (exact or SnAp-1) for an Elman RNN with a linear readout.

    Parameters
    ----------
    theta : numpy.ndarray
        Θ = [W | U | b], shape (n, q) with q = n + m + 1. Copied.
    V : numpy.ndarray
        Readout weights, shape (p, n). Copied.
    c : numpy.ndarray
        Readout bias, shape (p,). Copied.
    activation : {"hardtanh", "tanh"}
        The activation φ.
    approx : {"exact", "snap1"}
        Exact RTRL (S of shape (n, n, q)) or SnAp-1 (S of shape (n, q)).
    eta : float
        Learning rate of Θ.
    eta_o : float
        Learning rate of V and c.

    Attributes
    ----------
    theta, V, c : numpy.ndarray
        The current parameters (updated in place by learning steps).
    h : numpy.ndarray
        Hidden state h_{t-1} of the next step, shape (n,).
    S : numpy.ndarray
        Sensitivities: exact, S[k, i, j] = ∂h[k]/∂Θ[i, j], shape (n, n, q);
        snap1, s[i, j] ≈ S[i, i, j], shape (n, q).

    Raises
    ------
    ValueError
        If the shapes do not fit (the message names the array and the shapes),
        or the activation, approximation or a learning rate is not valid.
    """

    def __init__(self, theta: np.ndarray, V: np.ndarray, c: np.ndarray, *,
                 activation: str = "hardtanh", approx: str = "exact",
                 eta: float = 2.0**-8, eta_o: float = 2.0**-8) -> None:
        self.n, self.m, self.p = check_params(theta, V, c)
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{', '.join(ACTIVATIONS)}")
        if approx not in APPROXIMATIONS:
            raise ValueError(f"unknown approx {approx!r}; choose one of "
                             f"{', '.join(APPROXIMATIONS)}")
        for name, rate in (("eta", eta), ("eta_o", eta_o)):
            if not np.isfinite(rate) or rate < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {rate!r}")
        self.q = self.n + self.m + 1
        self.theta = np.array(theta, dtype=np.float64)
        self.V = np.array(V, dtype=np.float64)
        self.c = np.array(c, dtype=np.float64)
        self.activation = activation
        self.approx = approx
        self.eta = float(eta)
        self.eta_o = float(eta_o)
        self.reset_state()

    @classmethod
    def from_config(cls, cfg: "Config", theta: np.ndarray, V: np.ndarray,
                    c: np.ndarray) -> "FloatRTRL":
        """Build from a :class:`~rtrledit.model.config.Config`.

        Takes the activation, the approximation and the learning rates
        2^-``cfg.eta`` and 2^-``cfg.eta_o``; the parameter shapes must match
        ``cfg.hidden``, ``cfg.inputs`` and ``cfg.outputs``.

        Raises
        ------
        ValueError
            If the parameter shapes do not match the configuration.
        """
        n, m, p = check_params(theta, V, c)
        if (n, m, p) != (cfg.n, cfg.m, cfg.p):
            raise ValueError(f"parameters have (hidden, inputs, outputs) = ({n}, {m}, {p}) "
                             f"but the config has ({cfg.n}, {cfg.m}, {cfg.p}); theta must "
                             f"be {(cfg.n, cfg.q)}, V {(cfg.p, cfg.n)}, c {(cfg.p,)}")
        return cls(theta, V, c, activation=cfg.activation, approx=cfg.approx,
                   eta=2.0**-cfg.eta, eta_o=2.0**-cfg.eta_o)

    @property
    def W(self) -> np.ndarray:
        """The recurrent block Θ[:, :n] (a view)."""
        return self.theta[:, :self.n]

    def reset_state(self) -> None:
        """Set h and S to zero (the parameters are kept)."""
        n, q = self.n, self.q
        self.h = np.zeros(n)
        self.S = np.zeros((n, n, q) if self.approx == "exact" else (n, q))

    def step(self, x: np.ndarray, d: np.ndarray, learn: bool = True
             ) -> tuple[np.ndarray, np.ndarray]:
        """One time step of docs/design.md §2.

        Parameters
        ----------
        x : numpy.ndarray
            Input x_t, shape (m,).
        d : numpy.ndarray
            Target d_t, shape (p,).
        learn : bool
            Apply the online update of Θ, V and c after the sensitivity update.

        Returns
        -------
        y : numpy.ndarray
            Output y_t = V h_t + c with V, c before this step's update, shape (p,).
        G : numpy.ndarray
            g_t, shape (n, q): with ``approx="exact"`` the gradient of ½‖e_t‖²
            w.r.t. Θ through the whole history (Θ taken as fixed); with
            ``"snap1"`` its SnAp-1 approximation.
        """
        x = _as_vector(x, self.m, "x")
        d = _as_vector(d, self.p, "d")
        n = self.n

        # forward
        z = np.concatenate([self.h, x, [1.0]])          # z_t = [h_{t-1}; x_t; 1]
        a = self.theta @ z                              # a_t = Θ z_t
        h, dphi = activate(a, self.activation)          # h_t = φ(a_t), φ'(a_t)
        y = self.V @ h + self.c                         # y_t = V h_t + c
        e = y - d                                       # e_t = y_t − d_t
        c_hat = self.V.T @ e                            # ĉ_t = Vᵀ e_t

        # sensitivities, with the old W
        W = self.theta[:, :n]
        if self.approx == "exact":
            # W S_{t-1}[:, i, j] for every column (i, j): one n×n by n×(nq) product.
            WS = (W @ self.S.reshape(n, n * self.q)).reshape(n, n, self.q)
            # + e_i z_t[j]: in column (i, j) only row k = i gets z[j].
            WS[np.arange(n), np.arange(n), :] += z
            self.S = dphi[:, None, None] * WS           # S_t = φ' ⊙ (W S_{t-1} + e_i z_j)
            G = np.einsum("k,kij->ij", c_hat, self.S)   # g[i, j] = Σ_k ĉ[k] S[k, i, j]
        else:
            w_diag = np.diag(W)                         # W[i, i]
            self.S = dphi[:, None] * (w_diag[:, None] * self.S + z[None, :])
            G = c_hat[:, None] * self.S                 # g[i, j] = ĉ[i] s[i, j]

        # online update (after the sweep, which used the old W)
        if learn:
            self.theta = self.theta - self.eta * G              # Θ ← Θ − η g_t
            self.V = self.V - self.eta_o * np.outer(e, h)       # V ← V − η_o e hᵀ
            self.c = self.c - self.eta_o * e                    # c ← c − η_o e

        self.h = h                                      # h_prev ← h_t
        return y, G

    def run(self, xs: np.ndarray, ds: np.ndarray, learn: bool = True,
            keep_grads: bool = False) -> FloatRun:
        """Run :meth:`step` over a sequence, continuing from the current state.

        Parameters
        ----------
        xs : numpy.ndarray
            Inputs, shape (T, m) (or (T,) when m = 1).
        ds : numpy.ndarray
            Targets, shape (T, p) (or (T,) when p = 1).
        learn : bool
            Update the parameters online at every step.
        keep_grads : bool
            Keep every step's g_t in the result.

        Returns
        -------
        FloatRun
            Outputs, per-step losses and, if asked for, per-step gradients.
        """
        xs = _as_sequence(xs, self.m, "xs")
        ds = _as_sequence(ds, self.p, "ds")
        if xs.shape[0] != ds.shape[0]:
            raise ValueError(f"xs and ds must have the same length, got shapes "
                             f"{xs.shape} and {ds.shape}")
        T = xs.shape[0]
        ys = np.zeros((T, self.p))
        losses = np.zeros(T)
        grads = np.zeros((T, self.n, self.q)) if keep_grads else None
        for t in range(T):
            y, G = self.step(xs[t], ds[t], learn=learn)
            ys[t] = y
            losses[t] = 0.5 * np.sum((y - ds[t]) ** 2)
            if grads is not None:
                grads[t] = G
        return FloatRun(y=ys, loss=losses, G=grads)


# ---------------------------------------------------------------------------- initialisation
def init_params(n: int, m: int, p: int, seed: int = 0, radius: float = 0.8,
                input_scale: float = 0.5, out_scale: float = 0.3
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A deterministic float initialisation for online learning.

    Drawn from ``numpy.random.default_rng(seed)`` in this order:

    - W (n × n): standard normal, then scaled so that its spectral radius
      (largest eigenvalue modulus) is ``radius``: a stable, slowly fading memory
      for ``radius < 1``;
    - U (n × m): N(0, input_scale² / m), so each pre-activation gets input
      variance ``input_scale²`` from unit-variance inputs;
    - V (p × n): N(0, out_scale² / n), small so the initial output is small.

    The biases b and c are zero.

    Parameters
    ----------
    n, m, p : int
        Hidden units, inputs and outputs (each ≥ 1).
    seed : int
        Seed of the generator.
    radius : float
        Spectral radius of W.
    input_scale : float
        Standard deviation scale of U.
    out_scale : float
        Standard deviation scale of V.

    Returns
    -------
    theta, V, c : numpy.ndarray
        Θ = [W | U | b] of shape (n, n + m + 1), V of shape (p, n), c of shape (p,).
    """
    for name, v in (("n", n), ("m", m), ("p", p)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    rho = np.max(np.abs(np.linalg.eigvals(W)))
    W = W * (radius / rho) if rho > 0 else W
    U = rng.normal(0.0, input_scale / np.sqrt(m), size=(n, m))
    b = np.zeros((n, 1))
    V = rng.normal(0.0, out_scale / np.sqrt(n), size=(p, n))
    c = np.zeros(p)
    theta = np.concatenate([W, U, b], axis=1)
    return theta, V, c
