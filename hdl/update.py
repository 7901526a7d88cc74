"""The parameter update of one RTRL step (docs/design.md §3.1 step 8). See :class:`UpdateUnit`."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..model.config import Config
from .dsp import Multiplier
from .forward import bits
from .lfsr import LFSR, lfsr_step
from .requant import Requantiser, VariableRequantiser

__all__ = ["UpdateUnit", "update_cycles", "ETA_WIDTH"]

#: Width of the learning-rate shift ports (0..31).
ETA_WIDTH = 5


def update_cycles(cfg: Config) -> int:
    """Cycles from ``start`` to ``done`` of :class:`UpdateUnit`."""
    n, p, q = cfg.n, cfg.p, cfg.q
    return n * q + p * n + p + 7


class UpdateUnit(wiring.Component):
    """Θ ← sat_P(Θ − RQ(G, f_C+f_S+η → P)), V ← sat_O(V − RQ(e hᵀ, f_Y+f_H+η_o → O)),
    c ← sat_O(c − RQ(e, f_Y+η_o → O)), all with rounding r_upd.

    One element per cycle in the order of §3.1 — Θ row-major, then V row-major, then c —
    and the stochastic-rounding LFSR advanced once per element, so the bits equal the
    model's. A seven-stage pipeline: addresses; read data (and e·h on the multiplier);
    the rounder's input (product or gradient) registered; the rounding add of the
    run-time shifter shared by Θ, V and c (its shift decoded a stage earlier); the shift;
    the fit to the format; subtract, saturate and write back. No element is read after
    another is written that it depends on, so there are no hazards.

    Latency: n·q + p·n + p + 7 cycles from ``start`` to ``done``.
    Resources: one w_Y × w_H multiplier (e·h; with ``family`` (``"ice40"``, ``"ecp5"``)
    the DSP primitive when it fits one block, :class:`~rtrledit.hdl.dsp.Multiplier`), one run-time shifter with its rounding
    adder, a range check (the fit to P or O) and a saturating subtractor (one each when P
    and O are equally wide, two otherwise), the 32-bit LFSR; one destination address
    down the pipeline.

    Ports
    -----
    start, busy, done
        ``start`` (pulse, while idle) runs one update; ``done`` pulses at its end.
    eta, eta_o
        Learning-rate shifts (rates 2^-eta, 2^-eta_o), read while busy.
    w_addr/w_data, u_addr/u_data, g_addr/g_data, v_addr/v_data, c_addr/c_data, h_addr/h_data
        Synchronous read ports (address in cycle t, data in t+1) into W (k·n + l),
        [U | b] (i·(m+1) + j − n), G (i·q + j; f_C + f_S), V (o·n + k), c (o) and h (k).
    w_w*, u_w*, v_w*, c_w*
        Write ports (address, data, enable) into W, [U | b], V, c.
    e
        This step's errors (format Y).
    lfsr, lfsr_load, lfsr_load_value
        The LFSR state, and a way to set it (while idle).
    sat_theta, sat_v
        Per cycle, how many saturations (0..2: the rounded step, the subtraction) the
        element of this cycle had.
    """

    def __init__(self, cfg: Config, family: str | None = None) -> None:
        self.cfg, self.family = cfg, family
        fm, n, p, q = cfg.formats, cfg.n, cfg.p, cfg.q
        self.g_width = cfg.acc_widths["g"]
        #: cycles from ``start`` to ``done``
        self.cycles = update_cycles(cfg)
        #: hardware multipliers (DSP blocks): e·h
        self.multipliers = 1
        #: the most saturations ``sat_theta`` or ``sat_v`` reports in one cycle
        self.sat_inc_max = 2
        super().__init__({
            "start": In(1), "busy": Out(1), "done": Out(1),
            "eta": In(unsigned(ETA_WIDTH), init=cfg.eta),
            "eta_o": In(unsigned(ETA_WIDTH), init=cfg.eta_o),
            "w_addr": Out(bits(n * n)), "w_data": In(signed(fm.P.w)),
            "w_waddr": Out(bits(n * n)), "w_wdata": Out(signed(fm.P.w)), "w_we": Out(1),
            "u_addr": Out(bits(n * (q - n))), "u_data": In(signed(fm.P.w)),
            "u_waddr": Out(bits(n * (q - n))), "u_wdata": Out(signed(fm.P.w)), "u_we": Out(1),
            "g_addr": Out(bits(n * q)), "g_data": In(signed(self.g_width)),
            "v_addr": Out(bits(p * n)), "v_data": In(signed(fm.O.w)),
            "v_waddr": Out(bits(p * n)), "v_wdata": Out(signed(fm.O.w)), "v_we": Out(1),
            "c_addr": Out(bits(p)), "c_data": In(signed(fm.O.w)),
            "c_waddr": Out(bits(p)), "c_wdata": Out(signed(fm.O.w)), "c_we": Out(1),
            "h_addr": Out(bits(n)), "h_data": In(signed(fm.H.w)),
            "e": In(data.ArrayLayout(signed(fm.Y.w), p)),
            "lfsr": Out(32), "lfsr_load": In(1), "lfsr_load_value": In(32),
            "sat_theta": Out(range(self.sat_inc_max + 1)),
            "sat_v": Out(range(self.sat_inc_max + 1)),
        })

    def elaborate(self, platform) -> Module:
        cfg, fm = self.cfg, self.cfg.formats
        n, p, q = cfg.n, cfg.p, cfg.q
        wrap, r = cfg.overflow == "wrap", cfg.r_upd
        md = Module()

        md.submodules.lfsr = lfsr = LFSR(cfg.lfsr_seed)
        md.d.comb += [self.lfsr.eq(lfsr.value), lfsr.load.eq(self.lfsr_load & ~self.busy),
                      lfsr.load_value.eq(self.lfsr_load_value)]
        rnd = lfsr_step(lfsr.value)   # R: the LFSR's next output, used by this element

        # One run-time shifter for the three phases: the shift of phase k is
        # base[k] + η (η_o for V and c) = bmin + amount, the amount given a stage early
        # (the shifter registers its decode), a register between its rounding add and its
        # shift. Its result is exact (wide); the fit to P or O follows.
        grad_w = max(self.g_width, fm.Y.w + fm.H.w)
        base = [fm.C.f + fm.S.f - fm.P.f, fm.Y.f + fm.H.f - fm.O.f, fm.Y.f - fm.O.f]
        bmin = min(base)
        max_amount = max(base) - bmin + (1 << ETA_WIDTH) - 1
        exact_w = grad_w + max(0, -bmin) + 1
        rq = VariableRequantiser(grad_w, bmin, max_amount.bit_length(), exact_w, r, wrap,
                                 max_amount=max_amount, early=True, split=True)
        # the fits to P (Θ) and O (V, c), and the saturations after the subtraction: one
        # of each when P and O are equally wide (a fit with shift 0 depends on the width only)
        fit_p = Requantiser(exact_w, 0, fm.P.w, "floor", wrap)
        sat_p = Requantiser(fm.P.w + 1, 0, fm.P.w, "floor", wrap)
        md.submodules.rq, md.submodules.fit_p, md.submodules.sat_p = rq, fit_p, sat_p
        fit_o, sat_o = fit_p, sat_p
        if fm.O.w != fm.P.w:
            fit_o = Requantiser(exact_w, 0, fm.O.w, "floor", wrap)
            sat_o = Requantiser(fm.O.w + 1, 0, fm.O.w, "floor", wrap)
            md.submodules.fit_o, md.submodules.sat_o = fit_o, sat_o
        md.d.comb += rq.rnd.eq(rnd)

        # stage 0: one index per phase; stage 1: compute and write back
        PT, PV, PC = range(3)
        phase = Signal(2)
        idx = Signal(range(max(n * q, p * n, p) + 1))
        row = Signal(range(max(n, p) + 1))      # o for V (idx = o·n + k)
        col = Signal(range(max(n, q) + 1))      # j for Θ, k for V
        wa, ua = Signal.like(self.w_addr), Signal.like(self.u_addr)
        ncol = Mux(phase == PT, q, n)
        active = Signal()
        sizes = Array([n * q, p * n, p])
        last = idx == sizes[phase] - 1
        v1, ph1, isw1 = Signal(), Signal(2), Signal()
        row1 = Signal.like(row)
        # the element's one destination (W, U, V or c address; the write enables say
        # which), carried down the pipeline in place of all four
        dst = Signal(range(max(n * n, n * (q - n), p * n, p, 2)))
        md.d.comb += dst.eq(Mux(phase == PT, Mux(col < n, wa, ua), idx))
        dst1 = Signal.like(dst)
        v2, v2r, v3, v3s, v4 = Signal(), Signal(), Signal(), Signal(), Signal()
        md.d.comb += self.busy.eq(active | v1 | v2 | v2r | v3 | v3s | v4)
        with md.If(self.start & ~self.busy):
            md.d.sync += [active.eq(1), phase.eq(PT), idx.eq(0), row.eq(0), col.eq(0),
                          wa.eq(0), ua.eq(0)]
        with md.Elif(active):
            md.d.sync += idx.eq(idx + 1)
            with md.If(phase == PT):
                with md.If(col < n):
                    md.d.sync += wa.eq(wa + 1)
                with md.Else():
                    md.d.sync += ua.eq(ua + 1)
            with md.If(col == ncol - 1):
                md.d.sync += [col.eq(0), row.eq(row + 1)]
            with md.Else():
                md.d.sync += col.eq(col + 1)
            with md.If(last):
                md.d.sync += [idx.eq(0), row.eq(0), col.eq(0), phase.eq(phase + 1)]
                with md.If(phase == PC):
                    md.d.sync += active.eq(0)
        md.d.sync += [v1.eq(active), ph1.eq(phase), dst1.eq(dst), row1.eq(row),
                      isw1.eq(col < n)]
        md.d.comb += [self.w_addr.eq(wa), self.u_addr.eq(ua), self.g_addr.eq(idx),
                      self.v_addr.eq(idx),
                      self.h_addr.eq(col), self.c_addr.eq(idx)]

        # stage 1: read data; e·h into the multiplier (its product registered, chosen in
        # stage 2 over the other phases' registered gradient); the old value registered
        # (the stages keep multiply, round and saturate apart for Fmax)
        e_arr = Array(self.e[o] for o in range(p))
        ph2, isw2, isv2 = Signal(2), Signal(), Signal()
        grad2 = Signal(signed(grad_w))
        old2 = Signal(signed(max(fm.P.w, fm.O.w)))
        dst2 = Signal.like(dst)
        md.submodules.mul = mul = Multiplier.fitting(fm.Y.w, fm.H.w, self.family)
        md.d.comb += [mul.a.eq(e_arr[row1]), mul.b.eq(self.h_data)]
        md.d.sync += isv2.eq(ph1 == PV)
        with md.Switch(ph1):
            with md.Case(PT):
                md.d.sync += [grad2.eq(self.g_data),
                              old2.eq(Mux(isw1, self.w_data, self.u_data))]
            with md.Case(PV):
                md.d.sync += old2.eq(self.v_data)
            with md.Case(PC):
                md.d.sync += [grad2.eq(e_arr[dst1]), old2.eq(self.c_data)]
        # the shifter's amount for the element in stage 1 (registered from stage 0)
        amount1 = Signal.like(rq.amount)
        with md.Switch(phase):
            with md.Case(PT):
                md.d.sync += amount1.eq(base[PT] - bmin + self.eta)
            with md.Case(PV):
                md.d.sync += amount1.eq(base[PV] - bmin + self.eta_o)
            with md.Case(PC):
                md.d.sync += amount1.eq(base[PC] - bmin + self.eta_o)
        md.d.sync += [v2.eq(v1), ph2.eq(ph1), isw2.eq(isw1), dst2.eq(dst1)]

        # stage 2: the rounder's input registered, the product (out of the DSP block,
        # across the fabric) or the gradient: the bit select of half_even rounding and
        # the rounding add start from a register
        rin = Signal(signed(grad_w))
        amount2 = Signal.like(amount1)
        ph2r, isw2r, old2r, dst2r = Signal(2), Signal(), Signal.like(old2), Signal.like(dst)
        md.d.sync += [rin.eq(Mux(isv2, mul.p, grad2)), amount2.eq(amount1), v2r.eq(v2),
                      ph2r.eq(ph2), isw2r.eq(isw2), old2r.eq(old2), dst2r.eq(dst2)]
        md.d.comb += rq.amount.eq(amount2)

        # stage 3: round (the LFSR advances once per element, in order)
        md.d.comb += [rq.i.eq(rin), lfsr.en.eq(v2r)]
        ph3, isw3 = Signal(2), Signal()
        old3 = Signal.like(old2)
        dst3 = Signal.like(dst)
        md.d.sync += [v3.eq(v2r), ph3.eq(ph2r), isw3.eq(isw2r), old3.eq(old2r), dst3.eq(dst2r)]

        # stage 4: the shift (rq.o, after its register), registered
        shifted = Signal.like(rq.o)
        ph3s, isw3s, old3s = Signal.like(ph3), Signal.like(isw3), Signal.like(old3)
        dst3s = Signal.like(dst)
        md.d.sync += [shifted.eq(rq.o), v3s.eq(v3), ph3s.eq(ph3), isw3s.eq(isw3),
                      old3s.eq(old3), dst3s.eq(dst3)]

        # stage 5: fit to P (Θ) or O (V, c)
        md.d.comb += [fit_p.i.eq(shifted), fit_o.i.eq(shifted)]
        ph4, isw4 = Signal(2), Signal()
        delta4 = Signal(signed(max(fm.P.w, fm.O.w)))
        old4 = Signal.like(old2)
        clip4 = Signal()
        dst4 = Signal.like(dst)
        with md.If(ph3s == PT):
            md.d.sync += [delta4.eq(fit_p.o), clip4.eq(fit_p.clipped)]
        with md.Else():
            md.d.sync += [delta4.eq(fit_o.o), clip4.eq(fit_o.clipped)]
        md.d.sync += [v4.eq(v3s), ph4.eq(ph3s), isw4.eq(isw3s), old4.eq(old3s), dst4.eq(dst3s),
                      self.done.eq(v4 & ~v3s)]

        # stage 6: subtract, saturate, write back
        md.d.comb += [sat_p.i.eq(old4 - delta4), sat_o.i.eq(old4 - delta4)]
        md.d.comb += [self.w_waddr.eq(dst4), self.u_waddr.eq(dst4),
                      self.w_wdata.eq(sat_p.o), self.u_wdata.eq(sat_p.o),
                      self.v_waddr.eq(dst4), self.c_waddr.eq(dst4),
                      self.v_wdata.eq(sat_o.o), self.c_wdata.eq(sat_o.o)]
        with md.If(v4):
            with md.Switch(ph4):
                with md.Case(PT):
                    md.d.comb += [self.w_we.eq(isw4), self.u_we.eq(~isw4),
                                  self.sat_theta.eq(clip4 + sat_p.clipped)]
                with md.Case(PV):
                    md.d.comb += [self.v_we.eq(1), self.sat_v.eq(clip4 + sat_o.clipped)]
                with md.Case(PC):
                    md.d.comb += [self.c_we.eq(1), self.sat_v.eq(clip4 + sat_o.clipped)]
        return md
