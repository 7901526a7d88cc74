"""The bit-exact integer (fixed-point) RTRL model: DESIGN.md §3.1, step by step.

This is the specification of the hardware. :func:`_step` follows §3.1 numbered
step by numbered step; read the two side by side. Every quantity is an int64
holding a Q(w, f) integer of the Config's formats; every sum is exact (the
Config proves it fits 63 bits); every requantisation goes through
:func:`~rtrledit.model.requant.rq` and every out-of-range result is counted in
``sat`` under its quantity (:data:`~rtrledit.model.config.SAT_NAMES`): one count
per RQ or saturation that clipped (the two RQs of step 7 count separately).

The kernel is compiled with numba; a whole sequence runs in one call, with or
without a per-step trace.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np
from ._jit import jit

from .config import SAT_NAMES, Config
from .requant import ROUNDING_CODE, STOCHASTIC, dequantise, fit, lfsr_next, quantise, rq

__all__ = ["FixedRTRL", "FixedRun", "tanh_table", "tanh_index", "kernel_constants", "TRACE_FIELDS"]

SAT_X, SAT_A, SAT_H, SAT_DPHI, SAT_Y, SAT_E, SAT_CHAT, SAT_S, SAT_THETA, SAT_V = range(len(SAT_NAMES))

#: The constants the kernel reads, all plain integers (a numba-friendly namedtuple).
K = namedtuple("K", "n m p q wX fX wH fH wP fP wA fA wF fF wO fO wY fY wC fC wS fS "
                    "r_fwd r_sens r_upd wrap eta eta_o tanh snap1 tanh_shift tanh_bits blas")

#: Quantities a full trace records per step, with their shapes given (n, m, p, q, s_shape).
TRACE_FIELDS = ("z", "a", "h", "dphi", "y", "e", "chat", "G", "S", "theta", "V", "c", "sat")


def kernel_constants(cfg: Config) -> K:
    """The Config flattened into the integers the kernel (and the HDL) use."""
    fm = cfg.formats
    return K(cfg.n, cfg.m, cfg.p, cfg.q,
             fm.X.w, fm.X.f, fm.H.w, fm.H.f, fm.P.w, fm.P.f, fm.A.w, fm.A.f, fm.F.w, fm.F.f,
             fm.O.w, fm.O.f, fm.Y.w, fm.Y.f, fm.C.w, fm.C.f, fm.S.w, fm.S.f,
             ROUNDING_CODE[cfg.r_fwd], ROUNDING_CODE[cfg.r_sens], ROUNDING_CODE[cfg.r_upd],
             cfg.overflow == "wrap", cfg.eta, cfg.eta_o, cfg.activation == "tanh",
             cfg.approx == "snap1", cfg.tanh_shift, cfg.tanh_bits,
             cfg.acc_widths["u"] <= FLOAT_EXACT_BITS and cfg.n >= BLAS_MIN_HIDDEN)


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
def _update(K, value, grad, s, w, sat, which, lfsr):
    """Step 8 for one element: sat(value - RQ(grad, s -> w, r_upd)); LFSR advanced once."""
    lfsr[0] = lfsr_next(lfsr[0])
    r = lfsr[0] if K.r_upd == STOCHASTIC else 0
    delta, c1 = rq(grad, s, w, K.r_upd, K.wrap, r)
    new, c2 = fit(value - delta, w, K.wrap)
    sat[which] += c1 + c2
    return new


#: Integers below 2^53 are exact in float64, and so are sums that stay below it.
FLOAT_EXACT_BITS = 53
#: From this hidden size on, the W·S product goes to float64 BLAS (when exact): measured
#: with benchmarks/model_speed.py, int64 loops win at n = 16 (111k vs 96k steps/s) and BLAS
#: at n = 32 (15.5k vs 8.7k steps/s).
BLAS_MIN_HIDDEN = 24


@jit
def _ws_product(K, theta, Sm, u):
    """u = W·S exactly (W = Θ[:, :n], S as n × n·q). When the Config proves every partial
    sum fits 53 bits (``K.blas``), float64 BLAS computes it exactly, much faster than
    integer loops; otherwise int64 loops do."""
    n, nq = K.n, Sm.shape[1]
    if K.blas:
        uf = np.dot(theta[:, :n].astype(np.float64), Sm.astype(np.float64))
        for k in range(n):
            for col in range(nq):
                u[k, col] = np.int64(uf[k, col])
        return
    for k in range(n):
        for col in range(nq):
            u[k, col] = 0
        for l in range(n):
            w = theta[k, l]
            for col in range(nq):
                u[k, col] += w * Sm[l, col]


@jit
def _step(K, x, d, learn, track, theta, V, c, h, S, lfsr, sat, table, z, a, dphi, y, e, chat, G, u):
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
    zsh = K.fP + K.fS - K.fH
    if track or learn:
        if K.snap1:
            for i in range(n):
                for j in range(q):
                    ui = theta[i, i] * S[i, j] + (z[j] << zsh)
                    s1 = _rqc(ui, K.fP, K.wS, K.r_sens, K.wrap, sat, SAT_S)
                    S[i, j] = _rqc(s1 * dphi[i], K.fF, K.wS, K.r_sens, K.wrap, sat, SAT_S)
                    G[i, j] = chat[i] * S[i, j]
        else:
            # u = W S over all n*q columns (S is passed as n x (n*q): column (i, j) at i*q + j),
            # then the e_i z_j term: row i of column (i, j) gets z[j] aligned to f_P + f_S.
            Sm = S
            _ws_product(K, theta, Sm, u)
            for i in range(n):
                for j in range(q):
                    u[i, i * q + j] += z[j] << zsh
            Gm = G.reshape(n * q)
            Gm[:] = 0
            clipped = 0
            for k in range(n):
                for col in range(n * q):
                    s1, c1 = rq(u[k, col], K.fP, K.wS, K.r_sens, K.wrap, 0)
                    s2, c2 = rq(s1 * dphi[k], K.fF, K.wS, K.r_sens, K.wrap, 0)
                    Sm[k, col] = s2
                    Gm[col] += chat[k] * s2
                    clipped += c1 + c2
            sat[SAT_S] += clipped
    # 8. the update: Theta row-major, then V row-major, then c (the LFSR order)
    if learn:
        for i in range(n):
            for j in range(q):
                theta[i, j] = _update(K, theta[i, j], G[i, j], K.fC + K.fS + K.eta - K.fP,
                                      K.wP, sat, SAT_THETA, lfsr)
        for o in range(p):
            for k in range(n):
                V[o, k] = _update(K, V[o, k], e[o] * h[k], K.fY + K.fH + K.eta_o - K.fO,
                                  K.wO, sat, SAT_V, lfsr)
        for o in range(p):
            c[o] = _update(K, c[o], e[o], K.fY + K.eta_o - K.fO, K.wO, sat, SAT_V, lfsr)
    # 9. h_prev <- h happens in place: h now holds this step's h.


@jit
def _run(K, xs, ds, learn, track, theta, V, c, h, S, lfsr, sat, table, ys, es, flags, tr):
    n, q = K.n, K.q
    z = np.zeros(q, np.int64)
    a = np.zeros(n, np.int64)
    dphi = np.zeros(n, np.int64)
    chat = np.zeros(n, np.int64)
    G = np.zeros((n, q), np.int64)
    u = np.zeros((n, n * q) if not K.snap1 else (0, 0), np.int64)
    before = sat.copy()
    tz, ta, th, tdphi, tchat, tG, tS, ttheta, tV, tc, tsat = tr
    for t in range(xs.shape[0]):
        before[:] = sat
        _step(K, xs[t], ds[t], learn, track, theta, V, c, h, S, lfsr, sat, table,
              z, a, dphi, ys[t], es[t], chat, G, u)
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


_BLAS_CONTROLLER = None


def _one_blas_thread():
    """A context in which BLAS runs on one thread. The W·S product of one step is small:
    on 2 cores, OpenBLAS' own threads made the model 3x slower (3.9k against 12.6k steps/s
    at n = 32), so the kernel's BLAS calls run single-threaded."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)
        from threadpoolctl import ThreadpoolController
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


class FixedRTRL:
    """The integer RTRL model of DESIGN.md §3.1 for one :class:`Config`.

    Parameters
    ----------
    cfg : Config
    theta, V, c : integer arrays
        Θ (n, q) in format P, V (p, n) and c (p,) in format O. Copied.

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

    def __init__(self, cfg: Config, theta, V, c) -> None:
        self.cfg = cfg
        self._K = kernel_constants(cfg)
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
    def from_float(cls, cfg: Config, theta, V, c) -> "FixedRTRL":
        """Quantise float parameters (round to nearest, saturate) and build the model."""
        fm = cfg.formats
        return cls(cfg, quantise(theta, fm.P), quantise(V, fm.O), quantise(c, fm.O))

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
