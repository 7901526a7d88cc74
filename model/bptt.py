"""Backpropagation through time for the network of docs/design.md §2: the ground truth for RTRL.

With the parameters fixed and h_0 = 0, the sum of the exact RTRL gradients Σ_t g_t over a
sequence equals the gradient of the sequence loss

    L = Σ_t ½‖y_t − d_t‖²

w.r.t. Θ, which this module computes by a forward pass that keeps the history and a
backward pass through time. Written for reading, not speed.

Backward recursion (δ_t = ∂L/∂a_t, r_t = ∂L/∂h_t, with r_{T+1}'s future term zero)::

    r_t = Vᵀ e_t + Wᵀ δ_{t+1}
    δ_t = φ'(a_t) ⊙ r_t
    ∂L/∂Θ = Σ_t δ_t z_tᵀ,   ∂L/∂V = Σ_t e_t h_tᵀ,   ∂L/∂c = Σ_t e_t
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reference import _as_sequence, activate, check_params

__all__ = ["bptt_gradient", "sequence_loss"]


@dataclass(frozen=True)
class _History:
    """What the forward pass keeps: one row per time step."""

    z: np.ndarray       # (T, q)   z_t = [h_{t-1}; x_t; 1]
    h: np.ndarray       # (T, n)   h_t
    dphi: np.ndarray    # (T, n)   φ'(a_t)
    e: np.ndarray       # (T, p)   e_t = y_t − d_t


def _forward(theta: np.ndarray, V: np.ndarray, c: np.ndarray, xs: np.ndarray,
             ds: np.ndarray, activation: str) -> _History:
    """Run the network over the sequence from h_0 = 0 and keep z, h, φ' and e."""
    n, m, p = check_params(theta, V, c)
    theta = np.asarray(theta, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    xs = _as_sequence(xs, m, "xs")
    ds = _as_sequence(ds, p, "ds")
    if xs.shape[0] != ds.shape[0]:
        raise ValueError(f"xs and ds must have the same length, got shapes "
                         f"{xs.shape} and {ds.shape}")
    T, q = xs.shape[0], n + m + 1
    zs, hs, dphis, es = np.zeros((T, q)), np.zeros((T, n)), np.zeros((T, n)), np.zeros((T, p))
    h_prev = np.zeros(n)
    for t in range(T):
        z = np.concatenate([h_prev, xs[t], [1.0]])
        a = theta @ z
        h, dphi = activate(a, activation)
        y = V @ h + c
        zs[t], hs[t], dphis[t], es[t] = z, h, dphi, y - ds[t]
        h_prev = h
    return _History(z=zs, h=hs, dphi=dphis, e=es)


def sequence_loss(theta: np.ndarray, V: np.ndarray, c: np.ndarray, xs: np.ndarray,
                  ds: np.ndarray, activation: str) -> float:
    """The sequence loss L = Σ_t ½‖y_t − d_t‖² with fixed parameters and h_0 = 0.

    Parameters
    ----------
    theta : numpy.ndarray
        Θ = [W | U | b], shape (n, n + m + 1).
    V : numpy.ndarray
        Readout weights, shape (p, n).
    c : numpy.ndarray
        Readout bias, shape (p,).
    xs : numpy.ndarray
        Inputs, shape (T, m) (or (T,) when m = 1).
    ds : numpy.ndarray
        Targets, shape (T, p) (or (T,) when p = 1).
    activation : {"hardtanh", "tanh"}
        The activation φ.

    Returns
    -------
    float
        L.
    """
    hist = _forward(theta, V, c, xs, ds, activation)
    return float(0.5 * np.sum(hist.e ** 2))


def bptt_gradient(theta: np.ndarray, V: np.ndarray, c: np.ndarray, xs: np.ndarray,
                  ds: np.ndarray, activation: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of L = Σ_t ½‖y_t − d_t‖² by backpropagation through time.

    Parameters
    ----------
    theta, V, c, xs, ds, activation
        As for :func:`sequence_loss`.

    Returns
    -------
    dtheta : numpy.ndarray
        ∂L/∂Θ, shape (n, q).
    dV : numpy.ndarray
        ∂L/∂V, shape (p, n).
    dc : numpy.ndarray
        ∂L/∂c, shape (p,).
    """
    hist = _forward(theta, V, c, xs, ds, activation)
    theta = np.asarray(theta, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    n = theta.shape[0]
    W = theta[:, :n]
    T = hist.z.shape[0]

    dtheta = np.zeros_like(theta)
    dV = np.zeros_like(V)
    dc = np.zeros(V.shape[0])
    from_future = np.zeros(n)                   # Wᵀ δ_{t+1}: ∂L/∂h_t through a_{t+1}
    for t in reversed(range(T)):
        e = hist.e[t]
        dV += np.outer(e, hist.h[t])            # ∂/∂V of ½‖e_t‖² = e_t h_tᵀ
        dc += e                                 # ∂/∂c = e_t
        r = V.T @ e + from_future               # r_t = ∂L/∂h_t
        delta = hist.dphi[t] * r                # δ_t = ∂L/∂a_t
        dtheta += np.outer(delta, hist.z[t])    # a_t = Θ z_t
        from_future = W.T @ delta               # h_{t-1} = z_t[:n] feeds a_t through W
    return dtheta, dV, dc
