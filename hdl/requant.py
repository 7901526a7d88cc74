"""The requantiser RQ of docs/design.md §3.1 as a combinational Amaranth component.

:class:`Requantiser` is the hardware twin of :func:`rtrledit.model.requant.rq`: for the
same input, shift, width, rounding mode, overflow behaviour and LFSR output it produces
the same value and the same out-of-range flag, bit for bit.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..model.config import ROUNDINGS, QFormat

__all__ = ["Requantiser", "VariableRequantiser", "ROUNDING_MODES"]

#: Rounding modes accepted by :class:`Requantiser`, in the order of the model's codes.
ROUNDING_MODES = ROUNDINGS

#: Width of the LFSR output ``rnd`` (docs/design.md §3.1: a 32-bit Galois LFSR).
RND_WIDTH = 32


def _check_int(name: str, value: object, minimum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"Requantiser parameter '{name}' must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"Requantiser parameter '{name}' must be >= {minimum}, got {value!r}")
    return value


def _fit(m: Module, q, w: int, wrap: bool, o, clipped) -> None:
    """Drive ``o`` with ``q`` fitted into ``w`` signed bits (saturated, or wrapped when
    ``wrap``) and ``clipped`` with whether it was out of range. A ``q`` that always fits
    is sign-extended and never clipped (no logic).

    ``q`` fits exactly when its bits from ``w - 1`` up all equal its sign: the check is a
    reduction (a LUT tree), not two comparisons against the bounds, which Yosys builds as
    carry chains as wide as ``q``. The saturated value is the bound on the side of the
    sign: ``sign ? -2**(w-1) : 2**(w-1) - 1``."""
    if q.shape().width <= w:
        m.d.comb += [o.eq(q), clipped.eq(0)]
        return
    top, sign = q[w - 1:], q[-1]
    out = Signal()
    m.d.comb += out.eq(Mux(sign, ~top.all(), top.any()))
    m.d.comb += clipped.eq(out)
    bound = Cat(*([~sign] * (w - 1)), sign)
    m.d.comb += o.eq(q[:w] if wrap else Mux(out, bound, q[:w]))


class Requantiser(wiring.Component):
    """Shift right with rounding, then saturate (or wrap) into ``out_width`` signed bits.

    Computes RQ of docs/design.md §3.1, exactly as :func:`rtrledit.model.requant.rq`
    ``(i, shift, out_width, ROUNDING_CODE[mode], wrap, rnd)`` does:

    * ``shift > 0``: ``q = (i + offset) >>> shift`` (arithmetic, i.e. flooring, shift) with
      the offset chosen by ``mode``:

      - ``"floor"``: 0 (no adder is built);
      - ``"half_up"``: ``2**(shift-1)`` (nearest, ties towards +inf);
      - ``"half_even"``: ``2**(shift-1) - 1 + bit(shift) of i`` (nearest, ties to the even
        quotient: a tie rounds up exactly when the truncated quotient ``i >>> shift`` is odd);
      - ``"stochastic"``: ``rnd mod 2**shift`` (the low ``min(shift, 32)`` bits of ``rnd``,
        the LFSR output R).

    * ``shift <= 0``: ``q = i << -shift``, exact (no rounding, ``rnd`` unused).

    Then ``q`` is fitted to ``[-2**(out_width-1), 2**(out_width-1) - 1]``: ``clipped`` is 1
    when ``q`` lies outside that range; ``o`` is the nearest bound (saturate) or the low
    ``out_width`` bits of ``q`` (``wrap=True``, two's-complement wrap). ``clipped`` is
    reported in both cases so that overflows can be counted.

    Latency: 0 cycles (purely combinational; no clock domain). Register ``o`` outside if
    the path is too long.

    Resources: no adder for ``"floor"`` or ``shift <= 0``; for half_up and half_even an
    adder of ``in_width - shift + 2`` bits (the bits above ``shift - 1`` plus a carry in,
    see :meth:`_rounded`), for stochastic one of ``max(in_width, shift) + 1``; the shift
    is wiring; the range check is a reduction over the bits above ``out_width - 1`` (no
    carry chain) and the saturation a 2:1 multiplexer. When the rounded value always fits
    (it has at most ``out_width`` bits) the range check is not built and ``clipped`` is
    constant 0.

    The hardware has no width limit; the golden model computes in int64, so bit-exact
    comparisons need ``in_width + max(0, -shift) <= 62``.

    Parameters
    ----------
    in_width : int
        Width of the signed input ``i`` (>= 1).
    shift : int
        Right shift ``f_in - f_out``; ``shift <= 0`` is an exact left shift by ``-shift``.
    out_width : int
        Width of the signed output ``o`` (>= 1).
    mode : str
        Rounding mode: ``"floor"``, ``"half_up"``, ``"half_even"`` or ``"stochastic"``.
    wrap : bool
        Wrap (two's complement) instead of saturating when out of range.

    Attributes
    ----------
    i : Signal(signed(in_width)), in
        Value to requantise.
    rnd : Signal(unsigned(32)), in
        LFSR output R; only ``rnd mod 2**shift`` is used, and only when ``mode`` is
        ``"stochastic"`` and ``shift > 0`` (otherwise ignored).
    o : Signal(signed(out_width)), out
        Requantised value.
    clipped : Signal(1), out
        1 when the rounded value did not fit in ``out_width`` bits (saturated or wrapped).

    Raises
    ------
    ValueError
        naming the parameter, when a parameter has the wrong type or value.
    """

    def __init__(self, in_width: int, shift: int, out_width: int, mode: str,
                 wrap: bool = False) -> None:
        self.in_width = _check_int("in_width", in_width, 1)
        self.shift = _check_int("shift", shift)
        self.out_width = _check_int("out_width", out_width, 1)
        if mode not in ROUNDING_MODES:
            raise ValueError(f"Requantiser parameter 'mode' must be one of "
                             f"{', '.join(ROUNDING_MODES)}, got {mode!r}")
        self.mode = mode
        if not isinstance(wrap, bool):
            raise ValueError(f"Requantiser parameter 'wrap' must be a bool, got {wrap!r}")
        self.wrap = wrap
        super().__init__({
            "i": In(signed(in_width)),
            "rnd": In(unsigned(RND_WIDTH)),
            "o": Out(signed(out_width)),
            "clipped": Out(1),
        })

    @classmethod
    def from_formats(cls, in_width: int, f_in: int, out_fmt: QFormat, mode: str,
                     wrap: bool = False) -> "Requantiser":
        """RQ(v, f_in → out_fmt, mode) of §3.1 for a ``in_width``-bit input ``v`` with
        ``f_in`` fractional bits: ``shift = f_in - out_fmt.f``, ``out_width = out_fmt.w``."""
        _check_int("f_in", f_in)
        if not isinstance(out_fmt, QFormat):
            raise ValueError(f"Requantiser parameter 'out_fmt' must be a QFormat, got {out_fmt!r}")
        return cls(in_width, f_in - out_fmt.f, out_fmt.w, mode, wrap)

    @property
    def q_shape(self) -> Shape:
        """Shape of the rounded, not yet fitted value ``q`` (before the range check)."""
        return self._rounded().shape()

    def _rounded(self):
        """``q = (i + offset) >>> shift`` with an adder only as wide as the bits it changes.
        Write ``i = H·2^(s-1) + Lo`` (``H = i >>> (s-1)``, ``0 <= Lo < 2^(s-1)``): then
        ``q = (H + carry) >>> 1``, where the low bits reach the quotient only through
        ``carry``: 1 for half_up; for half_even ``Lo != 0`` or the quotient's odd bit (the
        offset ``2^(s-1) - 1 + odd`` carries out of the low bits unless both are 0).
        Floor needs no adder; stochastic adds ``R mod 2^s`` over the whole width."""
        s, i, w_in = self.shift, self.i, self.in_width
        if s <= 0:
            return i.shift_left(-s)
        if self.mode == "floor":
            return i.shift_right(s)
        if self.mode == "stochastic":       # R mod 2^s (R has 32 bits: s >= 32 is R itself)
            return (i + self.rnd[:min(s, RND_WIDTH)]).shift_right(s)
        carry = Const(1, 1)
        if self.mode == "half_even":
            odd = i[min(s, w_in - 1)]       # bit s of i, or the sign when s >= in_width
            carry = odd | i[:min(s - 1, w_in)].any() if s > 1 else odd
        return (i.shift_right(s - 1) + carry).shift_right(1)

    def elaborate(self, platform) -> Module:
        m = Module()
        _fit(m, self._rounded(), self.out_width, self.wrap, self.o, self.clipped)
        return m


class VariableRequantiser(wiring.Component):
    """RQ with a shift chosen at run time: ``shift = base + amount``, ``amount`` a port.

    The parameter update of §3.1 step 8 shifts by ``f_in + η − f_out``, and η (the
    learning-rate shift) is a register of the core, so the shift is a signal. Same
    arithmetic as :class:`Requantiser` (``(i + offset) >>> shift`` for a positive shift,
    an exact left shift otherwise, then saturate or wrap), with barrel shifters.

    Latency: 0 cycles (1 with ``split``). Resources: two barrel shifters of about ``in_width + max_shift``
    bits (shifts are clamped at ``in_width``, or ``max(in_width, 32) + 1`` for stochastic
    rounding, beyond which the result no longer changes), one adder, the range check
    (none when ``out_width`` holds every shifted value: then ``o`` is the exact rounded
    quotient and ``clipped`` is 0, for a fit done elsewhere, e.g. after a register).

    Parameters
    ----------
    in_width, out_width, mode, wrap
        As for :class:`Requantiser`.
    base : int
        The fixed part of the shift (may be negative).
    amount_width : int
        Width of the unsigned ``amount`` port.
    max_amount : int, optional
        The largest ``amount`` the design will see (by default ``2**amount_width - 1``); it
        bounds the shifters and the rounding adder. Larger amounts give undefined results.
    early : bool, optional
        ``amount`` is given one cycle ahead of ``i``: the shift is decoded (clamped, the
        rounding offset or mask made) and registered, so that ``o`` depends only on ``i``,
        ``rnd`` and those registers (a shorter path; the component then has a clock).
    split : bool, optional
        A register between the rounding add and the shift: ``o`` and ``clipped`` come
        one cycle after ``i`` and ``rnd`` (latency 1; for ``amount``, 1 more than
        without ``split``).
    """

    def __init__(self, in_width: int, base: int, amount_width: int, out_width: int, mode: str,
                 wrap: bool = False, max_amount: int | None = None, early: bool = False,
                 split: bool = False) -> None:
        self.in_width = _check_int("in_width", in_width, 1)
        self.base = _check_int("base", base)
        self.amount_width = _check_int("amount_width", amount_width, 1)
        self.out_width = _check_int("out_width", out_width, 1)
        if mode not in ROUNDING_MODES:
            raise ValueError(f"VariableRequantiser parameter 'mode' must be one of "
                             f"{', '.join(ROUNDING_MODES)}, got {mode!r}")
        self.mode, self.wrap = mode, bool(wrap)
        self.max_amount = _check_int("max_amount", (1 << amount_width) - 1 if max_amount is None
                                     else max_amount, 0)
        self.early, self.split = bool(early), bool(split)
        super().__init__({"i": In(signed(in_width)), "amount": In(unsigned(amount_width)),
                          "rnd": In(unsigned(RND_WIDTH)), "o": Out(signed(out_width)),
                          "clipped": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        w_in, w = self.in_width, self.out_width
        smax = self.base + self.max_amount
        lmax = max(0, -self.base)                    # largest left shift
        s = Signal(signed(self.amount_width + max(self.base, -self.base).bit_length() + 2))
        m.d.comb += s.eq(self.base + self.amount)
        q = Signal(signed(w_in + lmax + 1))

        def decoded(value, name):
            """``value`` (a function of the amount only), registered when ``early``."""
            sig = Signal.like(value, name=name)
            domain = m.d.sync if self.early else m.d.comb
            domain += sig.eq(value)
            return sig

        def late(value, name):
            """``value`` after the add/shift register (when ``split``)."""
            if not self.split:
                return value
            sig = Signal.like(value, name=name)
            m.d.sync += sig.eq(value)
            return sig
        if smax > 0:
            # Shifts beyond `clamp` give the same result as `clamp` (the quotient is
            # already 0 or -1 and the rounding cannot change it), so the shifters and the
            # adder stop there: floor, half_up and half_even give sign-only / 0 results
            # from w_in on; stochastic adds a 32-bit R, so from max(w_in, 32) + 1 on.
            clamp = max(w_in, RND_WIDTH) + 1 if self.mode == "stochastic" else w_in
            seff = min(smax, clamp)
            rs0 = Signal(unsigned(max(1, seff.bit_length())))
            rs1 = Signal.like(rs0)                   # rs - 1 (wraps when rs = 0)
            m.d.comb += [rs0.eq(Mux(s > seff, seff, Mux(s > 0, s, 0))), rs1.eq(rs0 - 1)]
            rs = decoded(rs0, "rs")
            wide = w_in + 1
            off = Signal(unsigned(max(1, seff)))
            one = Const(1, unsigned(max(1, seff)))
            ones = Const(-1, signed(max(1, seff)))

            def below(k):
                """2^k - 1 (k low bits set) as a decoder, without a carry chain."""
                return (~(ones << k))[:max(1, seff)]
            # every offset is 0 for a shift <= 0 (rs = 0), so that ``right`` is then i:
            # half_up's 1 << rs1 is shifted out when rs1 wraps to all ones
            carry_in = Const(0, 1)
            if self.mode == "half_up":
                m.d.comb += off.eq(decoded((one << rs1)[:seff], "half"))
            elif self.mode == "half_even":
                # offset 2^(rs-1) - 1 + bit rs of i: the bit enters as the adder's carry
                # in, so the bit select feeds one carry chain, not two in series
                pos = decoded(rs0 != 0, "pos")
                m.d.comb += off.eq(decoded(Mux(rs0 != 0, below(rs1), 0), "half_m1"))
                carry_in = pos & (self.i >> rs)[0]
            elif self.mode == "stochastic":
                m.d.comb += off.eq(self.rnd & decoded(below(rs0), "mask"))
            total = Signal(signed(max(wide, seff + 2) + 1))
            # i + off + c as one add: (2i + c) + (2·off + c) = 2(i + off + c)
            m.d.comb += total.eq((Cat(carry_in, self.i).as_signed()
                                  + Cat(carry_in, off))[1:].as_signed())
            right = late(total, "total_d") >> late(rs, "rs_d")      # i when the shift is <= 0
        if lmax > 0:                                 # left shifts: i, registered when split
            i = late(self.i, "i_d")
            right_shift = late(decoded(s > 0, "right_shift"), "right_shift_d")
            ls = late(decoded(Mux(s < 0, -s, 0)[:max(1, lmax.bit_length())], "ls"), "ls_d")
            m.d.comb += q.eq(Mux(right_shift, right if smax > 0 else i, i << ls))
        else:
            m.d.comb += q.eq(right if smax > 0 else late(self.i, "i_d"))
        _fit(m, q, w, self.wrap, self.o, self.clipped)
        return m
