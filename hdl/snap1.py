"""The SnAp-1 sensitivity sweep (docs/design.md §3.1 step 7, ``approx = "snap1"``).

See :class:`Snap1Engine`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring

from ..boards.target import Target, device_of
from ..model.config import Config
from .memory import ports, ram, use_huge
from .requant import Requantiser
from .sweep import engine_signature

__all__ = ["Snap1Engine", "snap1_cycles"]


def snap1_cycles(cfg: Config, spram: bool = False) -> int:
    """Cycles from ``start`` to ``done`` of :class:`Snap1Engine` (``spram``: single-port S,
    one column every other cycle)."""
    return 2 * cfg.n * cfg.q + 4 if spram else cfg.n * cfg.q + 5


def snap1_spram(cfg: Config, target: Target | str | None) -> bool:
    """The default of :class:`Snap1Engine`'s ``spram``: the memory rule
    (:func:`~rtrledit.hdl.memory.use_huge`, kind ``"snap1_s"``) for s, n·q words of
    format S, on the ``target``'s device."""
    return use_huge("snap1_s", cfg.n * cfg.q, cfg.formats.S.w, device_of(target))


class Snap1Engine(wiring.Component):
    """SnAp-1: for every column c = i·q + j, in order,

    ::

        u    = W[i,i]·s[i,j] + z[j] << zterm_shift
        s[i,j] ← RQ(RQ(u, f_P+f_S → S, r_sens)·φ'[i], f_S+f_F → S, r_sens)
        G[c] = ĉ[i]·s[i,j]

    bit for bit as the snap1 branch of :func:`rtrledit.model.fixed._step`. No W·S product:
    the work is n·q columns, one per cycle in a four-stage pipeline, which is what lets
    large hidden sizes learn on a small FPGA.

    The ports are those of :class:`~rtrledit.hdl.sweep.SweepEngine`, so the core uses
    either engine the same way: operand read ports ``w_*`` (W[k, l] at k·n + l; only the
    diagonal is read), ``dphi_*``, ``chat_*``, ``z_*``; the G write port ``g_*``; the S
    host port (``s_c`` = i·q + j addresses s[i, j]; ``s_k`` is ignored; registered, so
    the write and the read data follow as in the sweep engine); ``sat_inc``.

    Latency: n·q + 5 cycles from ``start`` to ``done``; 2·n·q + 4 with ``spram``.
    Resources: three multipliers (W·s, φ'·s1, ĉ·s), two requantisers, the S RAM
    (n·q × w_S).

    Parameters
    ----------
    cfg : Config
    target : Target or str, optional
        What the core is built for, or a family name (only used for the default of
        ``spram``).
    spram : bool, optional
        Single-port S (``ram(huge=True)``: an SB_SPRAM256KA on the UP5K): a column is
        issued every other cycle so that its read never meets a write-back. Power-up
        content undefined: the core clears S after reset. Default: :func:`snap1_spram`.
    """

    def __init__(self, cfg: Config, target: Target | str | None = None,
                 spram: bool | None = None) -> None:
        if cfg.approx != "snap1":
            raise ValueError(f"Snap1Engine parameter 'cfg.approx' must be 'snap1', got {cfg.approx!r}")
        self.cfg = cfg
        self.g_width = cfg.acc_widths["g"]
        #: single-port S (SPRAM on iCE40)
        self.spram = snap1_spram(cfg, target) if spram is None else bool(spram)
        #: the S memory (s[i, j] at i·q + j)
        self.smem = ram(signed(cfg.formats.S.w), cfg.n * cfg.q, huge=self.spram)
        self.cycles = snap1_cycles(cfg, self.spram)
        #: hardware multipliers (DSP blocks): W[i,i]·s, φ'·s1, ĉ·s
        self.multipliers = 3
        #: the most saturations reported in one cycle (the two RQs)
        self.sat_inc_max = 2
        super().__init__(engine_signature(cfg, self.sat_inc_max))

    def elaborate(self, platform) -> Module:
        cfg, fm = self.cfg, self.cfg.formats
        n, q = cfg.n, cfg.q
        wrap, r = cfg.overflow == "wrap", cfg.r_sens
        md = Module()
        smem = self.smem
        md.submodules.smem = smem
        s_rd, s_wr = ports(md, smem)
        rq1 = Requantiser(cfg.acc_widths["u"], fm.P.f, fm.S.w, r, wrap)
        rq2 = Requantiser(fm.S.w + fm.F.w, fm.F.f, fm.S.w, r, wrap)
        md.submodules.rq1, md.submodules.rq2 = rq1, rq2

        # stage 0: column counter c = i·q + j, a column issued every cycle (every other
        # cycle with single-port S: reads at even, write-backs at odd offsets)
        active, g_en, last4 = Signal(), Signal(), Signal()
        c, i, j = Signal(range(n * q + 1)), Signal(range(n + 1)), Signal(range(q + 1))
        v1, v2, v3 = Signal(), Signal(), Signal()
        l1, l2, l3 = Signal(), Signal(), Signal()       # the last column, by stage
        c1, c2, c3 = Signal.like(c), Signal.like(c), Signal.like(c)
        md.d.comb += self.busy.eq(active | v1 | v2 | v3 | g_en)
        diag = Signal.like(self.w_addr)      # i·(n + 1): W[i, i], from a counter
        issue, phase = Signal(), Signal()
        if self.spram:
            md.d.comb += issue.eq(active & ~phase)
            md.d.sync += phase.eq(active & ~phase)
        else:
            md.d.comb += issue.eq(active)
        with md.If(self.start & ~self.busy):
            md.d.sync += [active.eq(1), c.eq(0), i.eq(0), j.eq(0), diag.eq(0)]
        with md.Elif(issue):
            md.d.sync += c.eq(c + 1)
            with md.If(j == q - 1):
                md.d.sync += [j.eq(0), i.eq(i + 1), diag.eq(diag + n + 1)]
                with md.If(i == n - 1):
                    md.d.sync += active.eq(0)
            with md.Else():
                md.d.sync += j.eq(j + 1)
        md.d.comb += [self.w_addr.eq(diag), self.dphi_addr.eq(i), self.chat_addr.eq(i),
                      self.z_addr.eq(j), s_rd.addr.eq(c)]
        hc = Signal.like(self.s_c)           # the host address, registered (S_PORT_LATENCY)
        md.d.sync += hc.eq(self.s_c)
        with md.If(~self.busy):
            md.d.comb += s_rd.addr.eq(hc)
        last = issue & (i == n - 1) & (j == q - 1)
        md.d.comb += self.s_rdata.eq(s_rd.data)
        # stage 1: u = W[i,i]·s + z << zsh
        u = Signal(signed(cfg.acc_widths["u"]))
        dphi2, chat2 = Signal(signed(fm.F.w)), Signal(signed(fm.C.w))
        chat3 = Signal(signed(fm.C.w))
        md.d.sync += [v1.eq(issue), c1.eq(c), v2.eq(v1), c2.eq(c1), v3.eq(v2), c3.eq(c2),
                      l1.eq(last), l2.eq(l1), l3.eq(l2),
                      u.eq(self.w_data * s_rd.data + (self.z_data << cfg.zterm_shift)),
                      dphi2.eq(self.dphi_data), chat2.eq(self.chat_data), chat3.eq(chat2)]
        # stage 2: s1 = RQ1(u); p = s1·φ'
        prod = Signal(signed(fm.S.w + fm.F.w))
        md.d.comb += rq1.i.eq(u)
        md.d.sync += prod.eq(rq1.o * dphi2)
        # stage 3: s = RQ2(p), written back; G = ĉ·s
        md.d.comb += rq2.i.eq(prod)
        with md.If(v3):
            md.d.comb += [s_wr.addr.eq(c3), s_wr.data.eq(rq2.o), s_wr.en.eq(1)]
        with md.Elif(self.s_we & ~self.busy):
            md.d.comb += [s_wr.addr.eq(hc), s_wr.data.eq(self.s_wdata), s_wr.en.eq(1)]
        if self.spram:                  # one port: one address, no read while writing
            addr = Signal.like(c)
            md.d.comb += [addr.eq(Mux(~self.busy, hc, Mux(v3, c3, c))),
                          s_rd.addr.eq(addr), s_wr.addr.eq(addr), s_rd.en.eq(~s_wr.en)]
        md.d.sync += [g_en.eq(v3), self.g_addr.eq(c3), self.g_data.eq(chat3 * rq2.o),
                      last4.eq(l3), self.done.eq(last4)]
        md.d.comb += self.g_en.eq(g_en)
        # saturation count: stage 2 (RQ1) and stage 3 (RQ2)
        md.d.sync += self.sat_inc.eq((rq1.clipped & v2) + (rq2.clipped & v3))
        return md
