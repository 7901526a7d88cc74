"""The device-side top: board oscillator → PLL → core clock; UART ↔ frame bridge ↔ core;
status LEDs.

With ``board=None`` (simulation) there is no PLL: the design runs in the default ``sync``
domain and exposes ``rx``/``tx`` (UART pins) and ``led_alive``, ``led_learn``,
``led_sat`` as signals.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer

from ..hdl.core import Core
from ..model.config import Config
from .bridge import Bridge
from .protocol import TIMEOUT_BYTES
from .pll import ecp5_pll, ice40_pll
from .target import Target
from .uart import UARTRx, UARTTx, divisor_for

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """Parameters
    ----------
    cfg : Config
    target : Target
        What it is built for: lanes, clock, baud, FIFO depth; its board (if any) gives the
        clock source (PLL, fabric divider or the oscillator) and the pins, which are used
        when the top is elaborated for that board's platform. Without a board (simulation)
        the clock is ``target.clock_mhz`` (1 MHz if None) and the family, if any, gives
        the memory facts.
    divisor : int, optional
        Cycles per UART bit (simulation); computed from the clock and baud otherwise.
    """

    def __init__(self, cfg: Config, target: Target, divisor: int | None = None) -> None:
        if not isinstance(target, Target):
            raise ValueError(f"BoardTop parameter 'target' must be a Target, got {target!r}")
        board = target.device if target.board is not None else None
        self.cfg, self.target, self.board, self.baud = cfg, target, board, target.baud
        self.lanes = target.lanes
        freq_hz = None if target.clock_mhz is None else target.clock_mhz * 1e6
        self.pll = None
        self.clk_div = 1
        if board is not None:
            want = freq_hz or board.default_mhz * 1e6
            ratio = board.clk_hz / want
            self.clk_div = 1
            if abs(want - board.clk_hz) < 1:          # the oscillator itself: no PLL
                self.freq_hz = board.clk_hz
            elif ratio > 1.5 and abs(ratio - round(ratio)) < 1e-6 and \
                    round(ratio) in (2, 4, 8):
                # below the PLL's range: divide the oscillator in fabric (a toggle chain
                # on a global buffer), e.g. 12 MHz / 2 = 6 MHz on the iCEBreaker
                self.clk_div = round(ratio)
                self.freq_hz = board.clk_hz / self.clk_div
            else:
                self.pll = (ice40_pll if board.family == "ice40" else ecp5_pll)(board.clk_hz, want)
                self.freq_hz = self.pll["freq"]
        else:
            self.freq_hz = freq_hz or 1e6
        self.divisor = divisor or divisor_for(self.freq_hz, self.baud)
        self.core = Core(cfg, target=target)
        self.bridge = Bridge(cfg, timeout=TIMEOUT_BYTES * 10 * self.divisor,
                             fifo_depth=target.fifo_depth)
        self.rx = Signal(init=1)
        self.tx = Signal(init=1)
        self.led_alive = Signal(name="led_alive")
        self.led_learn = Signal(name="led_learn")
        self.led_sat = Signal(name="led_sat")

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.bridge = br = self.bridge
        m.submodules.rx = urx = UARTRx(self.divisor)
        m.submodules.tx = utx = UARTTx(self.divisor)
        wiring.connect(m, br.bus, core.bus)
        wiring.connect(m, br.sample, core.sample)
        wiring.connect(m, core.result, br.result)
        wiring.connect(m, br.tx, utx.data)
        m.d.comb += [urx.pin.eq(self.rx), self.tx.eq(utx.pin),
                     br.rx_data.eq(urx.data), br.rx_valid.eq(urx.valid)]
        # LEDs: heartbeat (~1.5 Hz), learning (CTRL.LEARN as last written), saturation seen
        beat = Signal(max(2, int(self.freq_hz).bit_length() - 1))
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += [self.led_alive.eq(beat[-1]), self.led_learn.eq(br.learning),
                     self.led_sat.eq(br.sat_seen)]
        if self.board is not None and platform is not None:
            self._board_io(m, platform)
        return m

    # ------------------------------------------------------------------ board I/O
    def _board_io(self, m: Module, platform) -> None:
        brd = self.board
        m.domains.sync = cd = ClockDomain("sync")
        lock = Signal()
        pll_out = Signal()
        if self.pll is None:
            # the board oscillator straight in (its pin carries the platform's constraint),
            # or divided by 2, 4 or 8 in fabric
            osc = platform.request(platform.default_clk, dir="i").i
            if self.clk_div == 1:
                m.d.comb += cd.clk.eq(osc)
            else:
                m.domains.osc = ClockDomain("osc", reset_less=True)
                m.d.comb += ClockSignal("osc").eq(osc)
                cnt = Signal(self.clk_div.bit_length() - 1)
                m.d.osc += cnt.eq(cnt + 1)
                div_clk = Signal()
                m.d.comb += [div_clk.eq(cnt[-1]), cd.clk.eq(div_clk)]
                platform.add_clock_constraint(div_clk, self.freq_hz)
            m.submodules.rst = ResetSynchronizer(Const(0, 1), domain="sync")
        elif brd.family == "ice40":
            # the oscillator pin feeds the PLL directly (SB_PLL40_PAD): on the UP5K the
            # PLL sits on that pin's I/O tile, so a fabric-fed SB_PLL40_CORE cannot place
            pad = platform.request(platform.default_clk, dir="-")
            p = self.pll
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", i_PACKAGEPIN=pad.io,
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"],
                p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
                p_PLLOUT_SELECT="GENCLK",
                i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=pll_out, o_LOCK=lock)
        else:
            clk_in = platform.request(platform.default_clk, dir="i").i
            p = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{brd.clk_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{p['freq'] / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"], p_CLKI_DIV=p["CLKI_DIV"],
                i_CLKI=clk_in, i_CLKFB=pll_out, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=pll_out, o_LOCK=lock)
        if self.pll is not None:
            m.d.comb += cd.clk.eq(pll_out)
            m.submodules.rst = ResetSynchronizer(~lock, domain="sync")
            platform.add_clock_constraint(pll_out, self.freq_hz)

        uart = platform.request("uart", 0)
        m.d.comb += [self.rx.eq(uart.rx.i), uart.tx.o.eq(self.tx)]
        leds = self._leds(platform)
        for led, sig in zip(leds, (self.led_alive, self.led_learn, self.led_sat)):
            m.d.comb += led.o.eq(sig)

    def _leds(self, platform):
        """Three LEDs: alive, learning, saturation. iCEBreaker: green, (break-off PMOD
        LED2), red; ULX3S: LEDs 0, 1, 2."""
        if self.board.family == "ice40":
            platform.add_resources(platform.break_off_pmod)
            return [platform.request("led_g", 0), platform.request("led_g", 1),
                    platform.request("led_r", 0)]
        return [platform.request("led", i) for i in range(3)]
