"""The processing element (PE) of the systolic sensitivity sweep (docs/design.md §4).

A PE is one signed multiply-accumulate on a systolic chain: the streaming operand (an
element of W, format P) arrives with the tokens that travel with it, is forwarded to the
next PE through a register, and is multiplied by the PE's stationary operand (an entry of
the S column the PE owns, format S); the products of one output row are summed exactly.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..model.config import Config

__all__ = ["PE", "mac_layout"]


def mac_layout(a_width: int) -> data.StructLayout:
    """The smallest token layout a PE accepts: the streaming operand ``w`` and its flags."""
    return data.StructLayout({"w": signed(a_width), "valid": 1, "first": 1, "last": 1})


class PE(wiring.Component):
    """Signed multiply-accumulate with a registered systolic forward path.

    Behaviour
    ---------
    Let a token ``tok_i`` (a struct with at least the fields ``w`` (signed ``a_width``),
    ``valid``, ``first``, ``last``) arrive in cycle *c*. Then

    * cycle *c+1*: ``tok_o`` holds the token (the systolic forward register: connect it
      to the next PE's ``tok_i``); the stationary operand ``b`` must be presented in this
      cycle (typically the data output of a synchronous RAM whose address was derived
      from ``tok_i`` in cycle *c*). The product ``tok_o.w * b`` is registered.
    * cycle *c+2*: if the token was valid, the accumulator takes
      ``(first ? init : acc) + product``: ``init`` (presented in this cycle) is an extra
      term that starts the sum, e.g. the aligned e_i·z_j term of docs/design.md §3.1 step 7;
      pass 0 when there is none.
    * cycle *c+3*: ``acc`` holds the sum and ``done`` is 1 if the token was valid and
      ``last``: then ``acc`` is the finished sum ``init + Σ w·b`` of the row, and it stays
      there for exactly one cycle if the next row's ``first`` token follows immediately.

    The accumulator is ``acc_width`` bits wide and is never widened or saturated: with
    :meth:`for_config` it is ``cfg.acc_widths["u"]`` bits, which holds ``n`` products of
    P × S plus the z term exactly (``tests/hdl/test_pe_formal.py`` proves it). Invalid
    tokens (bubbles) leave the accumulator unchanged.

    Latency: 1 cycle token forward (``tok_i`` → ``tok_o``), 3 cycles token → ``acc``/``done``.
    Throughput: one MAC per cycle.

    Resources: one ``a_width`` × ``b_width`` signed multiplier with a registered product
    (Yosys maps it to one DSP: SB_MAC16 on iCE40 for widths ≤ 16, MULT18X18D on ECP5 for
    ≤ 18); an ``acc_width``-bit adder and 2:1 multiplexer (logic: the accumulator is wider
    than the DSP's own); flip-flops: the token (its layout's width), the product
    (``a_width + b_width``), the accumulator and 4 flag bits.

    Parameters
    ----------
    a_width, b_width : int
        Widths of the streaming operand ``tok_i.w`` and of the stationary operand ``b``.
    acc_width : int
        Width of the accumulator (sums are exact only if it is wide enough).
    init_width : int, optional
        Width of ``init`` (default ``acc_width``).
    layout : data.StructLayout, optional
        The token layout (default :func:`mac_layout`); extra fields travel unchanged.
    """

    def __init__(self, a_width: int, b_width: int, acc_width: int,
                 init_width: int | None = None, layout: data.StructLayout | None = None):
        for name, v in (("a_width", a_width), ("b_width", b_width), ("acc_width", acc_width)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"PE parameter '{name}' must be an integer >= 1, got {v!r}")
        self.a_width, self.b_width, self.acc_width = a_width, b_width, acc_width
        self.init_width = acc_width if init_width is None else init_width
        self.layout = mac_layout(a_width) if layout is None else layout
        for f in ("w", "valid", "first", "last"):
            if f not in dict(self.layout):
                raise ValueError(f"PE parameter 'layout' lacks the field '{f}'")
        super().__init__({
            "tok_i": In(self.layout),
            "tok_o": Out(self.layout),
            "b": In(signed(b_width)),
            "init": In(signed(self.init_width)),
            "acc": Out(signed(acc_width)),
            "done": Out(1),
        })

    @classmethod
    def for_config(cls, cfg: Config, layout: data.StructLayout | None = None) -> "PE":
        """The PE of the exact sweep: W (format P) × S (format S), accumulator
        ``cfg.acc_widths["u"]``, ``init`` as wide as the shifted z term (H + zterm_shift)."""
        fm = cfg.formats
        return cls(fm.P.w, fm.S.w, cfg.acc_widths["u"], fm.H.w + cfg.zterm_shift, layout)

    def elaborate(self, platform):
        m = Module()
        prod = Signal(signed(self.a_width + self.b_width))
        valid_m = Signal()
        first_m = Signal()
        last_m = Signal()
        # systolic forward register
        m.d.sync += self.tok_o.eq(self.tok_i)
        # multiplier with registered product (DSP-friendly: operand from a register/RAM)
        m.d.sync += [
            prod.eq(self.tok_o.w * self.b),
            valid_m.eq(self.tok_o.valid),
            first_m.eq(self.tok_o.first),
            last_m.eq(self.tok_o.last),
        ]
        # accumulate (exact: acc_width from the Config)
        with m.If(valid_m):
            m.d.sync += self.acc.eq(Mux(first_m, self.init, self.acc) + prod)
        m.d.sync += self.done.eq(valid_m & last_m)
        return m
