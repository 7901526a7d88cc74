"""The configuration: one validated object that every layer of rtrledit reads.

A :class:`Config` fixes the network (sizes, activation, approximation), the
fixed-point format of every quantity of docs/design.md §3.1, the rounding of each
stage, the overflow behaviour, the learning-rate shifts and the LFSR seed.
The integer model, the HDL generators, the testbenches and the register map are
all derived from it, so model and hardware cannot disagree about a width.

Format letters follow docs/design.md §3.1: X (x), H (h and z), P (Θ), A (a),
F (φ'), O (V and c), Y (y, d, e), C (ĉ), S (sensitivities).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

__all__ = [
    "QFormat", "Formats", "Config", "load_table", "ROUNDINGS", "ACTIVATIONS", "APPROXIMATIONS",
    "OVERFLOWS", "SAT_NAMES", "FORMAT_LETTERS", "MAX_ACC_BITS",
]

ROUNDINGS = ("floor", "half_up", "half_even", "stochastic")
ACTIVATIONS = ("hardtanh", "tanh")
APPROXIMATIONS = ("exact", "snap1")
OVERFLOWS = ("saturate", "wrap")
FORMAT_LETTERS = ("X", "H", "P", "A", "F", "O", "Y", "C", "S")
#: Saturation counters, one per quantity, in this order everywhere (model, HDL, register map).
SAT_NAMES = ("x", "a", "h", "dphi", "y", "e", "chat", "s", "theta", "v")
#: Widest exact sum allowed: int64 with one bit of headroom for the rounding offset.
MAX_ACC_BITS = 63
#: Widest format allowed for a stored quantity (a multiplier operand).
MAX_WIDTH = 32


def _clog2(x: int) -> int:
    return max(0, math.ceil(math.log2(x))) if x > 1 else 0


@dataclass(frozen=True)
class QFormat:
    """Signed two's-complement fixed point Q(w, f): ``w`` bits in all, ``f`` fractional.

    The value of an integer ``v`` in this format is ``v / 2**f``.
    """

    w: int
    f: int

    @property
    def min(self) -> int:
        """Smallest representable integer, -2^(w-1)."""
        return -(1 << (self.w - 1))

    @property
    def max(self) -> int:
        """Largest representable integer, 2^(w-1) - 1."""
        return (1 << (self.w - 1)) - 1

    @property
    def one(self) -> int:
        """The integer that stands for 1.0, 2^f."""
        return 1 << self.f

    @property
    def resolution(self) -> float:
        return 2.0 ** -self.f

    @property
    def range(self) -> tuple[float, float]:
        return self.min / self.one, self.max / self.one

    def __str__(self) -> str:
        return f"Q({self.w},{self.f})"


def _default_formats() -> dict[str, QFormat]:
    q = QFormat
    return {"X": q(16, 12), "H": q(16, 14), "P": q(16, 12), "A": q(16, 12),
            "F": q(16, 14), "O": q(16, 12), "Y": q(16, 12), "C": q(16, 12), "S": q(16, 12)}


@dataclass(frozen=True)
class Formats:
    """The Q(w, f) format of every quantity, by the letters of docs/design.md §3.1."""

    X: QFormat = field(default_factory=lambda: _default_formats()["X"])
    H: QFormat = field(default_factory=lambda: _default_formats()["H"])
    P: QFormat = field(default_factory=lambda: _default_formats()["P"])
    A: QFormat = field(default_factory=lambda: _default_formats()["A"])
    F: QFormat = field(default_factory=lambda: _default_formats()["F"])
    O: QFormat = field(default_factory=lambda: _default_formats()["O"])  # noqa: E741
    Y: QFormat = field(default_factory=lambda: _default_formats()["Y"])
    C: QFormat = field(default_factory=lambda: _default_formats()["C"])
    S: QFormat = field(default_factory=lambda: _default_formats()["S"])

    @classmethod
    def uniform(cls, w: int, f: int | None = None, **over: QFormat | tuple[int, int]) -> "Formats":
        """Every format ``w`` bits wide; H and F get ``w - 2`` fraction bits (they hold ±1),
        the others ``f`` (default ``w - 4``). Keyword arguments override single letters."""
        f = w - 4 if f is None else f
        fm = {L: QFormat(w, w - 2 if L in "HF" else f) for L in FORMAT_LETTERS}
        fm.update({k: v if isinstance(v, QFormat) else QFormat(*v) for k, v in over.items()})
        return cls(**fm)


@dataclass(frozen=True)
class Config:
    """Network, number formats and learning rule: the single source of truth.

    Parameters
    ----------
    hidden, inputs, outputs
        n hidden units, m inputs, p linear outputs.
    activation
        ``"hardtanh"`` (φ' is a 0/1 mask) or ``"tanh"`` (a table of ``2**tanh_bits`` entries).
    approx
        ``"exact"`` RTRL (n×n×q sensitivities) or ``"snap1"`` (SnAp-1, n×q).
    formats
        A :class:`Formats` (Q(w, f) per quantity letter).
    r_fwd, r_sens, r_upd
        Rounding of the forward stage (steps 1-6), the sensitivity update (7) and the
        parameter update (8). Only ``r_upd`` may be ``"stochastic"``.
    overflow
        ``"saturate"`` (clip to the format) or ``"wrap"`` (two's-complement wrap).
        Either way every out-of-range result is counted.
    eta, eta_o
        Learning rates 2^-eta for Θ and 2^-eta_o for V and c.
    lfsr_seed
        Non-zero seed of the 32-bit Galois LFSR used by stochastic rounding.
    tanh_bits
        Index bits of the tanh table (tanh only).

    Raises
    ------
    ValueError
        naming the field, when the configuration cannot work.
    """

    hidden: int
    inputs: int = 1
    outputs: int = 1
    activation: str = "hardtanh"
    approx: str = "exact"
    formats: Formats = field(default_factory=Formats)
    r_fwd: str = "half_even"
    r_sens: str = "half_even"
    r_upd: str = "half_even"
    overflow: str = "saturate"
    eta: int = 8
    eta_o: int = 8
    lfsr_seed: int = 0xACE1
    tanh_bits: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.formats, dict):  # accept a plain mapping, e.g. from a file
            fm = {k: v if isinstance(v, QFormat) else QFormat(*v) for k, v in self.formats.items()}
            object.__setattr__(self, "formats", Formats(**fm))
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"config field '{name}': {why}")

        for name in ("hidden", "inputs", "outputs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, f"must be an integer >= 1, got {v!r}")
        for name, allowed in (("activation", ACTIVATIONS), ("approx", APPROXIMATIONS),
                              ("overflow", OVERFLOWS), ("r_fwd", ROUNDINGS[:3]),
                              ("r_sens", ROUNDINGS[:3]), ("r_upd", ROUNDINGS)):
            v = getattr(self, name)
            if v not in allowed:
                extra = " (stochastic rounding is only for r_upd)" if v == "stochastic" else ""
                raise bad(name, f"unknown value {v!r}; choose one of {', '.join(allowed)}{extra}")
        for name in ("eta", "eta_o"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 31:
                raise bad(name, f"learning-rate shift must be an integer in 0..31, got {v!r}")
        if not isinstance(self.lfsr_seed, int) or not 0 < self.lfsr_seed < 2**32:
            raise bad("lfsr_seed", f"must be a non-zero 32-bit integer, got {self.lfsr_seed!r}")
        if not isinstance(self.tanh_bits, int) or not 2 <= self.tanh_bits <= 16:
            raise bad("tanh_bits", f"must be an integer in 2..16, got {self.tanh_bits!r}")
        for L in FORMAT_LETTERS:
            q = getattr(self.formats, L)
            if not isinstance(q.w, int) or not 2 <= q.w <= MAX_WIDTH:
                raise bad(f"formats.{L}", f"width {q.w!r} outside 2..{MAX_WIDTH}")
            if not isinstance(q.f, int) or q.f < 0:
                raise bad(f"formats.{L}", f"fraction {q.f!r} must be an integer >= 0")
            if q.f > q.w:
                raise bad(f"formats.{L}", f"fraction {q.f} larger than its width {q.w}")
        fm = self.formats
        if fm.F.f > fm.F.w - 2:
            raise bad("formats.F", f"{fm.F} cannot hold 1.0 exactly (need f <= w - 2)")
        if fm.H.f > fm.H.w - 2:
            raise bad("formats.H", f"{fm.H} cannot hold ±1 exactly (need f <= w - 2)")
        if fm.P.f + fm.S.f < fm.H.f:
            raise bad("formats.S", f"f_P + f_S = {fm.P.f + fm.S.f} < f_H = {fm.H.f}: "
                      "the e_i z_j term would need a right shift")
        for what, bits in self.acc_widths.items():
            if bits > MAX_ACC_BITS:
                raise bad("formats", f"the exact sum '{what}' needs {bits} bits, "
                          f"more than {MAX_ACC_BITS} (64-bit with rounding headroom)")

    # ------------------------------------------------------------------ derived sizes
    @property
    def n(self) -> int:
        return self.hidden

    @property
    def m(self) -> int:
        return self.inputs

    @property
    def p(self) -> int:
        return self.outputs

    @property
    def q(self) -> int:
        """Entries of z = [h; x; 1]: n + m + 1."""
        return self.hidden + self.inputs + 1

    @property
    def s_shape(self) -> tuple[int, ...]:
        """Shape of the sensitivity array: (n, n, q) exact, (n, q) snap1."""
        n, q = self.n, self.q
        return (n, n, q) if self.approx == "exact" else (n, q)

    @property
    def zterm_shift(self) -> int:
        """Left shift that aligns z (f_H) with the W·S sum (f_P + f_S)."""
        return self.formats.P.f + self.formats.S.f - self.formats.H.f

    @property
    def acc_widths(self) -> dict[str, int]:
        """Bits each exact sum or product needs (w1 + w2 + ceil(log2 terms)).

        The hardware sizes its accumulators with these numbers, so sums are exact.
        """
        fm, n, p, q = self.formats, self.n, self.p, self.q
        u_terms = n + 1 if self.approx == "exact" else 2
        zterm = fm.H.w + self.zterm_shift
        w_u = max(fm.P.w + fm.S.w, zterm) + _clog2(u_terms)
        g_terms = n if self.approx == "exact" else 1
        upd_theta = fm.C.w + fm.S.w + _clog2(g_terms)
        return {
            "a": fm.P.w + fm.H.w + _clog2(q),
            "y": fm.O.w + fm.H.w + _clog2(n + 1),
            "chat": fm.O.w + fm.Y.w + _clog2(p),
            "u": w_u,
            "s_dphi": fm.S.w + fm.F.w,
            "g": upd_theta,
            "dphi_tanh": 2 * fm.H.w + 1,
            "dv": fm.Y.w + fm.H.w,
            # left shifts of the update (when a learning-rate shift is smaller than the
            # fraction difference) must also fit:
            "upd_theta_shifted": upd_theta + max(0, fm.P.f - (fm.C.f + fm.S.f + self.eta)),
            "upd_v_shifted": fm.Y.w + fm.H.w + max(0, fm.O.f - (fm.Y.f + fm.H.f + self.eta_o)),
            "x_shifted": fm.X.w + max(0, fm.H.f - fm.X.f),
        }

    @property
    def tanh_shift(self) -> int:
        """Right shift of a that indexes the tanh table (table spans |a| < 4)."""
        return max(0, self.formats.A.f + 2 - (self.tanh_bits - 1))

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["formats"] = {L: [getattr(self.formats, L).w, getattr(self.formats, L).f]
                        for L in FORMAT_LETTERS}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Config":
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config field '{unknown[0]}': unknown field")
        if "formats" in d:
            fm = d["formats"]
            if not isinstance(fm, dict):
                raise ValueError("config field 'formats': must be a table of letter = [w, f]")
            bad = sorted(set(fm) - set(FORMAT_LETTERS))
            if bad:
                raise ValueError(f"config field 'formats.{bad[0]}': unknown quantity "
                                 f"(use {', '.join(FORMAT_LETTERS)})")
            base = _default_formats()
            for k, v in fm.items():
                if not (isinstance(v, (list, tuple)) and len(v) == 2):
                    raise ValueError(f"config field 'formats.{k}': must be [w, f], got {v!r}")
                base[k] = QFormat(*v)
            d["formats"] = Formats(**base)
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        """Write as TOML (``.toml``) or JSON (anything else), atomically."""
        from .checkpoint import atomic_write   # checkpoint imports this module
        path = Path(path)
        text = self.to_toml() if path.suffix == ".toml" else self.to_json() + "\n"
        atomic_write(path, lambda fh: fh.write(text.encode()))

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Read a TOML or JSON file written by :meth:`save` (or by hand)."""
        return cls.from_dict(load_table(path, "config"))


def load_table(path: str | Path, what: str) -> Any:
    """The contents of a TOML (``.toml``) or JSON (anything else) file; ValueError naming
    ``what`` and the file when it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"cannot read {what} file {path}: {e.strerror}") from None
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} file {path}: not valid {path.suffix[1:] or 'JSON'}: {e}") from None
