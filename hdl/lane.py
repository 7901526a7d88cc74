"""One lane of the exact-RTRL sweep (docs/design.md §3.1 step 7): one multiplier, time-shared.

See :class:`Lane`, :func:`token_layout` and ``docs/hdl.md``.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..model.config import Config
from .dsp import Multiplier
from .memory import ports, ram
from .requant import Requantiser

__all__ = ["Lane", "token_layout", "chain_layout", "g_layout", "multiplier_width"]


def _bits(n: int) -> unsigned:
    """Unsigned shape holding 0..n-1 (at least one bit)."""
    return unsigned(max(1, (n - 1).bit_length()))


def multiplier_width(cfg: Config) -> int:
    """Width of the lane multiplier's streaming operand: W (P), ĉ (C) and, for tanh, φ' (F)
    all pass through it (for hardtanh φ' is a mask and never reaches the multiplier)."""
    fm = cfg.formats
    return max(fm.P.w, fm.C.w, fm.F.w if cfg.activation == "tanh" else 1)


def token_layout(cfg: Config) -> data.StructLayout:
    """The systolic token: what changes every cycle, and nothing else.

    ``w``: the multiplier's streaming operand (W[k, l] in a MAC slot, ĉ[k'] in a ĉ slot,
    φ'[k'] in a φ' slot; z[a] while z is copied before the stream). ``valid``, ``first``,
    ``last``: a MAC token and its place in the row (on a slot token ``first``/``last`` say
    whether the slot's row k' is row 0 / n-1 of its column). ``cs``/``ps``: ĉ slot / φ'
    slot. ``msk`` (hardtanh): φ'[k'] ≠ 0, on a ĉ slot. ``a``: local-buffer address
    (half·n + l) of a MAC token, or z address. ``k``: the row of a MAC token (for the
    e_i·z_j term). ``rs``: first token of a round (the lanes' column chain advances);
    ``ld``: start loading the next column; ``zwe``: ``w`` is z[a].
    """
    n, q, fm = cfg.n, cfg.q, cfg.formats
    fields = {"w": signed(max(multiplier_width(cfg), fm.H.w)), "valid": 1, "first": 1,
              "last": 1, "cs": 1}
    fields["ps" if cfg.activation == "tanh" else "msk"] = 1
    fields.update({"a": _bits(max(2 * n, q)), "k": _bits(n), "rs": 1, "ld": 1, "zwe": 1})
    return data.StructLayout(fields)


def chain_layout(cfg: Config, lanes: int) -> data.StructLayout:
    """The slow chain: a lane's column (i, j) in the current round, passed to the next lane
    (as the next column) once per round."""
    return data.StructLayout({"i": _bits(cfg.n + lanes // cfg.q + 2), "j": _bits(cfg.q)})


def g_layout(cfg: Config) -> data.StructLayout:
    """The G chain: a finished G[c] (``valid``, ``g``, signed ``acc_widths["g"]`` bits)
    travelling from lane to lane towards lane 0, the engine's output."""
    return data.StructLayout({"valid": 1, "g": signed(cfg.acc_widths["g"])})


class Lane(wiring.Component):
    """One lane of :class:`~rtrledit.hdl.sweep.SweepEngine`: **one** multiplier.

    The lane owns one column c = i·q + j of S per round (its S bank lives in the engine)
    and is output-stationary over the rows k. Its single multiplier computes, for every
    token that reaches ``tok_o``: ``tok_o.w × B`` with

    * B = the column entry S[l, c] from the local buffer (MAC slot, ``valid``): the
      products of row k are summed into u[k] (exact, ``acc_widths["u"]`` bits, the first
      with the e_i·z_j term if k = i);
    * B = s1 = RQ1(u[k']) (φ' slot, tanh): RQ2 of the product is S_new[k'];
    * B = S_new[k'] (ĉ slot): the product ĉ[k']·S_new[k'] is added into G; in the same
      cycle S_new[k'] is written back into the bank. For hardtanh S_new[k'] is
      ``msk ? s1 : 0``: RQ(s1·2^f_F, f_S + f_F → S) is s1 exactly (the rounding offset of
      floor, half_up and half_even is below 2^f_F, and s1 already fits S: no saturation),
      and RQ(0) = 0, so the mask gives the model's bits without a product or an RQ2.

    A row of the stream is n MAC tokens and then the slots (``slots``: 1 for hardtanh,
    2 for tanh); the slot of row r serves an earlier row r − lag, because the sum of a
    row is ready only :attr:`sum_latency` cycles after its last MAC token.

    Latencies (cycles; a token is "at" the lane when it is on ``tok_i``):

    * :attr:`forward_latency` = 1: ``tok_i`` → ``tok_o`` (the systolic register).
    * :attr:`sum_latency` = 3: from the last MAC token of a row to the earliest slot
      token that may use s1 of that row (acc after 3, RQ1 into s1 after 4; a slot's
      operand is read on ``tok_o``, one cycle after ``tok_i``).
    * :attr:`rq2_latency` = 2 (tanh): from a φ' slot to the earliest ĉ slot that may use
      its S_new (product after 2, RQ2 into S_new after 3).
    * :attr:`latency` = 4: from a ĉ slot to ``go`` (the G sum, when the slot was the
      column's last row).
    * :attr:`g_forward_latency` = 1: ``gi`` → ``go``. The G chain runs against the
      token stream (lane p + 1 → p → … → 0): lane p's G leaves lane 0's ``go``
      2p + :attr:`latency` cycles after lane 0's ĉ slot of the same row, so two G of one
      round never meet; a G of the next round does not meet one of this round if a round
      lasts at least 2L − 1 cycles (:func:`~rtrledit.hdl.sweep.schedule` pads it). A G
      arriving on ``gi`` in the cycle the lane finishes its own is lost (the
      ``g_collide`` mutation of the schedule shows the tests see it).
    * s1 of a row is overwritten :attr:`sum_latency` + 1 cycles after the next row's last
      MAC token, S_new :attr:`rq2_latency` + 1 after the next φ' slot: the schedule
      (:func:`~rtrledit.hdl.sweep.schedule`) places the slots within those windows.

    Other ports: ``ci``/``co``: the slow column chain (``co`` = the column after this
    lane's, taken by the next lane on its ``rs`` token); bank side: ``ld_addr`` (loader
    read address, words in order 0, 1, …: column t at n·t), ``ld_data`` (the bank's read
    data, one cycle later), ``ld_rd`` (the loader reads this cycle), ``wb``/``wb_addr``/
    ``wb_data`` (write-back, in order 0, 1, …, one per row); ``gi``/``go``: the G chain
    (:func:`g_layout`; tie lane L − 1's ``gi`` to 0). With ``single_port`` the
    loader waits while ``wb`` is 1. ``sat``: RQ saturations (registered, 0..2).

    Resources: one ``multiplier_width(cfg)`` × w_S multiplier; the u accumulator; the G
    accumulator; RQ1 (and RQ2 for tanh); a local buffer (2n × w_S) and a z copy
    (q × w_H) RAM; registers: the token, s1 (and S_new, tanh), the column chain (i, j),
    the loader and write-back counters.

    Parameters
    ----------
    cfg : Config
    lanes : int
        Lanes of the engine (sizes the column chain).
    may_idle : bool
        The lane's column can be past the last one (c ≥ n·q) in the last round; then its
        saturations and G are suppressed (its write-backs go to unused bank words).
    single_port : bool
        The bank has one port (the loader waits for write-backs).
    mutation : str, optional
        Test-only deliberate faults (see ``tests/hdl/test_lane_slots.py``):
        ``"no_stall"``: the single-port loader does not wait.
    family : str, optional
        The FPGA family (``"ice40"``, ``"ecp5"``): the multiplier is its DSP primitive
        (:class:`~rtrledit.hdl.dsp.Multiplier`; same latency, so the same schedule);
        None: behavioural.
    """

    forward_latency = 1
    sum_latency = 3
    rq2_latency = 2
    latency = 4
    g_forward_latency = 1

    @staticmethod
    def slots_for(cfg: Config) -> int:
        """Multiplier slots per row besides the n MACs: ĉ, and φ' for tanh."""
        return 2 if cfg.activation == "tanh" else 1

    @staticmethod
    def rqs(cfg: Config) -> int:
        """Requantisers that can saturate (RQ1; RQ2 for tanh): the most ``sat`` can be."""
        return 2 if cfg.activation == "tanh" else 1

    def __init__(self, cfg: Config, lanes: int, may_idle: bool = True,
                 single_port: bool = False, mutation: str | None = None,
                 family: str | None = None):
        self.cfg, self.may_idle, self.single_port = cfg, bool(may_idle), bool(single_port)
        self.family = family
        self.lanes = lanes
        self.mutation = mutation
        self.tanh = cfg.activation == "tanh"
        #: slots per row after the n MAC tokens: ĉ (and φ' for tanh)
        self.slots = self.slots_for(cfg)
        fm = cfg.formats
        self.g_width = cfg.acc_widths["g"]
        nT = max(2, cfg.n * -(-cfg.n * cfg.q // lanes))
        self.addr_shape = _bits(nT)
        super().__init__({
            "tok_i": In(token_layout(cfg)), "tok_o": Out(token_layout(cfg)),
            "ci": In(chain_layout(cfg, lanes)), "co": Out(chain_layout(cfg, lanes)),
            "ld_addr": Out(self.addr_shape), "ld_rd": Out(1), "ld_data": In(signed(fm.S.w)),
            "wb": Out(1), "wb_addr": Out(self.addr_shape), "wb_data": Out(signed(fm.S.w)),
            "gi": In(g_layout(cfg)), "go": Out(g_layout(cfg)),
            "sat": Out(range(self.rqs(cfg) + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fm = self.cfg, self.cfg.formats
        n, q = cfg.n, cfg.q
        wS, wF, wC, wP = fm.S.w, fm.F.w, fm.C.w, fm.P.w
        wA = multiplier_width(cfg)
        wrap = cfg.overflow == "wrap"
        ti, to = self.tok_i, self.tok_o
        m.d.sync += to.eq(ti)                                   # the systolic register

        buf, zm = ram(signed(wS), 2 * n), ram(signed(fm.H.w), q)
        m.submodules.buf, m.submodules.z = buf, zm
        buf_rd, buf_wr = ports(m, buf)
        zm_rd, zm_wr = ports(m, zm)

        # ---- the slow chain: this round's column (i, j), loaded once per round
        ci = Signal(chain_layout(cfg, self.lanes)["i"].shape, name="col_i")
        cj = Signal(_bits(q), name="col_j")
        with m.If(ti.rs):
            m.d.sync += [ci.eq(self.ci.i), cj.eq(self.ci.j)]
        wrapj = cj == q - 1
        m.d.comb += [self.co.i.eq(ci + wrapj), self.co.j.eq(Mux(wrapj, 0, cj + 1))]
        act = (ci < n) if self.may_idle else Const(1)

        # ---- z copy: written while z streams by, read at this round's j
        m.d.comb += [zm_wr.addr.eq(to.a), zm_wr.data.eq(to.w[:fm.H.w].as_signed()),
                     zm_wr.en.eq(to.zwe), zm_rd.addr.eq(cj)]
        zsel = Signal()
        m.d.sync += zsel.eq(to.valid & to.first & (to.k == ci))
        init = Mux(zsel, zm_rd.data << cfg.zterm_shift, 0)

        # ---- post-processing registers (s1, S_new) and their column-activity bits
        s1 = Signal(signed(wS))
        s1_act = Signal()
        act_row = Signal()
        with m.If(to.valid & to.last):
            m.d.sync += act_row.eq(act)
        if self.tanh:
            snew, snew_act, pact = Signal(signed(wS)), Signal(), Signal()
            with m.If(to.ps):
                m.d.sync += pact.eq(s1_act)
            cs_b, cs_act = snew, snew_act
        else:
            cs_b, cs_act = Mux(to.msk, s1, 0), s1_act

        # ---- the one multiplier: stream operand × (buffer | s1 | S_new)
        m.d.comb += buf_rd.addr.eq(ti.a)
        B = Signal(signed(wS))
        if self.tanh:
            m.d.comb += B.eq(Mux(to.cs, cs_b, Mux(to.ps, s1, buf_rd.data)))
        else:
            m.d.comb += B.eq(Mux(to.cs, cs_b, buf_rd.data))
        m.submodules.mul = mul = Multiplier(wA, wS, self.family)    # product registered
        m.d.comb += [mul.a.eq(to.w[:wA].as_signed()), mul.b.eq(B)]
        prod = mul.p
        vm, fm_, lm, gm, gz, gl, pm = (Signal(name=nm) for nm in
                                       ("vm", "fm", "lm", "gm", "gz", "gl", "pm"))
        m.d.sync += [vm.eq(to.valid), fm_.eq(to.first), lm.eq(to.last),
                     gm.eq(to.cs), gz.eq(to.cs & to.last), gl.eq(to.last & cs_act)]
        if self.tanh:
            m.d.sync += pm.eq(to.ps)

        # ---- u accumulator (exact), RQ1 into s1
        acc = Signal(signed(cfg.acc_widths["u"]))
        done = Signal()
        with m.If(vm):
            m.d.sync += acc.eq(Mux(fm_, init, acc) + prod[:wP + wS].as_signed())
        m.d.sync += done.eq(vm & lm)
        rq1 = Requantiser(cfg.acc_widths["u"], fm.P.f, wS, cfg.r_sens, wrap)
        m.submodules.rq1 = rq1
        clip1 = Signal()
        m.d.comb += rq1.i.eq(acc)
        with m.If(done):
            m.d.sync += [s1.eq(rq1.o), s1_act.eq(act_row)]
        m.d.sync += clip1.eq(rq1.clipped & done & act_row)

        # ---- tanh: RQ2 of φ'·s1 into S_new
        clip2 = Const(0)
        if self.tanh:
            rq2 = Requantiser(wS + wF, fm.F.f, wS, cfg.r_sens, wrap)
            m.submodules.rq2 = rq2
            clip2 = Signal()
            m.d.comb += rq2.i.eq(prod[:wS + wF].as_signed())
            with m.If(pm):
                m.d.sync += [snew.eq(rq2.o), snew_act.eq(pact)]
            m.d.sync += clip2.eq(rq2.clipped & pm & pact)
        m.d.comb += self.sat.eq(clip1 + clip2)

        # ---- write-back (in the ĉ slot) and G
        wb_addr = Signal(self.addr_shape)
        m.d.comb += [self.wb.eq(to.cs & cs_act), self.wb_data.eq(B),     # B is S_new in a ĉ slot
                     self.wb_addr.eq(wb_addr)]
        # G restarts from 0 by the flip-flops' synchronous reset, in the cycle after a
        # column's last ĉ product (active or not), when G leaves on ``go``: no multiplexer
        # in front of the adder. The next ĉ slot is a row (n + slots cycles) later.
        gacc = Signal(signed(self.g_width))
        gv, gclr = Signal(), Signal()
        with m.If(gclr):
            m.d.sync += gacc.eq(0)
        with m.Elif(gm):
            m.d.sync += gacc.eq(gacc + prod[:wS + wC].as_signed())
        m.d.sync += [gv.eq(gm & gl), gclr.eq(gm & gz)]
        with m.If(gv):                                          # own G, else pass the chain on
            m.d.sync += [self.go.valid.eq(1), self.go.g.eq(gacc)]
        with m.Else():
            m.d.sync += self.go.eq(self.gi)

        # ---- loader: the next column, bank -> the other buffer half
        ld_on, ld_half, ld_v1 = Signal(), Signal(), Signal()
        ld_cnt = Signal(range(max(n, 2)))
        ld_addr = Signal(self.addr_shape)
        ld_wa1 = Signal(range(2 * n))
        ld_go = Signal()
        stall = self.single_port and self.mutation != "no_stall"
        m.d.comb += ld_go.eq(ld_on & ~self.wb if stall else ld_on)
        clr = to.ld & ~to.valid                                 # the preload's load: a new sweep
        with m.If(to.cs):
            m.d.sync += wb_addr.eq(wb_addr + 1)
        with m.If(ld_go):
            m.d.sync += [ld_cnt.eq(ld_cnt + 1), ld_addr.eq(ld_addr + 1)]
            with m.If(ld_cnt == n - 1):
                m.d.sync += [ld_on.eq(0), ld_half.eq(~ld_half)]
        with m.If(to.ld):
            m.d.sync += [ld_on.eq(1), ld_cnt.eq(0)]
        with m.If(clr):
            m.d.sync += [ld_addr.eq(0), wb_addr.eq(0), ld_half.eq(0)]
        m.d.sync += [ld_v1.eq(ld_go), ld_wa1.eq(Mux(ld_half, n + ld_cnt, ld_cnt))]
        m.d.comb += [self.ld_addr.eq(ld_addr), self.ld_rd.eq(ld_go),
                     buf_wr.addr.eq(ld_wa1), buf_wr.data.eq(self.ld_data), buf_wr.en.eq(ld_v1)]
        return m
