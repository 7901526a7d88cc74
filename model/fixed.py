"""The bit-exact integer (fixed-point) RTRL model: docs/design.md §3.1, step by step.

This is the specification of the hardware. :func:`_step` follows §3.1 numbered
step by numbered step; read the two side by side. Every quantity is an int64
holding a Q(w, f) integer of the Config's formats; every sum is exact (the
Config proves it fits 63 bits); every requantisation goes through
:func:`~rtrledit.model.requant.rq` and every out-of-range result is counted in
``sat`` under its quantity (:data:`~rtrledit.model.config.SAT_NAMES`): one count
per RQ or saturation that clipped (the two RQs of step 7 count separately).

The kernel is compiled with numba; a whole sequence runs in one call, with or
without a per-step trace.

Step 7 of exact RTRL (the n⁴ part) has two implementations that give the same bits:
int64 loops, and a float64 path (BLAS product, requantisation in float64, S kept as
float64 between steps and copied back into ``S`` at the end of a run) taken only when
:func:`float_exact` proves every intermediate an integer below 2^53. Which one runs is
chosen per machine by a cached measurement (:mod:`rtrledit.model.calibrate`).
"""

from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from ._jit import jit

from .calibrate import blas_min_hidden
from .config import SAT_NAMES, Config
from .requant import HALF_EVEN, HALF_UP, ROUNDING_CODE, STOCHASTIC, dequantise, fit, lfsr_next, quantise, rq

__all__ = ["FixedRTRL", "FixedRun", "tanh_table", "tanh_index", "kernel_constants", "TRACE_FIELDS"]

SAT_X, SAT_A, SAT_H, SAT_DPHI, SAT_Y, SAT_E, SAT_CHAT, SAT_S, SAT_THETA, SAT_V = range(len(SAT_NAMES))

#: The constants the kernel reads, all plain integers (a numba-friendly namedtuple).
K = namedtuple("K", "n m p q wX fX wH fH wP fP wA fA wF fF wO fO wY fY wC fC wS fS "
                    "r_fwd r_sens r_upd wrap eta eta_o tanh snap1 tanh_shift tanh_bits blas")

#: Quantities a full trace records per step, with their shapes given (n, m, p, q, s_shape).
TRACE_FIELDS = ("z", "a", "h", "dphi", "y", "e", "chat", "G", "S", "theta", "V", "c", "sat")


def kernel_constants(cfg: Config, blas: bool | None = None) -> K:
    """The Config flattened into the integers the kernel (and the HDL) use.

    ``K.blas``: the W·S product of exact RTRL runs in float64 BLAS. Only when the Config
    proves it exact (:func:`float_exact`), whatever is asked; then ``blas`` when given,
    else from :func:`blas_threshold` on (measured per machine).
    """
    fm = cfg.formats
    if blas is None:
        blas = float_exact(cfg) and cfg.n >= blas_threshold()
    return K(cfg.n, cfg.m, cfg.p, cfg.q,
             fm.X.w, fm.X.f, fm.H.w, fm.H.f, fm.P.w, fm.P.f, fm.A.w, fm.A.f, fm.F.w, fm.F.f,
             fm.O.w, fm.O.f, fm.Y.w, fm.Y.f, fm.C.w, fm.C.f, fm.S.w, fm.S.f,
             ROUNDING_CODE[cfg.r_fwd], ROUNDING_CODE[cfg.r_sens], ROUNDING_CODE[cfg.r_upd],
             cfg.overflow == "wrap", cfg.eta, cfg.eta_o, cfg.activation == "tanh",
             cfg.approx == "snap1", cfg.tanh_shift, cfg.tanh_bits,
             bool(blas) and float_exact(cfg))


def float_exact(cfg: Config) -> bool:
    """Whether float64 computes step 7 of exact RTRL exactly, in any order.

    ``acc_widths`` bounds each sum by the sum of the magnitudes of its terms, so it
    bounds every partial sum a BLAS may form, in any order or blocking: u = W·S + z-term
    (``"u"``), the product RQ(u)·φ' (``"s_dphi"``) and G = Σ ĉ·S (``"g"``). Integers of
    magnitude up to 2^53 are exact in float64 (an FMA of exact operands with an exact
    result rounds nothing; scaling by a power of two is exact), so 53 signed bits for
    each suffice; the rounding offsets of RQ add less than one bit (2^(s-1) to a value
    below 2^52). S itself (w_S <= 32 bits) is exact in float64.
    """
    w = cfg.acc_widths
    return (cfg.approx == "exact" and cfg.r_sens != "stochastic"   # (the Config refuses it)
            and max(w["u"], w["s_dphi"], w["g"]) <= FLOAT_EXACT_BITS)


def blas_threshold() -> int:
    """The hidden size from which W·S goes to BLAS: :data:`BLAS_MIN_HIDDEN` when set
    (tests set it), else the measured, cached value (:mod:`rtrledit.model.calibrate`)."""
    if BLAS_MIN_HIDDEN is not None:
        return BLAS_MIN_HIDDEN
    return blas_min_hidden()


def tanh_table(cfg: Config) -> np.ndarray:
    """The tanh table T of §3.1 step 3: ``2**tanh_bits`` entries in format H.

    Entry ``idx`` holds tanh at the centre of the bin of a-values that
    :func:`tanh_index` maps to ``idx``, rounded to nearest (ties to even). The HDL
    takes its ROM from this function, so model and hardware share one table.
    """
    fm, k, s = cfg.formats, cfg.tanh_bits, cfg.tanh_shift
    lo = np.arange(-(1 << (k - 1)), 1 << (k - 1), dtype=np.float64) * (1 << s)
    centre = lo + ((1 << s) - 1) / 2.0
    return quantise(np.tanh(centre / fm.A.one), fm.H)


@jit
def tanh_index(a: int, shift: int, bits: int) -> int:
    """Table index of pre-activation ``a``: clamp(a >> shift) offset to 0..2^bits - 1."""
    half = 1 << (bits - 1)
    i = a >> shift
    if i < -half:
        i = -half
    elif i > half - 1:
        i = half - 1
    return i + half


@jit
def _rqc(v, s, w, mode, wrap, sat, which):
    """RQ with the LFSR unused (modes other than stochastic), counting saturation."""
    r, clipped = rq(v, s, w, mode, wrap, 0)
    if clipped:
        sat[which] += 1
    return r


@jit
def _update(K, value, grad, s, w, state):
    """Step 8 for one element: sat(value - RQ(grad, s -> w, r_upd)) with the LFSR advanced
    once from ``state``. Returns (new value, new LFSR state, clips counted)."""
    state = lfsr_next(state)
    r = state if K.r_upd == STOCHASTIC else 0
    delta, c1 = rq(grad, s, w, K.r_upd, K.wrap, r)
    new, c2 = fit(value - delta, w, K.wrap)
    return new, state, c1 + c2


@jit
def _learn(K, theta, V, c, G, e, h, sat, lfsr):
    """Step 8: Θ row-major, then V row-major, then c (the LFSR order). Counts and the LFSR
    state are kept in locals (a store into ``sat`` per element made the loop ~10x slower)."""
    st, cl = lfsr[0], 0
    for i in range(K.n):
        for j in range(K.q):
            theta[i, j], st, k = _update(K, theta[i, j], G[i, j],
                                         K.fC + K.fS + K.eta - K.fP, K.wP, st)
            cl += k
    sat[SAT_THETA] += cl
    cl = 0
    for o in range(K.p):
        for k in range(K.n):
            V[o, k], st, kk = _update(K, V[o, k], e[o] * h[k], K.fY + K.fH + K.eta_o - K.fO,
                                      K.wO, st)
            cl += kk
    for o in range(K.p):
        c[o], st, kk = _update(K, c[o], e[o], K.fY + K.eta_o - K.fO, K.wO, st)
        cl += kk
    sat[SAT_V] += cl
    lfsr[0] = st


@jit
def _snap1_sens(K, theta, S, z, dphi, chat, G, sat):
    """Step 7 of SnAp-1: S[i, j] = RQ(RQ(W_ii S[i, j] + e_i z_j term) φ'_i), G = ĉ_i S[i, j].
    The clip count is kept in a local (one store into ``sat`` per element through
    :func:`_rqc` made this loop ~60x slower: ~60 ns an element against ~1)."""
    zsh = K.fP + K.fS - K.fH
    clipped = 0
    for i in range(K.n):
        w, dk, ck = theta[i, i], dphi[i], chat[i]
        for j in range(K.q):
            s1, c1 = rq(w * S[i, j] + (z[j] << zsh), K.fP, K.wS, K.r_sens, K.wrap, 0)
            s2, c2 = rq(s1 * dk, K.fF, K.wS, K.r_sens, K.wrap, 0)
            S[i, j] = s2
            G[i, j] = ck * s2
            clipped += c1 + c2
    sat[SAT_S] += clipped


#: Integers below 2^53 are exact in float64, and so are sums that stay below it.
FLOAT_EXACT_BITS = 53
#: From this hidden size on, the W·S product goes to float64 BLAS (when exact). None: the
#: size measured on this machine (:func:`rtrledit.model.calibrate.blas_min_hidden`, with
#: its environment override ``RTRLEDIT_BLAS_MIN_HIDDEN``); an integer overrides both.
BLAS_MIN_HIDDEN: int | None = None


@jit
def _ws_int(theta, Sm, u):
    """u = W·S in int64 loops (W = Θ[:, :n], S as n × n·q): exact for every Config."""
    n, nq = Sm.shape
    for k in range(n):
        for col in range(nq):
            u[k, col] = 0
        for l in range(n):
            w = theta[k, l]
            for col in range(nq):
                u[k, col] += w * Sm[l, col]


@jit
def _ws_blas(theta, Wf, Sf, uf):
    """uf = W·S in float64 BLAS, exact when :func:`float_exact`. ``Sf`` is S as float64,
    kept up to date by :func:`_sens_requant`; W is converted into ``Wf``; nothing is
    allocated."""
    n = Wf.shape[0]
    for k in range(n):
        for l in range(n):
            Wf[k, l] = theta[k, l]
    np.dot(Wf, Sf, uf)


@jit
def _sens_requant(K, u, z, dphi, chat, Sm, Gm, sat):
    """Step 7 after the int64 product, for every column: u += e_i z_j term, the two RQs,
    S (into ``Sm``) and G (into ``Gm``, G flattened to n·q), in one pass."""
    n, q = K.n, K.q
    nq = n * q
    zsh = K.fP + K.fS - K.fH
    for i in range(n):
        for j in range(q):
            u[i, i * q + j] += z[j] << zsh
    for col in range(nq):
        Gm[col] = 0
    clipped = 0
    for k in range(n):
        dk, ck = dphi[k], chat[k]
        for col in range(nq):
            s1, c1 = rq(u[k, col], K.fP, K.wS, K.r_sens, K.wrap, 0)
            s2, c2 = rq(s1 * dk, K.fF, K.wS, K.r_sens, K.wrap, 0)
            Sm[k, col] = s2
            Gm[col] += ck * s2
            clipped += c1 + c2
    sat[SAT_S] += clipped


@jit
def _rq_float(v, scale, half, even, lo, hi, wrap):
    """RQ of an exact float64 integer ``v``: (result, out of range), bit-equal to
    :func:`~rtrledit.model.requant.rq` for floor, half_up and half_even.

    ``scale`` = 2^-s (exact); ``half`` 0.5 for half_up, else 0; ``even`` for half_even,
    which is rint (IEEE round-half-even): ``v·2^-s`` and ``v·2^-s + 0.5`` are exact (below
    2^53), so floor / rint of them are RQ's integer shifts. ``s <= 0`` gives an exact
    integer, left alone by floor and rint. Wrap is ``v - 2^w·floor((v - lo) / 2^w)``.
    """
    t = v * scale
    r = np.rint(t) if even else np.floor(t + half)
    out = r < lo or r > hi
    if wrap:
        span = hi - lo + 1.0
        return r - span * np.floor((r - lo) / span), out
    return min(max(r, lo), hi), out


@jit
def _sens_requant_float(K, uf, z, dphi, chat, Sf, Gf, sat):
    """Step 7 after the BLAS product, all in exact float64 (see :func:`float_exact`):
    the e_i z_j term, the two RQs, S (into ``Sf``) and G (into ``Gf``, n·q), one pass."""
    n, q = K.n, K.q
    zsh = K.fP + K.fS - K.fH
    for i in range(n):
        for j in range(q):
            uf[i, i * q + j] += z[j] << zsh
    for col in range(n * q):
        Gf[col] = 0.0
    if K.wrap:
        sat[SAT_S] += _requant_rows_wrap(K, uf, dphi, chat, Sf, Gf)
    else:
        sat[SAT_S] += _requant_rows(K, uf, dphi, chat, Sf, Gf)


@jit
def _requant_rows_wrap(K, uf, dphi, chat, Sf, Gf):
    """The two RQs of step 7 and G, element by element (any overflow mode); returns the
    number of out-of-range results."""
    lo, hi = float(-(1 << (K.wS - 1))), float((1 << (K.wS - 1)) - 1)
    half = 0.5 if K.r_sens == HALF_UP else 0.0
    even = K.r_sens == HALF_EVEN
    sc1, sc2 = 2.0 ** -K.fP, 2.0 ** -K.fF
    clipped = 0
    for k in range(uf.shape[0]):
        dk, ck = float(dphi[k]), float(chat[k])
        for col in range(uf.shape[1]):
            s1, c1 = _rq_float(uf[k, col], sc1, half, even, lo, hi, K.wrap)
            s2, c2 = _rq_float(s1 * dk, sc2, half, even, lo, hi, K.wrap)
            Sf[k, col] = s2
            Gf[col] += ck * s2
            clipped += c1 + c2
    return clipped


@jit
def _requant_rows(K, uf, dphi, chat, Sf, Gf):
    """:func:`_requant_rows_wrap` for saturating formats, written so that LLVM vectorises
    it (branch-free inner loops). A row whose φ' is 0 or exactly 1.0 (hardtanh's only
    values) skips the second RQ: RQ(s1·2^f_F, f_F) is s1 for every rounding, and s1
    already fits w_S bits."""
    lo, hi = float(-(1 << (K.wS - 1))), float((1 << (K.wS - 1)) - 1)
    half = 0.5 if K.r_sens == HALF_UP else 0.0
    even = K.r_sens == HALF_EVEN
    sc1, sc2 = 2.0 ** -K.fP, 2.0 ** -K.fF
    one = 1 << K.fF
    clipped = 0
    for k in range(uf.shape[0]):
        dk, ck = dphi[k], float(chat[k])
        u, row = uf[k], Sf[k]
        if dk == 0 or dk == one:
            keep = dk == one
            for col in range(u.shape[0]):
                t = u[col] * sc1
                r = np.rint(t) if even else np.floor(t + half)
                clipped += (r < lo) | (r > hi)
                sv = min(max(r, lo), hi) if keep else 0.0
                row[col] = sv
                Gf[col] += ck * sv
        else:
            dkf = float(dk)
            for col in range(u.shape[0]):
                t = u[col] * sc1
                r = np.rint(t) if even else np.floor(t + half)
                clipped += (r < lo) | (r > hi)
                t = min(max(r, lo), hi) * dkf * sc2
                r = np.rint(t) if even else np.floor(t + half)
                clipped += (r < lo) | (r > hi)
                sv = min(max(r, lo), hi)
                row[col] = sv
                Gf[col] += ck * sv
    return clipped


@jit
def _step(K, x, d, learn, track, theta, V, c, h, S, lfsr, sat, table, z, a, dphi, y, e, chat, G,
          u, Wf, Sf, uf, Gf):
    """One time step of §3.1. Updates theta, V, c, h, S, lfsr, sat in place; fills the rest.

    ``track`` runs step 7 (sensitivities and G), ``learn`` step 8 (and implies ``track``);
    with both off the step is the forward pass only (the hardware's inference mode).
    """
    n, m, p, q = K.n, K.m, K.p, K.q
    one_H = 1 << K.fH
    # 1. z = [h_prev ; RQ(x, f_X -> H) ; 2^f_H]
    for i in range(n):
        z[i] = h[i]
    for j in range(m):
        z[n + j] = _rqc(x[j], K.fX - K.fH, K.wH, K.r_fwd, K.wrap, sat, SAT_X)
    z[n + m] = one_H
    # 2. a[i] = RQ(sum_j Theta[i,j] z[j], f_P + f_H -> A)
    for i in range(n):
        acc = 0
        for j in range(q):
            acc += theta[i, j] * z[j]
        a[i] = _rqc(acc, K.fP + K.fH - K.fA, K.wA, K.r_fwd, K.wrap, sat, SAT_A)
    # 3. h and phi'
    for i in range(n):
        if K.tanh:
            h[i] = table[tanh_index(a[i], K.tanh_shift, K.tanh_bits)]
            dphi[i] = _rqc((1 << (2 * K.fH)) - h[i] * h[i], 2 * K.fH - K.fF, K.wF,
                           K.r_fwd, K.wrap, sat, SAT_DPHI)
        else:
            hi = _rqc(a[i], K.fA - K.fH, K.wH, K.r_fwd, K.wrap, sat, SAT_H)
            h[i] = min(max(hi, -one_H), one_H)
            one_A = 1 << K.fA
            dphi[i] = (1 << K.fF) if -one_A < a[i] < one_A else 0
    # 4. y[o] = RQ(sum_k V[o,k] h[k] + c[o] 2^f_H, f_O + f_H -> Y)
    for o in range(p):
        acc = c[o] << K.fH
        for k in range(n):
            acc += V[o, k] * h[k]
        y[o] = _rqc(acc, K.fO + K.fH - K.fY, K.wY, K.r_fwd, K.wrap, sat, SAT_Y)
    # 5. e[o] = sat_Y(y[o] - d[o])
    for o in range(p):
        eo, clipped = fit(y[o] - d[o], K.wY, K.wrap)
        e[o] = eo
        sat[SAT_E] += clipped
    # 6. chat[k] = RQ(sum_o V[o,k] e[o], f_O + f_Y -> C)
    for k in range(n):
        acc = 0
        for o in range(p):
            acc += V[o, k] * e[o]
        chat[k] = _rqc(acc, K.fO + K.fY - K.fC, K.wC, K.r_fwd, K.wrap, sat, SAT_CHAT)
    # 7. sensitivities (reads the old W = Theta[:, :n]) and the gradient G (f_C + f_S)
    if track or learn:
        if K.snap1:
            _snap1_sens(K, theta, S, z, dphi, chat, G, sat)
        else:
            # u = W S over all n*q columns (S is passed as n x (n*q): column (i, j) at i*q + j),
            # then the e_i z_j term: row i of column (i, j) gets z[j] aligned to f_P + f_S.
            if K.blas:   # S lives in Sf (float64) here; _run copies it back into S
                _ws_blas(theta, Wf, Sf, uf)
                _sens_requant_float(K, uf, z, dphi, chat, Sf, Gf, sat)
                Gm = G.reshape(n * q)
                for col in range(n * q):
                    Gm[col] = np.int64(Gf[col])
            else:
                _ws_int(theta, S, u)
                _sens_requant(K, u, z, dphi, chat, S, G.reshape(n * q), sat)
    # 8. the update: Theta row-major, then V row-major, then c (the LFSR order)
    if learn:
        _learn(K, theta, V, c, G, e, h, sat, lfsr)
    # 9. h_prev <- h happens in place: h now holds this step's h.


@jit
def _run(K, xs, ds, learn, track, theta, V, c, h, S, lfsr, sat, table, ys, es, flags, tr):
    n, q = K.n, K.q
    exact = not K.snap1
    # the BLAS path keeps S as exact float64 integers between steps (Sf), W in Wf
    fl = (n, n * q) if K.blas else (0, 0)
    _run_member(K, xs, ds, learn, track, theta, V, c, h, S, lfsr, sat, table, ys, es, flags, tr,
                np.zeros(q, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                np.zeros(n, np.int64), np.zeros((n, q), np.int64),
                np.zeros((n, n * q) if exact and not K.blas else (0, 0), np.int64),
                np.zeros((n, n) if K.blas else (0, 0)), np.zeros(fl), np.zeros(fl),
                np.zeros(n * q if K.blas else 0))


@jit
def _run_member(K, xs, ds, learn, track, theta, V, c, h, S, lfsr, sat, table, ys, es, flags, tr,
                z, a, dphi, chat, G, u, Wf, Sf, uf, Gf):
    """:func:`_run`'s loop over the time steps, with the scratch arrays given (the batch
    kernel of :mod:`rtrledit.model.batch` allocates them once for all its members)."""
    if K.blas:
        _copy_into(S, Sf)
    before = sat.copy()
    tz, ta, th, tdphi, tchat, tG, tS, ttheta, tV, tc, tsat = tr
    for t in range(xs.shape[0]):
        before[:] = sat
        _step(K, xs[t], ds[t], learn, track, theta, V, c, h, S, lfsr, sat, table,
              z, a, dphi, ys[t], es[t], chat, G, u, Wf, Sf, uf, Gf)
        if K.blas and tz.shape[0]:
            _copy_into(Sf, S)
        f = 0
        for i in range(sat.shape[0]):
            if sat[i] != before[i]:
                f |= 1 << i
        flags[t] = f
        if tG.shape[0]:
            tG[t] = G
        if tz.shape[0]:
            tz[t] = z
            ta[t] = a
            th[t] = h
            tdphi[t] = dphi
            tchat[t] = chat
            tS[t] = S
            ttheta[t] = theta
            tV[t] = V
            tc[t] = c
            tsat[t] = sat
    if K.blas:
        _copy_into(Sf, S)


@jit
def _copy_into(src, dst):
    """dst[...] = src for two 2-D arrays of one shape (int64 <-> exact float64)."""
    for k in range(src.shape[0]):
        for col in range(src.shape[1]):
            dst[k, col] = src[k, col]


@dataclass(frozen=True)
class FixedRun:
    """What :meth:`FixedRTRL.run` returns (all integers in their Config formats).

    ``y`` (T, p) outputs before each update and ``e`` (T, p) errors (format Y);
    ``flags`` (T,) a bitmask per step, bit i set when counter ``SAT_NAMES[i]`` grew;
    ``G`` (T, n, q) per-step gradients (f_C + f_S fraction bits) when asked for;
    ``trace`` a dict of per-step arrays (:data:`TRACE_FIELDS`, state after the step)
    when asked for.
    """

    y: np.ndarray
    e: np.ndarray
    flags: np.ndarray
    G: np.ndarray | None = None
    trace: dict[str, np.ndarray] | None = None


_BLAS_LIBS: list = []


@contextmanager
def _one_blas_thread():
    """A context in which BLAS runs on one thread. The W·S product of one step is small:
    on 2 cores, OpenBLAS' own threads made the model 3x slower (3.9k against 12.6k steps/s
    at n = 32), so the kernel's BLAS calls run single-threaded. The libraries are found
    once (threadpoolctl); entering and leaving then costs two C calls per library, not
    threadpoolctl's ~0.1 ms ``limit`` (which mattered for callers running one step per
    call, such as the cocotb scoreboard)."""
    libs = blas_libraries()
    before = [lib.get_num_threads() for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, k in zip(libs, before):
            lib.set_num_threads(k)


def blas_libraries() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries, the one numba's ``np.dot``
    calls (scipy's) included; found once."""
    if not _BLAS_LIBS:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)
        from threadpoolctl import ThreadpoolController
        _BLAS_LIBS.extend(lib for lib in ThreadpoolController().lib_controllers
                          if lib.user_api == "blas")
    return _BLAS_LIBS


class FixedRTRL:
    """The integer RTRL model of docs/design.md §3.1 for one :class:`Config`.

    Parameters
    ----------
    cfg : Config
    theta, V, c : integer arrays
        Θ (n, q) in format P, V (p, n) and c (p,) in format O. Copied.
    blas : bool or None
        Force the float64-BLAS W·S product (True) or the int64 loops (False); None
        chooses by the size measured on this machine. Same bits either way; BLAS is
        taken only where the formats make it exact (:func:`float_exact`).

    Attributes
    ----------
    theta, V, c, h, S : np.ndarray (int64)
        Parameters and state; S is (n, n, q) for exact RTRL and (n, q) for snap1.
    lfsr : int
        State of the stochastic-rounding LFSR.
    sat : np.ndarray
        Saturation counters, one per name in :data:`SAT_NAMES`.
    steps : int
        Time steps run so far.
    """

    def __init__(self, cfg: Config, theta, V, c, blas: bool | None = None) -> None:
        self.cfg = cfg
        self._K = kernel_constants(cfg, blas)
        self._table = tanh_table(cfg) if cfg.activation == "tanh" else np.zeros(1, np.int64)
        n, p, q = cfg.n, cfg.p, cfg.q
        fm = cfg.formats
        self.theta = _checked("theta", theta, (n, q), fm.P)
        self.V = _checked("V", V, (p, n), fm.O)
        self.c = _checked("c", c, (p,), fm.O)
        self.reset_state()
        self._lfsr = np.array([cfg.lfsr_seed], np.int64)
        self.sat = np.zeros(len(SAT_NAMES), np.int64)
        self.steps = 0

    @classmethod
    def from_float(cls, cfg: Config, theta, V, c, blas: bool | None = None) -> "FixedRTRL":
        """Quantise float parameters (round to nearest, saturate) and build the model."""
        fm = cfg.formats
        return cls(cfg, quantise(theta, fm.P), quantise(V, fm.O), quantise(c, fm.O), blas)

    @property
    def lfsr(self) -> int:
        return int(self._lfsr[0])

    @lfsr.setter
    def lfsr(self, value: int) -> None:
        self._lfsr[0] = value

    def reset_state(self) -> None:
        """h and S to zero (parameters, counters and LFSR kept)."""
        self.h = np.zeros(self.cfg.n, np.int64)
        self.S = np.zeros(self.cfg.s_shape, np.int64)

    def quantise_inputs(self, xs, ds) -> tuple[np.ndarray, np.ndarray]:
        """Float samples (T, m) and targets (T, p) to integers of formats X and Y."""
        fm = self.cfg.formats
        return quantise(xs, fm.X), quantise(ds, fm.Y)

    def run(self, xs, ds, learn: bool = True, track: bool = True, keep_grads: bool = False,
            trace: bool = False) -> FixedRun:
        """Run integer samples ``xs`` (T, m) in format X and targets ``ds`` (T, p) in format Y.

        ``learn`` applies the parameter update (step 8); ``track`` updates the
        sensitivities and computes G (step 7) and is implied by ``learn``. With
        ``learn=False, track=False`` only the forward pass runs (S and G stay as they
        are): the hardware's inference mode. With ``keep_grads`` the per-step gradients G
        are returned; with ``trace`` every quantity of the step (see
        :data:`TRACE_FIELDS`) is recorded per step.
        """
        if learn and not track:
            raise ValueError("learn=True needs track=True (the update needs the gradient)")
        cfg = self.cfg
        n, m, p, q = cfg.n, cfg.m, cfg.p, cfg.q
        xs = _checked("xs", xs, (None, m), cfg.formats.X)
        ds = _checked("ds", ds, (len(xs), p), cfg.formats.Y)
        T = len(xs)
        ys = np.zeros((T, p), np.int64)
        es = np.zeros((T, p), np.int64)
        flags = np.zeros(T, np.int64)
        full, tg = (T if trace else 0), (T if (trace or keep_grads) else 0)
        tr = (np.zeros((full, q), np.int64), np.zeros((full, n), np.int64),
              np.zeros((full, n), np.int64), np.zeros((full, n), np.int64),
              np.zeros((full, n), np.int64), np.zeros((tg, n, q), np.int64),
              np.zeros((full, n, cfg.s_shape[-1] * (n if cfg.approx == 'exact' else 1)), np.int64), np.zeros((full, n, q), np.int64),
              np.zeros((full, p, n), np.int64), np.zeros((full, p), np.int64),
              np.zeros((full, len(SAT_NAMES)), np.int64))
        args = (self._K, xs, ds, bool(learn), bool(track), self.theta, self.V, self.c, self.h,
                self.S.reshape(n, -1), self._lfsr, self.sat, self._table, ys, es, flags, tr)
        if self._K.blas:
            with _one_blas_thread():
                _run(*args)
        else:
            _run(*args)
        self.steps += T
        traced = None
        if trace:
            names = ("z", "a", "h", "dphi", "chat", "G", "S", "theta", "V", "c", "sat")
            traced = dict(zip(names, tr), y=ys, e=es)
            traced["S"] = traced["S"].reshape((T,) + cfg.s_shape)
        return FixedRun(y=ys, e=es, flags=flags, G=tr[5] if tg else None, trace=traced)

    def step(self, x, d, learn: bool = True) -> tuple[np.ndarray, int]:
        """One time step; returns (y, saturation flags)."""
        r = self.run(np.asarray(x).reshape(1, -1), np.asarray(d).reshape(1, -1), learn)
        return r.y[0], int(r.flags[0])

    def params(self) -> dict[str, np.ndarray]:
        return {"theta": self.theta.copy(), "V": self.V.copy(), "c": self.c.copy()}

    def float_params(self) -> dict[str, np.ndarray]:
        """Θ, V, c as float64 values."""
        fm = self.cfg.formats
        return {"theta": dequantise(self.theta, fm.P), "V": dequantise(self.V, fm.O),
                "c": dequantise(self.c, fm.O)}

    def state(self) -> dict[str, Any]:
        """Everything needed to resume bit-exactly (see :mod:`rtrledit.model.params`)."""
        return {**self.params(), "h": self.h.copy(), "S": self.S.copy(),
                "lfsr": self.lfsr, "sat": self.sat.copy(), "steps": self.steps}

    def load_state(self, st: dict[str, Any]) -> None:
        cfg, fm = self.cfg, self.cfg.formats
        self.theta = _checked("theta", st["theta"], (cfg.n, cfg.q), fm.P)
        self.V = _checked("V", st["V"], (cfg.p, cfg.n), fm.O)
        self.c = _checked("c", st["c"], (cfg.p,), fm.O)
        if "h" in st:
            self.h = _checked("h", st["h"], (cfg.n,), fm.H)
            self.S = _checked("S", st["S"], cfg.s_shape, fm.S)
        if "lfsr" in st:
            self.lfsr = int(st["lfsr"])
            self.sat = np.array(st["sat"], np.int64).reshape(len(SAT_NAMES))
            self.steps = int(st["steps"])


def _checked(name: str, arr, shape: tuple, fmt) -> np.ndarray:
    """An int64 C-contiguous copy of ``arr`` after checking shape, integrality and range."""
    a = np.asarray(arr)
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        want = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected shape {want}, got {a.shape}")
    if a.dtype.kind not in "iu":
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{name}: expected integers of format {fmt}, got {a.dtype} values "
                             "(quantise floats first)")
    a = np.array(a, dtype=np.int64, order="C")  # always a copy
    if a.size and (a.min() < fmt.min or a.max() > fmt.max):
        raise ValueError(f"{name}: values outside format {fmt} ({fmt.min}..{fmt.max})")
    return a
