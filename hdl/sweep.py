"""The systolic sensitivity sweep: step 7 of DESIGN.md §3.1 (exact RTRL) in hardware.

See :class:`SweepEngine` and ``docs/hdl.md``.
"""

from __future__ import annotations


from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..model.config import Config
from .pe import PE
from .requant import Requantiser

__all__ = ["SweepEngine", "engine_signature", "MULTIPLIER_WIDTH", "schedule"]

#: Signed multiplier operand width per target (iCE40 SB_MAC16 16×16, ECP5 MULT18X18D 18×18).
MULTIPLIER_WIDTH = {"ice40": 16, "ecp5": 18}
#: Cycles from the last valid token leaving the controller to the last lane's G output,
#: for lane 0 (lane p adds p): source register, PE forward, product, accumulate,
#: RQ1, φ' product, RQ2 (write-back), ĉ product, G accumulate.
_TAIL = 9


def _bits(n: int) -> unsigned:
    """Unsigned shape holding 0..n-1 (at least one bit)."""
    return unsigned(max(1, (n - 1).bit_length()))


def _mul_const(v, k: int):
    """``v * k`` for a constant ``k >= 0`` as shifts and adds (keeps Yosys from spending a DSP)."""
    terms = [v << b for b in range(k.bit_length()) if (k >> b) & 1]
    if not terms:
        return v & 0
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def schedule(cfg: Config, lanes: int) -> dict[str, int]:
    """The static schedule of one sweep (all in clock cycles).

    ``T`` rounds (columns per lane, ``ceil(n·q / L)``); each round streams ``krows`` rows of
    ``rowlen`` cycles (``R = rowlen·krows`` cycles per round): ``rowlen = max(n, 3)`` because
    the lane's second multiplier is used twice per row, ``krows = max(n, ceil(max(L, 4) /
    rowlen))`` so that a round is never shorter than the chain (one G result per cycle) or
    than the 4 cycles the local-buffer reload needs. ``X0 = max(q, 4)`` cycles of preload
    (z copied into every lane, the first column loaded) precede the stream; ``cycles`` is the
    number of clock cycles from the cycle in which ``start`` is sampled to the cycle in which
    ``done`` is 1 (inclusive of the latter, exclusive of the former).
    """
    n, q = cfg.n, cfg.q
    nq = n * q
    L = lanes
    T = -(-nq // L)
    rowlen = max(n, 3)
    krows = max(n, -(-max(L, 4) // rowlen))
    R = rowlen * krows
    X0 = max(q, 4)
    last = (T - 1) * R + (n - 1) * rowlen + (n - 1)     # stream index of the last valid token
    cycles = X0 + last + 1 + _TAIL + L
    return dict(T=T, rowlen=rowlen, krows=krows, R=R, X0=X0, cycles=cycles,
                drain=_TAIL - 1 + L)


def engine_signature(cfg: Config, sat_inc_max: int) -> wiring.Signature:
    """The ports of a step-7 engine (this one and :class:`~rtrledit.hdl.snap1.Snap1Engine`),
    so the core drives either the same way; see :class:`SweepEngine` for their meaning.
    ``sat_inc_max``: the most saturations the engine reports in one cycle."""
    fm, n, q = cfg.formats, cfg.n, cfg.q
    return wiring.Signature({
        "start": In(1), "busy": Out(1), "done": Out(1),
        "w_addr": Out(_bits(n * n)), "w_data": In(signed(fm.P.w)),
        "dphi_addr": Out(_bits(n)), "dphi_data": In(signed(fm.F.w)),
        "chat_addr": Out(_bits(n)), "chat_data": In(signed(fm.C.w)),
        "z_addr": Out(_bits(q)), "z_data": In(signed(fm.H.w)),
        "g_en": Out(1), "g_addr": Out(_bits(n * q)), "g_data": Out(signed(cfg.acc_widths["g"])),
        "s_k": In(_bits(n)), "s_c": In(_bits(n * q)), "s_rdata": Out(signed(fm.S.w)),
        "s_wdata": In(signed(fm.S.w)), "s_we": In(1),
        "sat_inc": Out(range(sat_inc_max + 1)),
    })


class SweepEngine(wiring.Component):
    """Exact-RTRL sensitivity sweep (DESIGN.md §3.1 step 7) on a chain of ``lanes`` PEs.

    For every column c = i·q + j of S (S viewed as n × n·q)::

        u[k]      = Σ_l W[k,l]·S[l,c] + (k == i ? z[j] << zterm_shift : 0)
        S[k,c]   ← RQ(RQ(u[k], f_P+f_S → S, r_sens)·φ'[k], f_S+f_F → S, r_sens)
        G[c]      = Σ_k ĉ[k]·S_new[k,c]                       (exact, f_C + f_S)

    bit for bit as :func:`rtrledit.model.fixed._step`; every out-of-range result of either
    RQ adds 1 to the model's ``sat[SAT_S]``; ``sat_inc`` reports them.

    Mapping
    -------
    Lane p (PE p) owns columns c = p + L·t, t = 0..T-1 (T = ceil(n·q/L) rounds); its S
    bank (a RAM of n·T words, address t·n + k) holds those columns, so S bandwidth grows
    with L. Each lane has a double-buffered local column buffer (a RAM of 2n words): while
    round t computes on column t, the lane copies column t+1 from its bank into the other
    half. The lane is output-stationary over k: the controller streams W[k,l] row-major
    (with k, l, first/last flags, and φ'[k], ĉ[k], the round's bank base and column
    numbers riding along) into PE 0, and every PE forwards the token to the next through a
    register (systolic: nothing is broadcast; lane p sees the stream p cycles after lane 0).
    After the n tokens of row k, PE p holds u[k]; the lane requantises it (RQ1), multiplies
    by φ'[k], requantises (RQ2), writes S_new[k] back into its bank in place (the old value
    is already in the local buffer), multiplies it by ĉ[k] and adds the product into its
    G accumulator; after row n-1 it emits G[c]. Before the stream, the controller copies z
    (q words) down the chain into a per-lane z RAM.

    Each lane has **two multipliers**: the PE's W×S MAC and a second one time-shared
    between φ'[k]·s1 and ĉ[k]·S_new[k] (used twice per row, so a row lasts at least
    3 cycles: n = 1 and n = 2 are padded to rows of 3 cycles). For hardtanh, φ' ∈ {0, 1.0}
    and the φ' product with RQ2 gives the same bits as a mask would.

    Latency / throughput
    --------------------
    Cycles from ``start`` to ``done`` (see :func:`schedule`)::

        X0 + (T-1)·R + (n-1)·rowlen + n + 9 + L

    with T = ceil(nq/L), rowlen = max(n, 3), R = rowlen·max(n, ceil(max(L,4)/rowlen)),
    X0 = max(q, 4). For n ≥ 3 and L ≤ n²: R = n² and the count is
    ``T·n² + max(q, 4) + L + 9`` — i.e. n²·nq/L when L divides nq, plus O(q + L).

    Resources
    ---------
    2·L multipliers (2·L DSP blocks); per lane three RAMs: S bank (n·T × w_S), local
    buffer (2n × w_S), z copy (q × w_H); per lane an accumulator of ``acc_widths["u"]`` bits,
    a G accumulator of ``acc_widths["g"]`` bits, two requantisers, the token register (about
    w_P + w_F + w_C + w_H + 4·log2(nq) + 12 bits) and ~60 bits of row bookkeeping; one
    controller; an L-input OR multiplexer for G and an L-input adder for the saturation count.

    Interfaces
    ----------
    Control: ``start`` (pulse, sampled when idle), ``busy`` (1 from the cycle after start up
    to and including the ``done`` cycle), ``done`` (1-cycle pulse after the last G and S
    write). Operand read ports (synchronous: the engine drives ``*_addr`` in cycle c, the
    owner must present the word in ``*_data`` in cycle c+1; they are read only while busy):
    ``w_addr``/``w_data`` (W, address k·n + l, format P), ``dphi_addr``/``dphi_data`` (φ',
    address k, format F), ``chat_addr``/``chat_data`` (ĉ, address k, format C),
    ``z_addr``/``z_data`` (z, address j, format H). W, φ', ĉ, z must not change during a
    sweep. G output (write port): ``g_en`` 1 for one cycle per column, ``g_addr`` = c =
    i·q + j, ``g_data`` = G[i, j] (signed ``acc_widths["g"]`` bits, f_C + f_S); one column
    per cycle at most. S host port (only while idle): ``s_k``, ``s_c`` (entry S[k, c]),
    ``s_rdata`` (valid the cycle after the address), ``s_wdata``, ``s_we``. Saturation:
    ``sat_inc`` (0 .. :attr:`sat_inc_max`): how many RQs saturated in this cycle, the
    core counts them.

    Parameters
    ----------
    cfg : Config
        ``approx`` must be ``"exact"`` (snap1 is not implemented in this engine).
    lanes : int
        Number of PEs, 1 ≤ lanes ≤ n·q.
    target : str, optional
        ``"ice40"`` or ``"ecp5"``: refuse multiplier operands (formats P, S, F, C) wider
        than the target's DSP (16 or 18 bits).
    spram : bool, optional
        Single-port S banks (one address for the column loader, the write-back and the
        host port; the loader waits while a write-back uses the port, which its slack of
        n² cycles per column absorbs: the cycle count is unchanged), named ``spram<p>``
        and marked ``ram_style = "huge"`` so that Yosys maps them to the UP5K's
        SB_SPRAM256KA. Their power-up content is undefined: the core clears S after
        reset. By default (None) on when ``target == "ice40"``, at most 4 lanes, S at
        most 16 bits, and a bank of more than 4 EBR (16 kbit) and at most 16K words.

    Raises
    ------
    ValueError
        naming the parameter.
    """

    def __init__(self, cfg: Config, lanes: int, target: str | None = None,
                 spram: bool | None = None):
        if not isinstance(cfg, Config):
            raise ValueError(f"SweepEngine parameter 'cfg' must be a Config, got {cfg!r}")
        if cfg.approx != "exact":
            raise ValueError("SweepEngine parameter 'cfg.approx': only 'exact' is implemented "
                             f"by this engine, got {cfg.approx!r} (snap1 needs its own datapath)")
        n, q = cfg.n, cfg.q
        nq = n * q
        if not isinstance(lanes, int) or isinstance(lanes, bool) or not 1 <= lanes <= nq:
            raise ValueError(f"SweepEngine parameter 'lanes' must be an integer in 1..n*q = "
                             f"1..{nq}, got {lanes!r}")
        if target is not None:
            if target not in MULTIPLIER_WIDTH:
                raise ValueError(f"SweepEngine parameter 'target' must be None or one of "
                                 f"{', '.join(MULTIPLIER_WIDTH)}, got {target!r}")
            mw = MULTIPLIER_WIDTH[target]
            for letter in "PSFC":
                w = getattr(cfg.formats, letter).w
                if w > mw:
                    raise ValueError(
                        f"SweepEngine parameter 'cfg.formats.{letter}': width {w} exceeds the "
                        f"{target} multiplier operand ({mw} bits signed)")
        self.cfg, self.lanes, self.target = cfg, lanes, target
        self.n, self.q, self.nq = n, q, nq
        sch = schedule(cfg, lanes)
        self.T, self.rowlen, self.krows, self.R, self.X0 = (
            sch["T"], sch["rowlen"], sch["krows"], sch["R"], sch["X0"])
        self.cycles = sch["cycles"]
        self._drain = sch["drain"]
        fm = cfg.formats
        self.g_width = cfg.acc_widths["g"]
        self.bank_depth = n * self.T
        L = lanes
        if spram is None:
            spram = (target == "ice40" and L <= 4 and fm.S.w <= 16
                     and 4 * 4096 < self.bank_depth * fm.S.w and self.bank_depth <= 16384)
        #: single-port S banks (SPRAM on iCE40), see the ``spram`` parameter
        self.spram = bool(spram)
        #: the S bank of each lane (column c = p + L·t of S at words n·t .. n·t + n - 1)
        self.banks = [Memory(shape=signed(fm.S.w), depth=max(self.bank_depth, 2), init=[],
                             attrs={"ram_style": "huge"} if self.spram else None)
                      for _ in range(L)]
        self.token_layout = data.StructLayout({
            "w": signed(fm.P.w), "valid": 1, "first": 1, "last": 1,
            "k": _bits(self.krows), "l": _bits(self.rowlen),
            "dphi": signed(fm.F.w), "chat": signed(fm.C.w),
            "tbase": _bits(self.bank_depth + n), "tpar": 1,
            "c0": _bits(nq + L), "i0": _bits(n + 1), "j0": _bits(q),
            "ld": 1, "ldbase": _bits(self.bank_depth + n), "ldhalf": 1,
            "zwe": 1, "zaddr": _bits(q), "zval": signed(fm.H.w),
        })
        #: the most saturations reported in one cycle (two RQs per lane)
        self.sat_inc_max = 2 * lanes
        super().__init__(engine_signature(cfg, self.sat_inc_max))

    # ------------------------------------------------------------------ elaboration
    def elaborate(self, platform):
        m = Module()
        cfg, fm = self.cfg, self.cfg.formats
        n, q, nq, L, T = self.n, self.q, self.nq, self.lanes, self.T
        rowlen, krows, X0 = self.rowlen, self.krows, self.X0
        wS, wF, wC = fm.S.w, fm.F.w, fm.C.w
        zsh = cfg.zterm_shift
        wrap = cfg.overflow == "wrap"
        tok_shape = self.token_layout

        # ---------------------------------------------------------------- controller
        x = Signal(range(X0 + 1))
        l = Signal(range(rowlen))
        k = Signal(range(krows))
        t = Signal(range(T))
        tbase = Signal(self.token_layout["tbase"].shape)
        tpar = Signal()
        c0 = Signal(self.token_layout["c0"].shape)
        i0 = Signal(self.token_layout["i0"].shape)
        j0 = Signal(self.token_layout["j0"].shape)
        waddr = Signal(range(n * n + 1))
        drain = Signal(range(self._drain + 1))

        # The token's control fields are computed here; its data fields (w, φ', ĉ, z) come
        # from the read ports one cycle later.
        data_fields = ("w", "dphi", "chat", "zval")
        ctrl_layout = data.StructLayout({name: f.shape for name, f in tok_shape
                                         if name not in data_fields})
        emit = Signal(ctrl_layout)          # control part of the token, this cycle
        src = Signal(ctrl_layout)           # control part, one cycle later (with read data)
        m.d.comb += [
            self.w_addr.eq(waddr),
            self.dphi_addr.eq(k),
            self.chat_addr.eq(k),
            self.z_addr.eq(x),
        ]
        last_valid = (t == T - 1) & (k == n - 1) & (l == n - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [x.eq(0), l.eq(0), k.eq(0), t.eq(0), tbase.eq(0), tpar.eq(0),
                                 c0.eq(0), i0.eq(0), j0.eq(0), waddr.eq(0)]
                    m.next = "PRE"
            with m.State("PRE"):
                m.d.comb += [
                    self.busy.eq(1),
                    emit.zwe.eq(x < q), emit.zaddr.eq(x),
                    emit.ld.eq(x == 0), emit.ldbase.eq(0), emit.ldhalf.eq(0),
                ]
                m.d.sync += x.eq(x + 1)
                with m.If(x == X0 - 1):
                    m.next = "STREAM"
            with m.State("STREAM"):
                valid = (l < n) & (k < n)
                m.d.comb += [
                    self.busy.eq(1),
                    emit.valid.eq(valid), emit.first.eq(l == 0), emit.last.eq(l == n - 1),
                    emit.k.eq(k), emit.l.eq(l),
                    emit.tbase.eq(tbase), emit.tpar.eq(tpar),
                    emit.c0.eq(c0), emit.i0.eq(i0), emit.j0.eq(j0),
                    emit.ld.eq((l == 0) & (k == 0) & (t != T - 1)),
                    emit.ldbase.eq(tbase + n), emit.ldhalf.eq(~tpar),
                ]
                with m.If(valid):
                    m.d.sync += waddr.eq(waddr + 1)
                m.d.sync += l.eq(l + 1)
                with m.If(l == rowlen - 1):
                    m.d.sync += [l.eq(0), k.eq(k + 1)]
                    with m.If(k == krows - 1):
                        # next round: column of lane 0 advances by L = (L//q)·q + L%q
                        jn = j0 + (L % q)
                        wrapj = jn >= q
                        m.d.sync += [
                            k.eq(0), t.eq(t + 1), tbase.eq(tbase + n), tpar.eq(~tpar),
                            c0.eq(c0 + L), waddr.eq(0),
                            j0.eq(Mux(wrapj, jn - q, jn)),
                            i0.eq(i0 + (L // q) + wrapj),
                        ]
                with m.If(last_valid):
                    m.d.sync += drain.eq(self._drain)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        m.d.sync += src.eq(emit)
        source = Signal(tok_shape)
        m.d.comb += [getattr(source, name).eq(getattr(src, name)) for name, _ in ctrl_layout]
        m.d.comb += [
            source.w.eq(self.w_data),
            source.dphi.eq(self.dphi_data),
            source.chat.eq(self.chat_data),
            source.zval.eq(self.z_data),
        ]

        # ---------------------------------------------------------------- host S port decode
        host_lane = Signal(range(L))
        host_base = Signal(range(self.bank_depth + 1))
        if L & (L - 1) == 0:
            b = L.bit_length() - 1
            m.d.comb += [host_lane.eq(self.s_c[:b] if b else 0),
                         host_base.eq(_mul_const(self.s_c >> b, n))]
        else:
            with m.Switch(self.s_c):
                for c in range(nq):
                    with m.Case(c):
                        m.d.comb += [host_lane.eq(c % L), host_base.eq((c // L) * n)]
        host_addr = Signal(range(self.bank_depth + n))
        m.d.comb += host_addr.eq(host_base + self.s_k)
        host_lane_q = Signal(range(L))
        m.d.sync += host_lane_q.eq(host_lane)

        # ---------------------------------------------------------------- lanes
        prev = source
        g_en_terms, g_addr_terms, g_data_terms, rdata_terms, sat_terms = [], [], [], [], []
        for p in range(L):
            pe = PE.for_config(cfg, tok_shape)
            m.submodules[f"pe{p}"] = pe
            m.d.comb += pe.tok_i.eq(prev)
            prev = pe.tok_o
            ti, to = pe.tok_i, pe.tok_o

            bank = self.banks[p]
            buf = Memory(shape=signed(wS), depth=2 * n, init=[])
            zm = Memory(shape=signed(fm.H.w), depth=q, init=[])
            m.submodules[f"spram{p}" if self.spram else f"bank{p}"] = bank
            m.submodules[f"buf{p}"] = buf
            m.submodules[f"z{p}"] = zm
            bank_rd, bank_wr = bank.read_port(), bank.write_port()
            buf_rd, buf_wr = buf.read_port(), buf.write_port()
            zm_rd, zm_wr = zm.read_port(), zm.write_port()

            # this lane's column in the round of the token at stage 0
            P1, P2 = p // q, p % q
            js = to.j0 + P2
            carry = js >= q
            j_l = Signal(range(q), name=f"j_{p}")
            i_l = Signal(range(n + P1 + 2), name=f"i_{p}")
            c_l = Signal(range(nq + 2 * L), name=f"c_{p}")
            act = Signal(name=f"active_{p}")
            m.d.comb += [
                j_l.eq(Mux(carry, js - q, js)),
                i_l.eq(to.i0 + P1 + carry),
                c_l.eq(to.c0 + p),
                act.eq(to.c0 < nq - p),
            ]

            # stage -1/0: local buffer read (address from the incoming token)
            m.d.comb += [
                buf_rd.addr.eq(Mux(ti.tpar, n + ti.l, ti.l)),
                pe.b.eq(buf_rd.data),
            ]
            # z copy: written by the preload tokens, read for the z term
            m.d.comb += [
                zm_wr.addr.eq(to.zaddr), zm_wr.data.eq(to.zval), zm_wr.en.eq(to.zwe),
                zm_rd.addr.eq(j_l),
            ]
            zsel = Signal(name=f"zsel_{p}")
            m.d.sync += zsel.eq(to.valid & to.first & (to.k == i_l))
            m.d.comb += pe.init.eq(Mux(zsel, zm_rd.data << zsh, 0))

            # loader: copy the column named by an ld token from the bank into the buffer
            ld_on = Signal(name=f"ld_on_{p}")
            ld_cnt = Signal(range(max(n, 2)), name=f"ld_cnt_{p}")
            ld_addr = Signal(range(self.bank_depth + n), name=f"ld_addr_{p}")
            ld_half = Signal(name=f"ld_half_{p}")
            ld_v1 = Signal(name=f"ld_v1_{p}")
            ld_wa1 = Signal(range(2 * n), name=f"ld_wa1_{p}")
            ld_go = Signal(name=f"ld_go_{p}")         # the loader reads this cycle
            wb = Signal(name=f"wb_{p}")               # a write-back this cycle
            m.d.comb += ld_go.eq(ld_on & ~wb if self.spram else ld_on)
            with m.If(to.ld):
                m.d.sync += [ld_on.eq(1), ld_cnt.eq(0), ld_addr.eq(to.ldbase),
                             ld_half.eq(to.ldhalf)]
            with m.Elif(ld_go):
                m.d.sync += [ld_cnt.eq(ld_cnt + 1), ld_addr.eq(ld_addr + 1)]
                with m.If(ld_cnt == n - 1):
                    m.d.sync += ld_on.eq(0)
            m.d.sync += [ld_v1.eq(ld_go), ld_wa1.eq(Mux(ld_half, n + ld_cnt, ld_cnt))]
            m.d.comb += [buf_wr.addr.eq(ld_wa1), buf_wr.data.eq(bank_rd.data),
                         buf_wr.en.eq(ld_v1)]

            # row bookkeeping, captured at stage 0 on the row's last token (held >= 3 cycles)
            h0_waddr = Signal(range(self.bank_depth + n), name=f"h0_waddr_{p}")
            h0_c = Signal(range(nq + 2 * L), name=f"h0_c_{p}")
            h0_act = Signal(name=f"h0_act_{p}")
            h0_dphi = Signal(signed(wF), name=f"h0_dphi_{p}")
            h0_chat = Signal(signed(wC), name=f"h0_chat_{p}")
            h0_first = Signal(name=f"h0_first_{p}")
            h0_lastrow = Signal(name=f"h0_lastrow_{p}")
            with m.If(to.valid & to.last):
                m.d.sync += [h0_waddr.eq(to.tbase + to.k), h0_c.eq(c_l), h0_act.eq(act),
                             h0_dphi.eq(to.dphi), h0_chat.eq(to.chat),
                             h0_first.eq(to.k == 0), h0_lastrow.eq(to.k == n - 1)]

            # post-processing pipeline: e2 (= pe.done) .. e7
            e3, e4, e5, e6, e7 = (Signal(name=f"e{s}_{p}") for s in range(3, 8))
            m.d.sync += [e3.eq(pe.done), e4.eq(e3), e5.eq(e4), e6.eq(e5), e7.eq(e6)]
            # stage 2 -> 3: RQ1
            rq1 = Requantiser(cfg.acc_widths["u"], fm.P.f, wS, cfg.r_sens, wrap)
            m.submodules[f"rq1_{p}"] = rq1
            s1 = Signal(signed(wS), name=f"s1_{p}")
            clip1 = Signal(name=f"clip1_{p}")
            m.d.comb += rq1.i.eq(pe.acc)
            m.d.sync += [s1.eq(rq1.o), clip1.eq(rq1.clipped & pe.done & h0_act)]
            # second multiplier, shared: stage 3 φ'·s1, stage 5 ĉ·S_new
            wM = max(wF, wC)
            ma = Signal(signed(wS), name=f"ma_{p}")
            mb = Signal(signed(wM), name=f"mb_{p}")
            mprod = Signal(signed(wS + wM), name=f"mprod_{p}")
            snew = Signal(signed(wS), name=f"snew_{p}")
            h3_waddr = Signal.like(h0_waddr, name=f"h3_waddr_{p}")
            h3_c = Signal.like(h0_c, name=f"h3_c_{p}")
            h3_act = Signal(name=f"h3_act_{p}")
            h3_chat = Signal(signed(wC), name=f"h3_chat_{p}")
            h3_first = Signal(name=f"h3_first_{p}")
            h3_lastrow = Signal(name=f"h3_lastrow_{p}")
            with m.If(e3):
                m.d.sync += [h3_waddr.eq(h0_waddr), h3_c.eq(h0_c), h3_act.eq(h0_act),
                             h3_chat.eq(h0_chat), h3_first.eq(h0_first),
                             h3_lastrow.eq(h0_lastrow)]
            m.d.comb += [ma.eq(Mux(e3, s1, snew)), mb.eq(Mux(e3, h0_dphi, h3_chat))]
            m.d.sync += mprod.eq(ma * mb)
            # stage 4 -> 5: RQ2
            rq2 = Requantiser(wS + wF, fm.F.f, wS, cfg.r_sens, wrap)
            m.submodules[f"rq2_{p}"] = rq2
            clip2 = Signal(name=f"clip2_{p}")
            m.d.comb += rq2.i.eq(mprod[:wS + wF].as_signed())
            m.d.sync += [snew.eq(rq2.o), clip2.eq(rq2.clipped & e4 & h3_act)]
            # stage 5: write back in place (bank write port; host writes when idle)
            busy = self.busy
            m.d.comb += wb.eq(e5 & h3_act)
            with m.If(busy):
                m.d.comb += [bank_wr.addr.eq(h3_waddr), bank_wr.data.eq(snew),
                             bank_wr.en.eq(wb), bank_rd.addr.eq(ld_addr)]
            with m.Else():
                m.d.comb += [bank_wr.addr.eq(host_addr), bank_wr.data.eq(self.s_wdata),
                             bank_wr.en.eq(self.s_we & (host_lane == p)),
                             bank_rd.addr.eq(host_addr)]
            if self.spram:              # one port: one address, no read while writing
                addr = Signal.like(h3_waddr, name=f"spram_addr_{p}")
                m.d.comb += [addr.eq(Mux(busy, Mux(wb, h3_waddr, ld_addr), host_addr)),
                             bank_wr.addr.eq(addr), bank_rd.addr.eq(addr),
                             bank_rd.en.eq(~bank_wr.en)]
            # stage 6: G accumulate; stage 7: G out
            gacc = Signal(signed(self.g_width), name=f"gacc_{p}")
            h6_c = Signal.like(h0_c, name=f"h6_c_{p}")
            h6_out = Signal(name=f"h6_out_{p}")
            with m.If(e6):
                m.d.sync += [gacc.eq(Mux(h3_first, 0, gacc) + mprod[:wS + wC].as_signed()),
                             h6_c.eq(h3_c), h6_out.eq(h3_act & h3_lastrow)]
            gv = e7 & h6_out
            g_en_terms.append(gv)
            g_addr_terms.append(Mux(gv, h6_c, 0))
            g_data_terms.append(Mux(gv, gacc, 0))
            rdata_terms.append(Mux(host_lane_q == p, bank_rd.data, 0))
            sat_terms += [clip1, clip2]

        def _tree(terms, op):
            # balanced reduction: shallow logic and no deep Python recursion for many lanes
            terms = list(terms)
            while len(terms) > 1:
                terms = [op(terms[i], terms[i + 1]) if i + 1 < len(terms) else terms[i]
                         for i in range(0, len(terms), 2)]
            return terms[0]

        def _or(terms):
            return _tree(terms, lambda a, b: a | b)

        m.d.comb += [
            self.g_en.eq(_or(g_en_terms)),
            self.g_addr.eq(_or(g_addr_terms)),
            self.g_data.eq(_or(g_data_terms)),
            self.s_rdata.eq(_or(rdata_terms)),
        ]
        m.d.sync += self.sat_inc.eq(_tree(sat_terms, lambda a, b: a + b))
        return m
