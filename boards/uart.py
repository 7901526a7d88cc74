"""8N1 UART receiver and transmitter (the board's USB-serial bridge).

``divisor`` is clock cycles per bit (clock / baud, rounded); at least :data:`MIN_DIVISOR`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "divisor_for", "MIN_DIVISOR"]

#: The fewest clock cycles per bit (the receiver samples mid-bit).
MIN_DIVISOR = 4


def divisor_for(clk_hz: float, baud: int) -> int:
    """Cycles per bit; ValueError when the rate error exceeds 2 % or the divisor is below
    :data:`MIN_DIVISOR`."""
    div = round(clk_hz / baud)
    if div < MIN_DIVISOR:
        raise ValueError(f"baud rate {baud} too fast for a {clk_hz / 1e6:g} MHz clock")
    err = abs(clk_hz / div - baud) / baud
    if err > 0.02:
        raise ValueError(f"baud rate {baud} cannot be made from {clk_hz / 1e6:g} MHz "
                         f"(error {100 * err:.1f} % > 2 %)")
    return div


class UARTRx(wiring.Component):
    """Receiver: ``data``/``valid`` pulse one cycle per good byte (stop bit 1). A byte with a
    bad stop bit is dropped and pulses ``error``. No back-pressure (a UART has none)."""

    def __init__(self, divisor: int) -> None:
        if divisor < MIN_DIVISOR:
            raise ValueError(f"UARTRx divisor must be >= {MIN_DIVISOR}, got {divisor}")
        self.divisor = divisor
        super().__init__({"pin": In(1, init=1), "data": Out(8), "valid": Out(1), "error": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        div = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.pin, rx, init=1)
        cnt = Signal(range(div * 3 // 2 + 1))
        bit = Signal(range(10))
        sr = Signal(8)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += [cnt.eq(div + div // 2 - 1), bit.eq(0)]  # middle of bit 0
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(cnt == 0):
                    m.d.sync += [cnt.eq(div - 1), bit.eq(bit + 1)]
                    with m.If(bit == 8):                 # the stop bit
                        with m.If(rx):
                            m.d.comb += self.valid.eq(1)
                        with m.Else():
                            m.d.comb += self.error.eq(1)
                        m.next = "STOP"
                    with m.Else():
                        m.d.sync += sr.eq((sr >> 1) | (rx << 7))
                with m.Else():
                    m.d.sync += cnt.eq(cnt - 1)
            with m.State("STOP"):                         # wait for the line to idle high
                with m.If(rx):
                    m.next = "IDLE"
        m.d.comb += self.data.eq(sr)
        return m


class UARTTx(wiring.Component):
    """Transmitter: takes a byte from ``data`` (a stream) when idle, sends 8N1 on ``pin``."""

    def __init__(self, divisor: int) -> None:
        if divisor < MIN_DIVISOR:
            raise ValueError(f"UARTTx divisor must be >= {MIN_DIVISOR}, got {divisor}")
        self.divisor = divisor
        super().__init__({"data": In(stream.Signature(8)), "pin": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        div = self.divisor
        cnt = Signal(range(div))
        sr = Signal(10, init=0x3FF)
        left = Signal(range(11))
        pin = Signal(init=1)
        m.d.comb += self.pin.eq(pin)
        with m.If((left == 0) & (cnt == 0)):
            m.d.comb += self.data.ready.eq(1)
            with m.If(self.data.valid):
                m.d.sync += [sr.eq((self.data.payload << 1) | (1 << 9)), left.eq(10)]
        with m.Elif(cnt == 0):                            # next bit; the stop bit lasts too
            m.d.sync += [pin.eq(sr[0]), sr.eq((sr >> 1) | (1 << 9)), cnt.eq(div - 1),
                         left.eq(left - 1)]
        with m.Else():
            m.d.sync += cnt.eq(cnt - 1)
        return m
