"""The requantiser RQ and the LFSR of docs/design.md §3.1, as numba functions.

These are the integer model's primitives and the specification the HDL
requantiser is tested against. They are compiled with numba but callable from
plain Python with Python ints.

RQ(v, s, w, r): shift the integer ``v`` right by ``s`` bits with rounding ``r``
(a left shift by ``-s`` when ``s <= 0``), then fit the result into ``w`` signed
bits: saturate (or wrap), reporting whether it was out of range.
"""

from __future__ import annotations

import numpy as np
from ._jit import jit

from .config import ROUNDINGS

__all__ = [
    "FLOOR", "HALF_UP", "HALF_EVEN", "STOCHASTIC", "ROUNDING_CODE", "LFSR_TAPS",
    "lfsr_next", "shift_round", "fit", "rq", "quantise", "dequantise",
]

FLOOR, HALF_UP, HALF_EVEN, STOCHASTIC = range(4)
#: Rounding-mode name to the integer code the kernels use (also the HDL's encoding).
ROUNDING_CODE = {name: code for code, name in enumerate(ROUNDINGS)}
#: Galois toggle mask of x^32 + x^22 + x^2 + x + 1 (right-shifting form).
LFSR_TAPS = 0x80200003


@jit
def lfsr_next(state: int) -> int:
    """One step of the 32-bit Galois LFSR x^32 + x^22 + x^2 + x + 1.

    Right-shifting form: the bit shifted out, if 1, toggles the tap bits. The new state
    is also the LFSR's output R. A non-zero state never becomes zero (period 2^32 - 1).
    """
    lsb = state & 1
    state >>= 1
    if lsb:
        state ^= LFSR_TAPS
    return state


@jit
def shift_round(v: int, s: int, mode: int, r: int) -> int:
    """Shift ``v`` right by ``s`` with a rounding mode (no range check).

    ``s <= 0`` is an exact left shift. Otherwise the result is ``(v + offset) >> s``
    with ``>>`` the arithmetic (flooring) shift and the offset chosen by the mode:
    floor 0; half_up 2^(s-1); half_even 2^(s-1) - 1 + (the lowest bit of v >> s), which
    rounds ties up exactly when the truncated quotient is odd; stochastic R mod 2^s,
    ``r`` being the LFSR output R.
    """
    if s <= 0:
        return v << -s
    if mode == FLOOR:
        off = 0
    elif mode == HALF_UP:
        off = 1 << (s - 1)
    elif mode == HALF_EVEN:
        off = (1 << (s - 1)) - 1 + ((v >> s) & 1)
    else:
        off = r & ((1 << s) - 1)
    return (v + off) >> s


@jit
def fit(v: int, w: int, wrap: bool) -> tuple[int, bool]:
    """Fit ``v`` into ``w`` signed bits: saturate, or wrap when ``wrap``.

    Returns the fitted value and whether ``v`` was out of range (counted either way).
    """
    lo = -(1 << (w - 1))
    hi = (1 << (w - 1)) - 1
    out = v < lo or v > hi
    if wrap:
        return ((v - lo) & ((1 << w) - 1)) + lo, out
    return min(max(v, lo), hi), out


@jit
def rq(v: int, s: int, w: int, mode: int, wrap: bool, r: int) -> tuple[int, bool]:
    """RQ of §3.1: :func:`shift_round` then :func:`fit`. Returns (value, out_of_range)."""
    return fit(shift_round(v, s, mode, r), w, wrap)


def quantise(values, fmt, wrap: bool = False) -> np.ndarray:
    """Floats to integers of format ``fmt`` (a :class:`~rtrledit.model.QFormat`):
    round to nearest (ties to even), then saturate (or wrap)."""
    v = np.rint(np.asarray(values, dtype=np.float64) * fmt.one)
    if not np.all(np.isfinite(v)):
        raise ValueError("cannot quantise NaN or infinite values")
    v = v.astype(np.int64)
    if wrap:
        return ((v - fmt.min) & ((1 << fmt.w) - 1)) + fmt.min
    return np.clip(v, fmt.min, fmt.max)


def dequantise(ints, fmt) -> np.ndarray:
    """Integers of format ``fmt`` to their float64 values."""
    return np.asarray(ints, dtype=np.float64) / fmt.one
