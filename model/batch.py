"""Batch mode of the integer model: B independent :class:`~rtrledit.model.FixedRTRL`
models of the same shapes (n, m, p, approximation), each with its own Config (formats,
roundings, activation, overflow), parameters, state and stream, run in one numba call.

:func:`run_batch` stacks the members' arrays and runs :func:`_run_batch`, one kernel
that loops over the members and, for each, over its time steps with the single model's
step (:func:`rtrledit.model.fixed._run_member`): the same bits as B separate
:meth:`FixedRTRL.run` calls, with the scratch arrays allocated once for the batch and one
dispatch instead of B. Members run one after the other (member-major), so each member's
S stays in cache over its whole stream; interleaving the members step by step would
evict it every step. The members have different W, so their W·S products cannot be one
BLAS call. docs/performance.md has the measurements (and why the batch is not spread
over the cores inside the kernel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba.typed import List

from ._jit import jit
from .fixed import FixedRTRL, FixedRun, _checked, _one_blas_thread, _run_member

__all__ = ["run_batch"]


@jit
def _run_batch(Ks, xs, ds, learn, track, theta, V, c, h, S, lfsr, sat, table, ys, es, flags,
               G, any_int, any_blas):
    """Every member b: ``_run_member(Ks[b], xs[b], ...)``; arrays stacked on axis 0.
    ``G`` (B, T or 0, n, q) receives the per-step gradients when its second axis is T.
    ``any_int`` / ``any_blas``: some member takes the int64 / float64 W·S path (the
    scratch of that path is allocated)."""
    K0 = Ks[0]
    n, q = K0.n, K0.q
    nq = n * q
    z = np.zeros(q, np.int64)
    a = np.zeros(n, np.int64)
    dphi = np.zeros(n, np.int64)
    chat = np.zeros(n, np.int64)
    g = np.zeros((n, q), np.int64)
    u = np.zeros((n, nq) if any_int else (0, 0), np.int64)
    fl = (n, nq) if any_blas else (0, 0)
    Wf = np.zeros((n, n) if any_blas else (0, 0))
    Sf = np.zeros(fl)
    uf = np.zeros(fl)
    Gf = np.zeros(nq if any_blas else 0)
    e2 = np.zeros((0, 0), np.int64)
    e3 = np.zeros((0, 0, 0), np.int64)
    for b in range(len(Ks)):
        tr = (e2, e2, e2, e2, e2, G[b], e3, e3, e3, e2, e2)
        _run_member(Ks[b], xs[b], ds[b], learn, track, theta[b], V[b], c[b], h[b], S[b],
                    lfsr[b], sat[b], table[b], ys[b], es[b], flags[b], tr,
                    z, a, dphi, chat, g, u, Wf, Sf, uf, Gf)


def run_batch(models: Sequence[FixedRTRL], xs, ds, learn: bool = True, track: bool = True,
              keep_grads: bool = False) -> list[FixedRun]:
    """Run each model on its own stream in one kernel call; the models' parameters, state,
    counters, LFSR and step counts advance exactly as with ``models[b].run(xs[b], ds[b])``.

    ``xs`` (B, T, m) and ``ds`` (B, T, p): member b's integer samples and targets (in
    its formats X and Y); a single (T, m) / (T, p) array is every member's. Returns one
    :class:`FixedRun` per member (no trace; ``G`` with ``keep_grads``). ValueError for an
    empty batch or members of other shapes than the first.
    """
    if not models:
        raise ValueError("run_batch: empty batch")
    if learn and not track:
        raise ValueError("learn=True needs track=True (the update needs the gradient)")
    c0 = models[0].cfg
    shape = (c0.n, c0.m, c0.p, c0.approx)
    for i, mdl in enumerate(models):
        c = mdl.cfg
        if (c.n, c.m, c.p, c.approx) != shape:
            raise ValueError(f"run_batch: member {i} has (hidden, inputs, outputs, approx) = "
                             f"{(c.n, c.m, c.p, c.approx)}, member 0 {shape}")
    B, n, p, q = len(models), c0.n, c0.p, c0.q
    xs = _per_member("xs", xs, models, lambda m: (None, m.cfg.m), lambda m: m.cfg.formats.X)
    T = xs.shape[1]
    ds = _per_member("ds", ds, models, lambda m: (T, m.cfg.p), lambda m: m.cfg.formats.Y)
    stack = lambda name: np.stack([getattr(m, name) for m in models])  # noqa: E731
    theta, V, c, h = stack("theta"), stack("V"), stack("c"), stack("h")
    S = np.stack([m.S.reshape(n, -1) for m in models])
    lfsr, sat = stack("_lfsr"), stack("sat")
    width = max(len(m._table) for m in models)
    table = np.zeros((B, width), np.int64)
    for b, m in enumerate(models):
        table[b, :len(m._table)] = m._table
    ys, es = np.zeros((B, T, p), np.int64), np.zeros((B, T, p), np.int64)
    flags = np.zeros((B, T), np.int64)
    G = np.zeros((B, T if keep_grads else 0, n, q), np.int64)
    Ks = List([m._K for m in models])
    exact = c0.approx == "exact"
    any_blas = any(m._K.blas for m in models)
    any_int = exact and not all(m._K.blas for m in models)
    args = (Ks, xs, ds, bool(learn), bool(track), theta, V, c, h, S, lfsr, sat, table, ys, es,
            flags, G, any_int, any_blas)
    if any_blas:
        with _one_blas_thread():
            _run_batch(*args)
    else:
        _run_batch(*args)
    runs = []
    for b, m in enumerate(models):
        m.theta, m.V, m.c, m.h = theta[b].copy(), V[b].copy(), c[b].copy(), h[b].copy()
        m.S = S[b].reshape(m.cfg.s_shape).copy()
        m._lfsr, m.sat = lfsr[b].copy(), sat[b].copy()
        m.steps += T
        runs.append(FixedRun(y=ys[b], e=es[b], flags=flags[b], G=G[b] if keep_grads else None))
    return runs


def _per_member(name: str, arr, models, shape, fmt) -> np.ndarray:
    """(B, T, k) int64 from one array per member or one (T, k) array shared by all, each
    member's slice checked against its own format."""
    a = np.asarray(arr)
    if a.ndim == 2:
        a = np.broadcast_to(a, (len(models),) + a.shape)
    if a.ndim != 3 or len(a) != len(models):
        raise ValueError(f"{name}: expected shape (B, T, k) with B = {len(models)} or (T, k), "
                         f"got {np.shape(arr)}")
    return np.stack([_checked(f"{name}[{b}]", a[b], shape(m), fmt(m))
                     for b, m in enumerate(models)])

