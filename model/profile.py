"""Precision profiling and automatic number formats (docs/design.md §3, §3.1).

:func:`profile` runs the float64 reference online on a task and records, for every
quantity of §3.1 (x, d, h, Θ, a, φ', V, c, y, e, ĉ, S, G and the update sizes ηG,
η_o e hᵀ, η_o e), its range and the distribution of its magnitudes; it also runs the
integer model of the same Config on the same stream and keeps its saturation counts.
:func:`plot_profile` draws every quantity's log2-magnitudes as a box plot beside the
range and resolution its configured format can represent, in one PNG.
:func:`propose_config` turns a profile into a Config: integer bits from the observed
range plus a margin, fraction bits from a total-width budget per format, with a written
reason for every choice; :func:`check_config` checks that a Config learns the task.

Everything here is a library function; ``rtrledit profile`` is the command line for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import FORMAT_LETTERS, MAX_WIDTH, SAT_NAMES, Config, Formats, QFormat
from .fixed import FixedRTRL
from .reference import FloatRTRL, activate, init_params
from .requant import dequantise
from .tasks import Task

__all__ = ["QUANTITIES", "LETTER_QUANTITIES", "QuantityStats", "Profile", "Proposal",
           "profile", "propose_config", "check_config", "plot_profile", "quantity_format"]

#: The profiled quantities: name -> (format letter it is stored in, description).
#: G has no stored format (the integer model keeps it exact, f_C + f_S fraction bits);
#: the update sizes are shown against the format they are added to (P or O).
QUANTITIES: dict[str, tuple[str, str]] = {
    "x": ("X", "input x"),
    "d": ("Y", "target d"),
    "h": ("H", "hidden state h"),
    "theta": ("P", "Θ = [W | U | b]"),
    "a": ("A", "pre-activation a"),
    "dphi": ("F", "φ'(a)"),
    "V": ("O", "readout V"),
    "c": ("O", "readout bias c"),
    "y": ("Y", "output y"),
    "e": ("Y", "error e"),
    "chat": ("C", "ĉ = Vᵀe"),
    "S": ("S", "sensitivities S"),
    "G": ("G", "gradient g (exact, f_C + f_S)"),
    "dtheta": ("P", "Θ update η·g"),
    "dV": ("O", "V update η_o·e hᵀ"),
    "dc": ("O", "c update η_o·e"),
}

#: Which profiled quantities each format letter must hold (x is requantised into H too).
LETTER_QUANTITIES: dict[str, tuple[str, ...]] = {
    "X": ("x",), "H": ("h", "x"), "P": ("theta",), "A": ("a",), "F": ("dphi",),
    "O": ("V", "c"), "Y": ("y", "d", "e"), "C": ("chat",), "S": ("S",),
}

#: log2-magnitude histogram bins: 2^-64 .. 2^32 in quarter-octave steps.
_HIST_EDGES = np.arange(-64.0, 32.0 + 1e-9, 0.25)
#: Values sampled per quantity and step (all of them for small quantities).
_SAMPLE_PER_STEP = 16


@dataclass
class QuantityStats:
    """Running statistics of one quantity over a run.

    ``count`` values seen, ``zeros`` of them exactly zero; ``min``/``max``/``absmax``;
    ``hist`` counts of log2|v| over :data:`_HIST_EDGES` (non-zero values);
    ``sample`` a uniform random subsample of the values (for plots and percentiles).
    """

    name: str
    count: int = 0
    zeros: int = 0
    min: float = math.inf
    max: float = -math.inf
    absmax: float = 0.0
    nonfinite: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(len(_HIST_EDGES) - 1, np.int64))
    _chunks: list = field(default_factory=list, repr=False)

    def add(self, values: np.ndarray, rng: np.random.Generator) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        fin = np.isfinite(v)
        if not fin.all():
            self.nonfinite += int((~fin).sum())
            v = v[fin]
        if v.size == 0:
            return
        self.count += v.size
        nz = v[v != 0]
        self.zeros += v.size - nz.size
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        self.absmax = max(self.absmax, float(np.abs(v).max()))
        if nz.size:
            lg = np.clip(np.log2(np.abs(nz)), _HIST_EDGES[0], _HIST_EDGES[-1] - 1e-9)
            self.hist += np.histogram(lg, bins=_HIST_EDGES)[0]
        k = min(v.size, _SAMPLE_PER_STEP)
        self._chunks.append(v if k == v.size else rng.choice(v, size=k, replace=False))

    @property
    def sample(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0)

    def fraction_below(self, threshold: float) -> float:
        """Fraction of the non-zero values with |v| < threshold (from the histogram,
        to a quarter octave)."""
        nz = int(self.hist.sum())
        if nz == 0:
            return 0.0
        below = int(self.hist[_HIST_EDGES[1:] <= math.log2(threshold)].sum())
        return below / nz

    def abs_percentile(self, q: float) -> float:
        s = self.sample
        return float(np.percentile(np.abs(s), q)) if s.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "zeros": self.zeros, "nonfinite": self.nonfinite,
                "min": self.min if self.count else None, "max": self.max if self.count else None,
                "absmax": self.absmax, "abs_p50": self.abs_percentile(50),
                "abs_p99": self.abs_percentile(99)}


@dataclass
class Profile:
    """What :func:`profile` returns.

    ``stats`` per quantity (:data:`QUANTITIES`); ``saturation`` the integer model's
    counters (:data:`SAT_NAMES`) after the same run with ``cfg``; ``mse_float`` and
    ``mse_fixed`` the (first 10%, last 10%) mean squared errors of both models.
    """

    cfg: Config
    task: str
    steps: int
    seed: int
    stats: dict[str, QuantityStats]
    saturation: dict[str, int]
    mse_float: tuple[float, float]
    mse_fixed: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "steps": self.steps, "seed": self.seed,
                "config": self.cfg.to_dict(),
                "quantities": {k: s.to_dict() for k, s in self.stats.items()},
                "saturation": self.saturation,
                "mse_float": list(self.mse_float), "mse_fixed": list(self.mse_fixed)}


def _mse_ends(sq: np.ndarray) -> tuple[float, float]:
    k = max(1, len(sq) // 10)
    return float(np.mean(sq[:k])), float(np.mean(sq[-k:]))


def profile(cfg: Config, task: Task, seed: int = 0, params=None,
            progress=None) -> Profile:
    """Profile every quantity of §3.1 over an online learning run of the float model.

    Parameters
    ----------
    cfg : Config
        Sizes, activation, approximation and learning rates of the run; its formats are
        what the integer model (run on the same stream for its saturation counts) uses.
    task : Task
        The stream.
    seed : int
        Seed of :func:`init_params` (when ``params`` is None) and of the subsampling.
    params : (theta, V, c) or None
        Float initial parameters.
    progress : callable or None
        Called with a number of steps done, now and then.
    """
    if (task.inputs, task.outputs) != (cfg.m, cfg.p):
        raise ValueError(f"task {task.name!r} has {task.inputs} inputs and {task.outputs} "
                         f"outputs, the config {cfg.m} and {cfg.p}")
    theta, V, c = params if params is not None else init_params(cfg.n, cfg.m, cfg.p, seed=seed)
    rng = np.random.default_rng(seed)
    stats = {k: QuantityStats(k) for k in QUANTITIES}
    fl = FloatRTRL.from_config(cfg, theta, V, c)
    T = task.steps
    sq = np.empty(T)
    for t in range(T):
        x, d = task.xs[t], task.ds[t]
        # the forward pass of §2 from the state before the step (FloatRTRL.step repeats it)
        z = np.concatenate([fl.h, x, [1.0]])
        a = fl.theta @ z
        h, dphi = activate(a, cfg.activation)
        e_pre = fl.V @ h + fl.c - d
        chat = fl.V.T @ e_pre
        for name, val in (("x", x), ("d", d), ("theta", fl.theta), ("a", a), ("h", h),
                          ("dphi", dphi), ("V", fl.V), ("c", fl.c), ("chat", chat)):
            stats[name].add(val, rng)
        y, G = fl.step(x, d, learn=True)
        e = y - d
        sq[t] = float(np.mean(e ** 2))
        stats["y"].add(y, rng)
        stats["e"].add(e, rng)
        stats["S"].add(fl.S, rng)
        stats["G"].add(G, rng)
        stats["dtheta"].add(fl.eta * G, rng)
        stats["dV"].add(fl.eta_o * np.outer(e, h), rng)
        stats["dc"].add(fl.eta_o * e, rng)
        if progress is not None and (t + 1) % 250 == 0:
            progress(250)
    if progress is not None and T % 250:
        progress(T % 250)
    fx = FixedRTRL.from_float(cfg, theta, V, c)
    xs, ds = fx.quantise_inputs(task.xs, task.ds)
    r = fx.run(xs, ds, learn=True)
    sqx = (dequantise(r.e, cfg.formats.Y) ** 2).mean(axis=1)
    if progress is not None:
        progress(T)
    return Profile(cfg, task.name, T, seed, stats, dict(zip(SAT_NAMES, map(int, fx.sat))),
                   _mse_ends(sq), _mse_ends(sqx))


def quantity_format(cfg: Config, name: str) -> QFormat:
    """The format a profiled quantity is shown against (G: the exact f_C + f_S sum)."""
    letter = QUANTITIES[name][0]
    if letter == "G":
        fm = cfg.formats
        return QFormat(min(cfg.acc_widths["g"], 64), fm.C.f + fm.S.f)
    return getattr(cfg.formats, letter)


# ---------------------------------------------------------------------------- proposal
@dataclass
class Proposal:
    """A proposed Config and the reasons, one line per decision."""

    cfg: Config
    reasons: list[str]
    int_bits: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.cfg.to_dict(), "reasons": self.reasons, "int_bits": self.int_bits}


def _budgets(budget: int | dict[str, int]) -> dict[str, int]:
    if isinstance(budget, dict):
        bad = sorted(set(budget) - set(FORMAT_LETTERS))
        if bad:
            raise ValueError(f"budget: unknown quantity {bad[0]!r} (use {', '.join(FORMAT_LETTERS)})")
        out = {L: int(budget.get(L, 16)) for L in FORMAT_LETTERS}
    else:
        out = {L: int(budget) for L in FORMAT_LETTERS}
    for L, w in out.items():
        if not 2 <= w <= MAX_WIDTH:
            raise ValueError(f"budget for {L}: width {w} outside 2..{MAX_WIDTH}")
    return out


def propose_config(prof: Profile, budget: int | dict[str, int] = 16, margin: int = 1,
                   stochastic_threshold: float = 0.25) -> Proposal:
    """Propose formats for ``prof.cfg`` from the observed ranges.

    For each format letter: integer bits ``I`` = the fewest with 2^I > the largest
    magnitude observed in any quantity it holds (:data:`LETTER_QUANTITIES`), plus
    ``margin``; at least 1 for H and F (they must hold ±1 and 1.0 exactly). Then the
    width is the letter's ``budget`` and the fraction bits ``f = w - 1 - I``; if the
    budget cannot hold ``I`` integer bits, the width grows to ``I + 1`` (and f = 0).
    If f_P + f_S < f_H (the e_i z_j term would need a right shift) S gets the missing
    fraction bits. Finally, if more than ``stochastic_threshold`` of the non-zero Θ
    updates ηg are smaller than half an LSB of P (rounding to nearest would drop them),
    the update rounding becomes stochastic.

    Returns a :class:`Proposal`; raises ValueError when no valid Config fits.
    """
    widths = _budgets(budget)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    cfg = prof.cfg
    reasons: list[str] = []
    fm: dict[str, QFormat] = {}
    ibits: dict[str, int] = {}
    for L in FORMAT_LETTERS:
        names = LETTER_QUANTITIES[L]
        # bounded by construction (|h| <= 1 for hardtanh, 0 <= φ' <= 1): no margin needed
        open_ = [k for k in names if not (k == "dphi" or (k == "h" and cfg.activation == "hardtanh"))]
        peak = max(prof.stats[k].absmax for k in names)
        who = max(names, key=lambda k: prof.stats[k].absmax)
        need = math.floor(math.log2(peak)) + 1 if peak > 0 else 0
        need = max(need, 0)
        peak_open = max([prof.stats[k].absmax for k in open_], default=0.0)
        need_open = max(math.floor(math.log2(peak_open)) + 1, 0) if peak_open > 0 else 0
        floor_ = 1 if L in "HF" else 0
        I = max(need, need_open + margin, floor_)
        w = widths[L]
        why = f"|{who}| <= {peak:.4g} needs {need} integer bit{'s' * (need != 1)}"
        if open_ and margin:
            why += f"; {margin} margin bit over |{'|, |'.join(open_)}| <= {peak_open:.4g}"
        elif margin:
            why += " (bounded by construction: no margin)"
        if I > max(need, need_open + margin):
            why += f"; raised to {I} (must hold ±1 exactly)"
        if I > w - 1:
            reasons.append(f"{L}: {why}; budget {w} bits is too narrow, widened to {I + 1}")
            w = I + 1
        f = w - 1 - I
        fm[L] = QFormat(w, f)
        ibits[L] = I
        lost = max(prof.stats[k].fraction_below(2.0 ** -(f + 1)) for k in names)
        reasons.append(f"{L} = {fm[L]}: {why}; {w}-bit budget leaves {f} fraction bits "
                       f"(resolution 2^-{f}); {100 * lost:.1f}% of non-zero values below half an LSB")
    gap = fm["H"].f - (fm["P"].f + fm["S"].f)
    if gap > 0:
        s = fm["S"]
        fm["S"] = QFormat(min(s.w + gap, MAX_WIDTH), s.f + gap)
        reasons.append(f"S widened to {fm['S']}: f_P + f_S must be >= f_H = {fm['H'].f} "
                       "(the e_i z_j term is added without a right shift)")
    r_upd = cfg.r_upd
    lsb_p = 2.0 ** -fm["P"].f
    lost_upd = prof.stats["dtheta"].fraction_below(lsb_p / 2)
    if lost_upd > stochastic_threshold and r_upd != "stochastic":
        r_upd = "stochastic"
        reasons.append(f"r_upd = stochastic: {100 * lost_upd:.0f}% of the non-zero Θ updates "
                       f"η·g are below half an LSB of P (2^-{fm['P'].f + 1}) and rounding to "
                       "nearest would drop them; stochastic rounding keeps them on average")
    else:
        reasons.append(f"r_upd = {r_upd}: {100 * lost_upd:.0f}% of the non-zero Θ updates are "
                       f"below half an LSB of P (threshold {100 * stochastic_threshold:.0f}%)")
    try:
        new = cfg.replace(formats=Formats(**fm), r_upd=r_upd)
    except ValueError as e:
        raise ValueError(f"no valid configuration for budget {budget}: {e}") from None
    return Proposal(new, reasons, ibits)


# ---------------------------------------------------------------------------- check
def check_config(cfg: Config, task: Task, seed: int = 0, params=None,
                 tolerance: float = 0.5, trained: bool = False) -> dict[str, Any]:
    """Run the integer model of ``cfg`` and the float reference online on ``task``, both
    from the same parameters (``params``, or :func:`init_params` of ``seed``).

    Returns the (first 10%, last 10%) mean squared errors of both, the ratio of the
    final errors, the saturation counts, ``rule`` (the rule applied, in words) and
    ``learns``. The integer model's final error must be at most ``1 + tolerance`` times
    the float model's final error, and:

    - from a random start (``trained=False``), at most half its own initial error;
    - from a trained start (``trained=True``, e.g. an imported network, whose error is
      already low and need not halve), at most ``1 + tolerance`` times its own initial
      error (it does not diverge). Both bounds then allow an extra LSB²/12 of the
      output format Y (the mean squared error of rounding to it), so that a float model
      trained to below the output resolution does not fail every format.
    """
    theta, V, c = params if params is not None else init_params(cfg.n, cfg.m, cfg.p, seed=seed)
    fl = FloatRTRL.from_config(cfg, theta, V, c)
    fr = fl.run(task.xs, task.ds, learn=True)
    ff, fl_last = _mse_ends(2 * fr.loss / cfg.p)
    fx = FixedRTRL.from_float(cfg, theta, V, c)
    xs, ds = fx.quantise_inputs(task.xs, task.ds)
    r = fx.run(xs, ds, learn=True)
    xf, xl = _mse_ends((dequantise(r.e, cfg.formats.Y) ** 2).mean(axis=1))
    ratio = xl / fl_last if fl_last > 0 else math.inf
    k = 1 + tolerance
    if trained:
        rounding = cfg.formats.Y.resolution ** 2 / 12
        ok = xl <= k * fl_last + rounding and xl <= k * xf + rounding
        rule = (f"final MSE <= {k:.2f} x the float model's and <= {k:.2f} x its first 10%'s "
                f"(each + {rounding:.3g}, the MSE of rounding to Y)")
    else:
        ok = xl <= 0.5 * xf and ratio <= k
        rule = f"final MSE <= 0.5 x its first 10%'s and <= {k:.2f} x the float model's"
    ok = bool(np.isfinite(fl_last) and np.isfinite(xl) and ok)
    return {"mse_first_fixed": xf, "mse_last_fixed": xl, "mse_first_float": ff,
            "mse_last_float": fl_last, "ratio_to_float": ratio, "learns": ok,
            "tolerance": tolerance, "rule": rule,
            "saturation": dict(zip(SAT_NAMES, map(int, fx.sat)))}


# ---------------------------------------------------------------------------- plot
def plot_profile(prof: Profile, path, proposed: Config | None = None) -> None:
    """One PNG: per quantity a box plot of log2|v| (non-zero values, whiskers at the
    extremes) over a bar of what its format represents, from the resolution 2^-f to
    the largest value 2^(w-1-f); the proposed formats beside them, if given; the
    integer model's saturation count per quantity under its name."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .checkpoint import atomic_write

    names = list(QUANTITIES)
    sat_of = {"x": "x", "a": "a", "h": "h", "dphi": "dphi", "y": "y", "e": "e", "chat": "chat",
              "S": "s", "theta": "theta", "V": "v", "c": "v", "dtheta": "theta", "dV": "v",
              "dc": "v"}
    fig, ax = plt.subplots(figsize=(max(10, 0.8 * len(names)), 5.5))
    data, pos = [], []
    for i, k in enumerate(names):
        s = prof.stats[k].sample
        s = np.abs(s[s != 0])
        if s.size:
            data.append(np.log2(s))
            pos.append(i)
        for off, c, col in ((-0.3, prof.cfg, "tab:blue"), (0.3, proposed, "tab:green")):
            if c is None:
                continue
            q = quantity_format(c, k)
            ax.bar(i + off, (q.w - 1 - q.f) + q.f, bottom=-q.f, width=0.16, color=col,
                   alpha=0.35, edgecolor=col)
            if k in ("dtheta", "dV", "dc"):  # updates: mark half an LSB of the target
                ax.plot([i + off - 0.1, i + off + 0.1], [-q.f - 1] * 2, color=col, lw=2)
    if data:
        ax.boxplot(data, positions=pos, widths=0.4, whis=(0, 100), showfliers=False,
                   medianprops={"color": "black"})
    labels = []
    for k in names:
        sat = prof.saturation.get(sat_of.get(k, ""), None)
        labels.append(QUANTITIES[k][0] + ":" + k + ("" if sat is None else f"\nsat {sat}"))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.7, len(names) - 0.3)
    ax.set_ylabel("log2 |value|")
    ax.grid(axis="y", alpha=0.3)
    from matplotlib.patches import Patch
    handles = [Patch(color="tab:blue", alpha=0.35, label="configured format: 2^-f .. 2^(w-1-f)")]
    if proposed is not None:
        handles.append(Patch(color="tab:green", alpha=0.35, label="proposed format"))
    ax.legend(handles=handles, loc="lower left", fontsize=8)
    ax.set_title(f"{prof.task}: n = {prof.cfg.n}, {prof.cfg.approx} RTRL, {prof.steps} steps — "
                 "float values (boxes) vs formats (bars); sat = integer-model saturations",
                 fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
