"""The 32-bit Galois LFSR of docs/design.md §3.1 that drives stochastic rounding."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..model.requant import LFSR_TAPS

__all__ = ["LFSR", "LFSR_TAPS", "lfsr_step"]

WIDTH = 32


def lfsr_step(state: Value) -> Value:
    """One Galois step as an expression (no state): ``(state >> 1) ^ (state[0] ? TAPS : 0)``.

    The same function as :func:`rtrledit.model.requant.lfsr_next`; chain it to advance
    several steps in one cycle. Resources: 4 XOR gates (the taps of 0x80200003).
    """
    return state[1:] ^ Mux(state[0], Const(LFSR_TAPS, WIDTH), 0)


class LFSR(wiring.Component):
    """32-bit Galois LFSR, x^32 + x^22 + x^2 + x + 1, right-shifting (toggle mask
    ``LFSR_TAPS = 0x80200003``), bit-exact with :func:`rtrledit.model.requant.lfsr_next`.

    ``value`` is the state register. On each clock edge of ``domain``:

    * ``load`` high: the state becomes ``load_value`` (``load`` wins over ``en``);
    * else ``en`` high: the state advances one step, ``state ← lfsr_next(state)``;
    * else: the state holds.

    After reset the state is ``seed``. So with ``en`` held high the values seen on
    ``value`` after 1, 2, 3 ... edges are ``lfsr_next(seed)``, ``lfsr_next²(seed)``, ...:
    the outputs R of §3.1 in order (R is the state *after* the advance). A non-zero state
    runs through all 2^32 - 1 non-zero values; loading 0 locks the LFSR at 0 (the model
    does the same).

    Latency: 1 cycle from ``en``/``load`` to ``value``; ``value`` is a register output.

    Resources: 32 flip-flops, 4 XOR gates and a 32-bit 3:1 multiplexer (load / step /
    hold, the hold usually folded into the flip-flops' clock enable).
    ``synth_ice40`` (Yosys 0.70): 32 SB_DFFESR + 41 SB_LUT4.

    Parameters
    ----------
    seed : int
        Reset value of the state, non-zero, < 2**32 (``Config.lfsr_seed``).
    domain : str
        Clock domain of the state register (default ``"sync"``).

    Attributes
    ----------
    en : Signal(1), in
        Advance one step at the next edge.
    load : Signal(1), in
        Replace the state with ``load_value`` at the next edge.
    load_value : Signal(32), in
        New state for ``load``.
    value : Signal(32), out
        The current state, i.e. the LFSR output R.

    Raises
    ------
    ValueError
        naming ``seed`` or ``domain`` when they are invalid.
    """

    def __init__(self, seed: int, *, domain: str = "sync") -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 < seed < 2**WIDTH:
            raise ValueError(f"LFSR parameter 'seed' must be a non-zero 32-bit integer, got {seed!r}")
        if not isinstance(domain, str) or not domain:
            raise ValueError(f"LFSR parameter 'domain' must be a domain name, got {domain!r}")
        self.seed = seed
        self.domain = domain
        super().__init__({
            "en": In(1),
            "load": In(1),
            "load_value": In(WIDTH),
            "value": Out(WIDTH, init=seed),   # the state register itself
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        sync = m.d[self.domain]
        with m.If(self.load):
            sync += self.value.eq(self.load_value)
        with m.Elif(self.en):
            sync += self.value.eq(lfsr_step(self.value))
        return m
