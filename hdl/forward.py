"""The forward pass of one RTRL step (docs/design.md §3.1 steps 1-6) on one multiplier.

See :class:`ForwardUnit`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..model.config import SAT_NAMES, Config
from ..model.fixed import tanh_table
from .dsp import Multiplier
from .memory import ports, ram
from .requant import Requantiser

__all__ = ["ForwardUnit", "forward_cycles", "bits", "SAT_INDEX"]

SAT_INDEX = {name: i for i, name in enumerate(SAT_NAMES)}


def bits(count: int) -> unsigned:
    """Unsigned shape for indices 0..count-1 (at least one bit)."""
    return unsigned(max(1, (count - 1).bit_length()))


def forward_cycles(cfg: Config) -> int:
    """Cycles from ``start`` to ``done`` of :class:`ForwardUnit`."""
    n, p, q = cfg.n, cfg.p, cfg.q
    return q + n * q + 2 * n * p + 17


class ForwardUnit(wiring.Component):
    """Steps 1-6 of §3.1: z, a = Θz, h = φ(a), φ', y = Vh + c, e = y − d, ĉ = Vᵀe.

    One multiply-accumulate, used in turn for the three matrix-vector products. The unit
    owns small memories for z (q words), h (n), φ' (n) and ĉ (n) and exposes read ports on
    them for the sweep, the update and the host; Θ = [W | U | b], V and c live in the core
    and are read through synchronous read ports (address in cycle t, data in cycle t+1):
    W as n×n (k·n + l, the layout the sweep reads) and [U | b] as n×(m+1). Every address
    comes from a counter (no multiplier is spent on address arithmetic).

    Phases, after ``start``:

    - Z (q cycles): z = [h_prev; RQ(x, f_X → H, r_fwd); 2^f_H];
    - A (n rows of q terms): a[i] = RQ(Σ_j Θ[i,j] z[j]); h[i], φ'[i] written into the
      h and φ' memories (tanh: from the table ROM, φ' = RQ(2^(2 f_H) − h², 2 f_H → F) with
      a second, small multiplier);
    - Y (p rows of n terms): y[o] = RQ(c[o]·2^f_H + Σ_k V[o,k] h[k]); e[o] = sat_Y(y[o] − d[o]);
    - C (n rows of p terms): ĉ[k] = RQ(Σ_o V[o,k] e[o]).

    Pipeline of one term: stage 0 addresses; stage 1 read data, the operands into the
    multiplier (:class:`~rtrledit.hdl.dsp.Multiplier`, product registered); stage m
    accumulate; stage 2 requantise a row's sum; stage 3 write h, φ', y, e. The 4-cycle
    drain between phases covers it (h of phase A is written before phase Y reads it).

    Latency: q + n·q + p·n + n·p + 17 cycles from ``start`` to ``done``.
    Resources: one signed multiplier (max(w_P, w_O) × max(w_H, w_Y) bits; with
    ``family`` the DSP primitive when the operands fit one block) and an
    accumulator as wide as the widest exact sum of the phases; tanh adds a w_H × w_H
    multiplier and a ROM of 2^tanh_bits × w_H; four small RAMs; up to seven requantisers
    (a, y and ĉ share one where their shift and width agree).

    ``family`` (``"ice40"``, ``"ecp5"`` or None): the FPGA family, for the multiplier;
    tanh's φ' multiplier stays behavioural.

    Ports
    -----
    start, busy, done
        ``start`` (pulse, while idle) begins a step with the sample on ``x``/``d`` (held
        by the owner until ``done``); ``done`` pulses when ĉ is complete.
    x, d
        The sample (format X) and target (format Y).
    w_addr/w_data, u_addr/u_data, v_addr/v_data, c_addr/c_data
        Read ports into W (k·n + l), [U | b] (i·(m+1) + j − n), V (o·n + k) and c (o).
    z_addr/z_data, dphi_addr/dphi_data, chat_addr/chat_data, h_addr/h_data
        Read ports (1-cycle latency) on the unit's memories, valid while idle.
    h_waddr, h_wdata, h_we
        Write port into h while idle (host writes, state reset).
    y, e
        This step's outputs and errors (format Y), valid from ``done`` until the next start.
    sat_inc
        Per cycle, 1 for each quantity that saturated (index of :data:`SAT_NAMES`), one
        cycle after its requantiser; all of a step's before ``done``.
    """

    def __init__(self, cfg: Config, family: str | None = None) -> None:
        self.cfg, self.family = cfg, family
        fm, n, m, p, q = cfg.formats, cfg.n, cfg.m, cfg.p, cfg.q
        acc = max(cfg.acc_widths[k] for k in ("a", "y", "chat"))
        self.acc_width = acc
        #: cycles from ``start`` to ``done``
        self.cycles = forward_cycles(cfg)
        #: hardware multipliers (DSP blocks): the MAC, and tanh's φ' = 1 − h² product
        self.multipliers = 2 if cfg.activation == "tanh" else 1
        super().__init__({
            "start": In(1), "busy": Out(1), "done": Out(1),
            "x": In(data.ArrayLayout(signed(fm.X.w), m)),
            "d": In(data.ArrayLayout(signed(fm.Y.w), p)),
            "w_addr": Out(bits(n * n)), "w_data": In(signed(fm.P.w)),
            "u_addr": Out(bits(n * (m + 1))), "u_data": In(signed(fm.P.w)),
            "v_addr": Out(bits(p * n)), "v_data": In(signed(fm.O.w)),
            "c_addr": Out(bits(p)), "c_data": In(signed(fm.O.w)),
            "z_addr": In(bits(q)), "z_data": Out(signed(fm.H.w)),
            "dphi_addr": In(bits(n)), "dphi_data": Out(signed(fm.F.w)),
            "chat_addr": In(bits(n)), "chat_data": Out(signed(fm.C.w)),
            "h_addr": In(bits(n)), "h_data": Out(signed(fm.H.w)),
            "h_waddr": In(bits(n)), "h_wdata": In(signed(fm.H.w)), "h_we": In(1),
            "y": Out(data.ArrayLayout(signed(fm.Y.w), p)),
            "e": Out(data.ArrayLayout(signed(fm.Y.w), p)),
            "sat_inc": Out(len(SAT_NAMES)),
        })

    def elaborate(self, platform) -> Module:
        cfg, fm = self.cfg, self.cfg.formats
        n, m, p, q = cfg.n, cfg.m, cfg.p, cfg.q
        wrap = cfg.overflow == "wrap"
        r = cfg.r_fwd
        md = Module()

        # ---- memories owned by the unit
        zmem, hmem = ram(signed(fm.H.w), q), ram(signed(fm.H.w), n)
        dmem, cmem = ram(signed(fm.F.w), n), ram(signed(fm.C.w), n)
        md.submodules.zmem, md.submodules.hmem = zmem, hmem
        md.submodules.dmem, md.submodules.cmem = dmem, cmem
        z_rd, z_wr = ports(md, zmem)
        h_rd, h_wr = ports(md, hmem)
        d_rd, d_wr = ports(md, dmem)
        c_rd, c_wr = ports(md, cmem)
        md.d.comb += [self.z_data.eq(z_rd.data), self.h_data.eq(h_rd.data),
                      self.dphi_data.eq(d_rd.data), self.chat_data.eq(c_rd.data),
                      d_rd.addr.eq(self.dphi_addr), c_rd.addr.eq(self.chat_addr)]

        # ---- requantisers (combinational)
        def rq(name, in_w, f_in, out):
            u = Requantiser.from_formats(in_w, f_in, out, r, wrap)
            md.submodules[name] = u
            return u
        # a, y and ĉ are all requantised from the accumulator: one requantiser for each
        # distinct (shift, width) among them (the default formats give a and y the same)
        of_acc: dict[tuple[int, int], Requantiser] = {}

        def rq_acc(name, f_in, out):
            key = (f_in - out.f, out.w)
            if key not in of_acc:
                of_acc[key] = rq(name, self.acc_width, f_in, out)
            return of_acc[key]
        rq_x = rq("rq_x", fm.X.w, fm.X.f, fm.H)
        rq_a = rq_acc("rq_a", fm.P.f + fm.H.f, fm.A)
        rq_h = rq("rq_h", fm.A.w, fm.A.f, fm.H)
        rq_y = rq_acc("rq_y", fm.O.f + fm.H.f, fm.Y)
        rq_e = Requantiser(fm.Y.w + 1, 0, fm.Y.w, "floor", wrap)
        md.submodules.rq_e = rq_e
        rq_c = rq_acc("rq_c", fm.O.f + fm.Y.f, fm.C)
        tanh = cfg.activation == "tanh"
        if tanh:
            rq_f = rq("rq_f", 2 * fm.H.w + 1, 2 * fm.H.f, fm.F)

        # ---- sequencing: phase, row, term counters (stage 0 issues reads)
        PZ, PA, PY, PC = range(4)
        phase = Signal(2)
        row = Signal(range(max(n, p, q) + 1))
        term = Signal(range(max(n, p, q) + 1))
        active = Signal()      # stage 0 issues an item this cycle
        drain = Signal(range(8))
        rows = Array([Const(q), Const(n), Const(p), Const(n)])
        terms = Array([Const(1), Const(q), Const(n), Const(p)])
        last_row = row == rows[phase] - 1
        last_term = term == terms[phase] - 1

        # stage 1 / 2 / 3 bookkeeping (the item issued 1, 2, 3 cycles ago)
        # (stage m: the product registered in the multiplier, accumulated)
        v1, first1, last1 = Signal(), Signal(), Signal()
        vm, firstm, lastm = Signal(), Signal(), Signal()
        v2, v3 = Signal(), Signal()
        row1, rowm, row2, row3 = (Signal.like(row) for _ in range(4))
        term1 = Signal.like(term)
        ph1, phm, ph2, ph3 = Signal(2), Signal(2), Signal(2), Signal(2)

        md.d.comb += self.busy.eq(active | (drain != 0) | v1 | vm | v2 | v3)
        with md.If(self.start & ~self.busy):
            md.d.sync += [phase.eq(PZ), row.eq(0), term.eq(0), active.eq(1)]
        with md.Elif(active):
            with md.If(last_term):
                md.d.sync += term.eq(0)
                with md.If(last_row):
                    md.d.sync += [active.eq(0), drain.eq(4), row.eq(0)]
                with md.Else():
                    md.d.sync += row.eq(row + 1)
            with md.Else():
                md.d.sync += term.eq(term + 1)
        with md.Elif(drain != 0):
            md.d.sync += drain.eq(drain - 1)
            with md.If((drain == 1) & (phase != PC)):
                md.d.sync += [phase.eq(phase + 1), active.eq(1)]
        md.d.sync += self.done.eq((drain == 1) & (phase == PC))

        # stage 0: addresses, from counters: wa, ua run over W and [U | b] in row-major
        # order; va over V row-major (phase Y) or column-major (phase C: k + o·n)
        wa, ua = Signal.like(self.w_addr), Signal.like(self.u_addr)
        va, vbase = Signal.like(self.v_addr), Signal.like(self.v_addr)
        with md.If(self.start & ~self.busy):
            md.d.sync += [wa.eq(0), ua.eq(0), va.eq(0), vbase.eq(0)]
        with md.Elif(active):
            with md.If(phase == PA):
                with md.If(term < n):
                    md.d.sync += wa.eq(wa + 1)
                with md.Else():
                    md.d.sync += ua.eq(ua + 1)
            with md.If(phase == PY):
                md.d.sync += va.eq(Mux(last_term & last_row, 0, va + 1))
            with md.If(phase == PC):
                with md.If(last_term):
                    md.d.sync += [vbase.eq(vbase + 1), va.eq(vbase + 1)]
                with md.Else():
                    md.d.sync += va.eq(va + n)
        md.d.comb += [self.w_addr.eq(wa), self.u_addr.eq(ua), self.v_addr.eq(va),
                      self.c_addr.eq(row)]
        with md.Switch(phase):
            with md.Case(PZ):
                md.d.comb += h_rd.addr.eq(row)
            with md.Case(PA):
                md.d.comb += z_rd.addr.eq(term)
            with md.Case(PY):
                md.d.comb += h_rd.addr.eq(term)
        with md.If(~self.busy):
            md.d.comb += [h_rd.addr.eq(self.h_addr), z_rd.addr.eq(self.z_addr)]

        md.d.sync += [v1.eq(active), first1.eq(term == 0), last1.eq(last_term), row1.eq(row),
                      term1.eq(term), ph1.eq(phase),
                      vm.eq(v1), firstm.eq(first1), lastm.eq(last1), rowm.eq(row1), phm.eq(ph1),
                      v2.eq(vm & lastm), row2.eq(rowm), ph2.eq(phm),
                      v3.eq(v2), row3.eq(row2), ph3.eq(ph2)]

        # stage 1: the operands into the multiplier; stage m: accumulate its product
        x_arr = Array(self.x[k] for k in range(m))
        e_arr = Array(self.e[o] for o in range(p))
        y_arr = Array(self.y[o] for o in range(p))
        d_arr = Array(self.d[o] for o in range(p))
        a_op = Signal(signed(max(fm.P.w, fm.O.w)))
        b_op = Signal(signed(max(fm.H.w, fm.Y.w)))
        bias = Signal(signed(fm.O.w + fm.H.f + 1))
        with md.Switch(ph1):
            with md.Case(PA):
                md.d.comb += [a_op.eq(Mux(term1 < n, self.w_data, self.u_data)),
                              b_op.eq(z_rd.data)]
            with md.Case(PY):
                md.d.comb += [a_op.eq(self.v_data), b_op.eq(h_rd.data),
                              bias.eq(self.c_data << fm.H.f)]
            with md.Case(PC):
                md.d.comb += [a_op.eq(self.v_data), b_op.eq(e_arr[term1])]
        md.submodules.mul = mul = Multiplier.fitting(len(a_op), len(b_op), self.family)
        biasm = Signal.like(bias)
        md.d.comb += [mul.a.eq(a_op), mul.b.eq(b_op)]
        md.d.sync += biasm.eq(bias)
        acc = Signal(signed(self.acc_width))
        with md.If(vm):
            md.d.sync += acc.eq(Mux(firstm, biasm, acc) + mul.p)

        # stage 1 of phase Z: write z
        one_h = 1 << fm.H.f
        md.d.comb += rq_x.i.eq(x_arr[row1 - n])
        with md.If(v1 & (ph1 == PZ)):
            md.d.comb += [z_wr.addr.eq(row1), z_wr.en.eq(1)]
            with md.If(row1 < n):
                md.d.comb += z_wr.data.eq(h_rd.data)
            with md.Elif(row1 < n + m):
                md.d.comb += z_wr.data.eq(rq_x.o)
            with md.Else():
                md.d.comb += z_wr.data.eq(one_h)

        # stage 2: requantise the finished sum (a and y registered; h, φ', e from them in
        # stage 3, so that no two requantisers are in series)
        sat_bits = {name: Signal(name=f"sat_{name}") for name in ("x", "a", "h", "dphi", "y", "e", "chat")}
        a3, y3 = Signal(signed(fm.A.w)), Signal(signed(fm.Y.w))
        md.d.comb += [rq_a.i.eq(acc), rq_y.i.eq(acc), rq_c.i.eq(acc),
                      rq_h.i.eq(a3), rq_e.i.eq(y3 - d_arr[row3])]
        h_new, dphi_new = Signal(signed(fm.H.w)), Signal(signed(fm.F.w))
        with md.If(v1 & (ph1 == PZ) & (row1 >= n) & (row1 < n + m)):
            md.d.comb += sat_bits["x"].eq(rq_x.clipped)
        with md.If(v2):
            with md.Switch(ph2):
                with md.Case(PA):
                    md.d.comb += sat_bits["a"].eq(rq_a.clipped)
                    md.d.sync += a3.eq(rq_a.o)
                    if tanh:
                        rom = Memory(shape=signed(fm.H.w), depth=1 << cfg.tanh_bits,
                                     init=[int(v) for v in tanh_table(cfg)])
                        md.submodules.tanh_rom = rom
                        rom_rd = rom.read_port()
                        half = 1 << (cfg.tanh_bits - 1)
                        idx = rq_a.o >> cfg.tanh_shift
                        md.d.comb += rom_rd.addr.eq(
                            Mux(idx < -half, 0, Mux(idx > half - 1, 2 * half - 1, idx + half)))
                with md.Case(PY):
                    md.d.comb += sat_bits["y"].eq(rq_y.clipped)
                    md.d.sync += y3.eq(rq_y.o)
                with md.Case(PC):
                    md.d.comb += [sat_bits["chat"].eq(rq_c.clipped),
                                  c_wr.addr.eq(row2), c_wr.data.eq(rq_c.o), c_wr.en.eq(1)]
        # stage 3: write h and φ' (tanh: table output and h² requantised); y and e
        if not tanh:
            one_a = 1 << fm.A.f
            hv = rq_h.o
            md.d.comb += [h_new.eq(Mux(hv > one_h, one_h, Mux(hv < -one_h, -one_h, hv))),
                          dphi_new.eq(Mux((a3 > -one_a) & (a3 < one_a), 1 << fm.F.f, 0))]
            with md.If(v3 & (ph3 == PA)):
                md.d.comb += sat_bits["h"].eq(rq_h.clipped)
        with md.If(v3 & (ph3 == PY)):
            md.d.comb += sat_bits["e"].eq(rq_e.clipped)
            md.d.sync += [y_arr[row3].eq(y3), e_arr[row3].eq(rq_e.o)]
        if tanh:
            hh = Signal(signed(2 * fm.H.w + 1))
            md.d.comb += [h_new.eq(rom_rd.data), hh.eq((1 << (2 * fm.H.f)) - rom_rd.data * rom_rd.data),
                          rq_f.i.eq(hh), dphi_new.eq(rq_f.o)]
            with md.If(v3 & (ph3 == PA)):
                md.d.comb += sat_bits["dphi"].eq(rq_f.clipped)
        with md.If(v3 & (ph3 == PA)):
            md.d.comb += [h_wr.addr.eq(row3), h_wr.data.eq(h_new), h_wr.en.eq(1),
                          d_wr.addr.eq(row3), d_wr.data.eq(dphi_new), d_wr.en.eq(1)]
        with md.Elif(self.h_we & ~self.busy):
            md.d.comb += [h_wr.addr.eq(self.h_waddr), h_wr.data.eq(self.h_wdata), h_wr.en.eq(1)]
        # registered: the range checks end long paths (a sum through its rounding adder);
        # the last flag (ĉ, stage 2) still comes a cycle before ``done``
        md.d.sync += self.sat_inc.eq(Cat(sat_bits.get(name, Const(0, 1)) for name in SAT_NAMES))
        return md
