"""The systolic sensitivity sweep: step 7 of docs/design.md §3.1 (exact RTRL) in hardware.

See :class:`SweepEngine`, :class:`~rtrledit.hdl.lane.Lane` and ``docs/hdl.md``.
"""

from __future__ import annotations


from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..boards.target import device_of
from ..model.config import Config
from .dsp import MULTIPLIER_WIDTH
from .lane import Lane, chain_layout, token_layout
from .memory import ports, ram, use_huge

__all__ = ["SweepEngine", "engine_signature", "MULTIPLIER_WIDTH", "S_PORT_LATENCY", "schedule"]

#: Cycles from ``start`` being sampled to the first token at lane 0's input: the
#: controller's first emission (1) and the source register that adds the read data (1).
CONTROL_LATENCY = 2
#: Cycles from an S host port address to its read data (the write comes one cycle after
#: the address); both engines.
S_PORT_LATENCY = 2
#: Cycles from the last G output to ``done``.
DONE_LATENCY = 1
#: The shortest round (cycles): the column loader's 3-cycle path plus the single-port
#: waits that can fall into it, and never shorter than the chain (one G per cycle).
MIN_ROUND = 6
#: Test-only deliberate faults (``tests/hdl/test_lane_slots.py`` shows the tests catch
#: them): the ĉ slot one row early, the ĉ slot on the row's last MAC token, the
#: single-port loader not waiting for write-backs, rounds too short for the G chain.
MUTATIONS = ("chat_early", "chat_on_mac", "no_stall", "g_collide")


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


def _lag(first: int, lo: int, hi: int, rowlen: int) -> int:
    """The smallest d ≥ 0 with ``lo <= d·rowlen + first <= hi`` (a slot ``first`` cycles
    after its row's reference point, d rows later, inside the operand's window)."""
    d = max(0, -(-(lo - first) // rowlen))
    if not lo <= d * rowlen + first <= hi:
        raise AssertionError(f"no slot position in the window {lo}..{hi}")   # pragma: no cover
    return d


def schedule(cfg: Config, lanes: int, mutation: str | None = None) -> dict[str, int]:
    """The static schedule of one sweep (all in clock cycles), from the lane's latencies.

    A row of the stream is ``rowlen = n + slots`` tokens: n MAC tokens (W[k, 0..n-1])
    and then the lane's slots (``Lane.slots``: a ĉ slot, and for tanh a φ' slot at
    offset n + 1). The φ' slot of row r lies ``lag_phi`` rows later, the ĉ slot
    ``lag_chat`` rows later, each the first position after its operand is ready
    (``Lane.sum_latency`` after the row's last MAC token for s1, ``Lane.rq2_latency``
    after the φ' slot for S_new) and before the operand is overwritten.
    ``T = ceil(n·q/L)`` rounds (columns per lane) of ``krows`` rows (``R = rowlen·krows``
    cycles): ``krows = max(n, ceil(max(2L - 1, MIN_ROUND)/rowlen))`` (padded rows for
    small n or long chains: a round must outlast the G chain, see ``Lane.go``). ``X0 = max(q, 4)`` preload cycles (z copied down the chain, the
    first column loaded) precede the stream; the stream ends with the ĉ slot of the last
    row, ``s_end = X0 + ((T-1)·krows + n-1 + lag_chat)·rowlen + n``; then the last
    lane's G leaves lane 0 ``CONTROL_LATENCY + (L-1)·(Lane.forward_latency +
    Lane.g_forward_latency) + Lane.latency`` cycles later and ``done`` comes
    ``DONE_LATENCY`` after it. ``cycles`` counts from the cycle
    in which ``start`` is sampled (exclusive) to the ``done`` cycle (inclusive)::

        cycles = s_end + 2 + 2(L-1) + 4 + 1

    For hardtanh (rowlen = n + 1, lag_chat = 1) and n ≥ 2, 2L − 1 ≤ n(n+1):
    ``T·n(n+1) + max(q, 4) + n + 2L + 5``; for tanh (rowlen = n + 2, lag_chat = 2),
    n ≥ 2, 2L − 1 ≤ n(n+2): ``T·n(n+2) + max(q, 4) + 2n + 2L + 7``.
    """
    n, q = cfg.n, cfg.q
    nq = n * q
    L = lanes
    T = -(-nq // L)
    slots = Lane.slots_for(cfg)
    rowlen = n + slots
    chain = L if mutation == "g_collide" else 2 * L - 1
    krows = max(n, -(-max(chain, MIN_ROUND) // rowlen))
    R = rowlen * krows
    X0 = max(q, 4)
    sl = Lane.sum_latency
    # positions relative to row r's last MAC token (offset n - 1)
    if slots == 2:
        # φ' slot (offset n+1) reads s1 in [sl, rowlen + sl - 1]
        lag_phi = _lag(2, sl, rowlen + sl - 1, rowlen)
        phi_pos = lag_phi * rowlen + 2
        # ĉ slot (offset n) reads S_new in [φ' + rq2, φ' + rowlen + rq2 - 1]
        lag_chat = _lag(1, phi_pos + Lane.rq2_latency, phi_pos + rowlen + Lane.rq2_latency - 1,
                        rowlen)
    else:
        lag_phi = 0
        lag_chat = _lag(1, sl, rowlen + sl - 1, rowlen)
    if mutation == "chat_early":
        lag_chat -= 1
    last_row = (T - 1) * krows + n - 1
    s_end = X0 + (last_row + lag_chat) * rowlen + n
    if mutation == "chat_on_mac":
        s_end -= 1
    cycles = (s_end + CONTROL_LATENCY
              + (L - 1) * (Lane.forward_latency + Lane.g_forward_latency) + Lane.latency
              + DONE_LATENCY)
    return dict(T=T, rowlen=rowlen, krows=krows, R=R, X0=X0, slots=slots,
                lag_phi=lag_phi, lag_chat=lag_chat, s_end=s_end, cycles=cycles,
                drain=cycles - (s_end + CONTROL_LATENCY))


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
    """Exact-RTRL sensitivity sweep (docs/design.md §3.1 step 7) on a chain of ``lanes``
    :class:`~rtrledit.hdl.lane.Lane` s, **one multiplier per lane**.

    For every column c = i·q + j of S (S viewed as n × n·q)::

        u[k]      = Σ_l W[k,l]·S[l,c] + (k == i ? z[j] << zterm_shift : 0)
        S[k,c]   ← RQ(RQ(u[k], f_P+f_S → S, r_sens)·φ'[k], f_S+f_F → S, r_sens)
        G[c]      = Σ_k ĉ[k]·S_new[k,c]                       (exact, f_C + f_S)

    bit for bit as :func:`rtrledit.model.fixed._step`; every out-of-range result of either
    RQ adds 1 to the model's ``sat[SAT_S]``; ``sat_inc`` reports them. For hardtanh the
    engine takes φ' as the mask it is (φ'[k] ∈ {0, 2^f_F}, as the forward pass makes it):
    RQ(s1·2^f_F, f_S + f_F → S) is s1 and RQ(0) is 0, bit for bit, saturation and
    rounding included (no second RQ is built; the second RQ never saturates).

    Mapping
    -------
    Lane p owns columns c = p + L·t, t = 0..T-1 (T = ceil(n·q/L) rounds); its S bank (a
    RAM of n·T words, address t·n + k) holds them. Each lane has a double-buffered local
    column buffer: while round t computes on column t, the lane copies column t+1 from
    its bank into the other half. The lane is output-stationary over k. The controller
    streams a row of ``n + slots`` tokens per row k: W[k, 0..n-1] (MAC slots), then ĉ of
    an earlier row (ĉ slot: the lane multiplies it by that row's S_new, adds it into G
    and writes S_new back into its bank in place) and, for tanh, φ' of the previous row
    (φ' slot: φ'·s1, then RQ2). Each lane forwards the token to the next through a
    register (systolic: nothing is broadcast; lane p sees the stream p cycles after
    lane 0). See :class:`~rtrledit.hdl.lane.Lane` and :func:`schedule`.

    Only what changes every cycle moves every cycle: the token is W (or ĉ, φ', z in
    their slots), a buffer address, the row k and a few flags. Per-round values are not
    in it: each lane keeps its column (i, j) in a slow chain (taken from the previous
    lane once per round), its write-back and loader addresses are lane-local counters
    (both run through the bank in order), G's column number is one counter at the output
    (G values leave in column order).

    Why time-sharing the lane multiplier and not a post-processing unit shared by
    several lanes: both reach the same DSP use for hardtanh (n/(n+1): one extra
    multiplier per n lanes there, one extra slot per row here), but the shared unit
    needs a result chain (u, about 40 bits per lane), a return path for S_new into each
    lane's bank and a G accumulator per lane column, and for tanh two multipliers per n
    lanes (a lane: n/(n+2)); and with 8 DSPs on the UP5K the lane count must leave whole
    DSPs for it. See ``docs/hdl.md``.

    Latency / throughput
    --------------------
    Cycles from ``start`` to ``done``: :func:`schedule`; for hardtanh, n ≥ 2 and
    2L − 1 ≤ n(n+1): ``T·n(n+1) + max(q, 4) + n + 2L + 5``; for tanh, n ≥ 2,
    2L − 1 ≤ n(n+2): ``T·n(n+2) + max(q, 4) + 2n + 2L + 7``: n/(n+1) (n/(n+2)) of the
    L multipliers' cycles are MACs.

    Resources
    ---------
    L multipliers (L DSP blocks); per lane three RAMs: S bank (n·T × w_S), local buffer
    (2n × w_S), z copy (q × w_H); per lane the u and G accumulators, RQ1 (and RQ2 for
    tanh), the token register (w + about 2·log2(n) + 9 bits); one controller; an L-input
    L-input OR multiplexer for the host's S reads and an L-input adder for the saturation
    count. G leaves through a chain along the lanes (``Lane.gi``/``go``: one register of
    ``acc_widths["g"]`` + 1 bits per lane), so no lane's G travels further than to its
    neighbour in a cycle.

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
    per cycle at most, in increasing c. S host port (only while idle, pipelined like
    the core's register bus, :data:`~rtrledit.hdl.core.BUS_LATENCY`): ``s_k``, ``s_c``
    (entry S[k, c]) in cycle t; ``s_we``, ``s_wdata`` in cycle t + 1 write that entry;
    ``s_rdata`` is its word in cycle t + 2 (:data:`S_PORT_LATENCY`). Saturation: ``sat_inc`` (0 .. :attr:`sat_inc_max`): how many RQs saturated
    in this cycle, the core counts them.

    Parameters
    ----------
    cfg : Config
        ``approx`` must be ``"exact"`` (snap1 is not implemented in this engine).
    lanes : int
        Number of lanes, 1 ≤ lanes ≤ n·q.
    target : str, optional
        ``"ice40"`` or ``"ecp5"``: refuse multiplier operands (formats P, S, F, C) wider
        than the target's DSP (16 or 18 bits); the lanes' multipliers are its primitive
        (:class:`~rtrledit.hdl.dsp.Multiplier`).
    spram : bool, optional
        Single-port S banks (one address for the column loader, the write-back and the
        host port; the loader waits while a write-back uses the port, which its slack
        absorbs: the cycle count is unchanged), made by ``ram(huge=True)`` so that
        Yosys maps them to the UP5K's SB_SPRAM256KA. Their power-up content is
        undefined: the core clears S after reset. By default (None) the memory rule
        decides (:func:`~rtrledit.hdl.memory.use_huge`, kind ``"s_bank"``, one bank per
        lane, on the target's device).
    mutation : str, optional
        Test-only: one of :data:`MUTATIONS`, a deliberate fault.

    Raises
    ------
    ValueError
        naming the parameter.
    """

    def __init__(self, cfg: Config, lanes: int, target: str | None = None,
                 spram: bool | None = None, mutation: str | None = None):
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
        if mutation is not None and mutation not in MUTATIONS:
            raise ValueError(f"SweepEngine parameter 'mutation' must be None or one of "
                             f"{', '.join(MUTATIONS)}, got {mutation!r}")
        self.cfg, self.lanes, self.target, self.mutation = cfg, lanes, target, mutation
        self.n, self.q, self.nq = n, q, nq
        sch = schedule(cfg, lanes, mutation)
        self.schedule = sch
        self.T, self.rowlen, self.krows, self.R, self.X0 = (
            sch["T"], sch["rowlen"], sch["krows"], sch["R"], sch["X0"])
        self.cycles = sch["cycles"]
        self._drain = sch["drain"]
        fm = cfg.formats
        self.g_width = cfg.acc_widths["g"]
        self.bank_depth = n * self.T
        L = lanes
        if spram is None:
            spram = use_huge("s_bank", self.bank_depth, fm.S.w, device_of(target), copies=L)
        #: single-port S banks (SPRAM on iCE40), see the ``spram`` parameter
        self.spram = bool(spram)
        #: the S bank of each lane (column c = p + L·t of S at words n·t .. n·t + n - 1)
        self.banks = [ram(signed(fm.S.w), self.bank_depth, huge=self.spram) for _ in range(L)]
        self.token_layout = token_layout(cfg)
        #: lanes whose column can lie past n·q in the last round
        self.first_idle = nq - L * (self.T - 1)
        #: hardware multipliers (DSP blocks): one per lane
        self.multipliers = lanes
        #: the most saturations reported in one cycle (one RQ per lane, two for tanh)
        self.sat_inc_max = Lane.rqs(cfg) * lanes
        super().__init__(engine_signature(cfg, self.sat_inc_max))

    # ------------------------------------------------------------------ elaboration
    def elaborate(self, platform):
        m = Module()
        cfg, fm = self.cfg, self.cfg.formats
        n, q, nq, L, T = self.n, self.q, self.nq, self.lanes, self.T
        rowlen, krows, X0 = self.rowlen, self.krows, self.X0
        sch = self.schedule
        tanh = cfg.activation == "tanh"
        tok_shape = self.token_layout
        chain = chain_layout(cfg, L)

        # ---------------------------------------------------------------- controller
        x = Signal(range(X0 + 1))
        l = Signal(range(rowlen))
        k = Signal(_bits(krows))
        t = Signal(range(T + 2))
        tpar = Signal()
        i0 = Signal(chain["i"].shape)
        j0 = Signal(chain["j"].shape)
        waddr = Signal(range(n * n + 1))
        drain = Signal(range(self._drain + 1))
        gcount = Signal(range(nq + 1))
        # the rows behind the current one: (real, k, last real row), newest first
        depth = max(1, sch["lag_chat"], sch["lag_phi"])
        hist = [(Signal(name=f"h{d}_real"), Signal(_bits(n), name=f"h{d}_k"),
                 Signal(name=f"h{d}_end")) for d in range(1, depth + 1)]
        cur_real = (t < T) & (k < n)
        cur = (cur_real, k[:_bits(n).width], (t == T - 1) & (k == n - 1))

        def row(d):
            return cur if d == 0 else hist[d - 1]

        rc, rp = row(sch["lag_chat"]), row(sch["lag_phi"])
        chat_off = n - 1 if self.mutation == "chat_on_mac" else n

        # The token's flags are computed here; its w (W, ĉ, φ' or z) comes from the read
        # ports one cycle later.
        ctrl_layout = data.StructLayout({name: f.shape for name, f in tok_shape
                                         if name not in ("w", "msk")})
        emit = Signal(ctrl_layout)          # flags of the token, this cycle
        src = Signal(ctrl_layout)           # the same, one cycle later (with read data)
        m.d.comb += [
            self.w_addr.eq(waddr),
            self.dphi_addr.eq(rp[1] if tanh else rc[1]),
            self.chat_addr.eq(rc[1]),
            self.z_addr.eq(x),
        ]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [x.eq(0), l.eq(0), k.eq(0), t.eq(0), tpar.eq(0),
                                 i0.eq(0), j0.eq(0), waddr.eq(0), gcount.eq(0)]
                    m.d.sync += [h[0].eq(0) for h in hist]
                    m.next = "PRE"
            with m.State("PRE"):
                m.d.comb += [
                    self.busy.eq(1),
                    emit.zwe.eq(x < q), emit.a.eq(x),
                    emit.ld.eq(x == 0),
                ]
                m.d.sync += x.eq(x + 1)
                with m.If(x == X0 - 1):
                    m.next = "STREAM"
            with m.State("STREAM"):
                mac = cur_real & (l < n)
                cslot = rc[0] & (l == chat_off)
                m.d.comb += [
                    self.busy.eq(1),
                    emit.valid.eq(mac), emit.cs.eq(cslot),
                    emit.first.eq(Mux(cslot, rc[1] == 0, l == 0)),
                    emit.last.eq(Mux(cslot, rc[1] == n - 1, l == n - 1)),
                    emit.k.eq(cur[1]), emit.a.eq(Mux(tpar, n + l, l)),
                    emit.rs.eq((t < T) & (k == 0) & (l == 0)),
                    emit.ld.eq((t < T - 1) & (k == 0) & (l == 0)),
                ]
                if tanh:
                    m.d.comb += emit.ps.eq(rp[0] & (l == n + 1))
                with m.If(mac):
                    m.d.sync += waddr.eq(waddr + 1)
                m.d.sync += l.eq(l + 1)
                with m.If(l == rowlen - 1):
                    m.d.sync += [l.eq(0), k.eq(k + 1)]
                    for d in range(depth):
                        m.d.sync += [a.eq(b) for a, b in zip(hist[d], row(d))]
                    with m.If(k == krows - 1):
                        # next round: column of lane 0 advances by L = (L//q)·q + L%q
                        jn = j0 + (L % q)
                        wrapj = jn >= q
                        m.d.sync += [
                            k.eq(0), t.eq(t + 1), tpar.eq(~tpar), waddr.eq(0),
                            j0.eq(Mux(wrapj, jn - q, jn)),
                            i0.eq(i0 + (L // q) + wrapj),
                        ]
                with m.If(cslot & rc[2]):
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
        w_in = Mux(src.cs, self.chat_data, Mux(src.zwe, self.z_data, self.w_data))
        if tanh:
            w_in = Mux(src.ps, self.dphi_data, w_in)
        else:
            m.d.comb += source.msk.eq(self.dphi_data != 0)
        m.d.comb += source.w.eq(w_in)

        # ---------------------------------------------------------------- host S port decode
        # Registered: the decode of c into lane c mod L and bank word ⌊c/L⌋·n + k (a Switch
        # over n·q columns when L is not a power of two) drives every lane's bank address
        # and write enable; in one cycle with them it was the critical path of the 48-lane
        # ECP5 build. The write (s_we, s_wdata) comes one cycle after its address.
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
        host_lane_r = Signal(range(L))
        m.d.sync += [host_addr.eq(host_base + self.s_k), host_lane_r.eq(host_lane)]
        host_lane_q = Signal(range(L))
        m.d.sync += host_lane_q.eq(host_lane_r)

        # ---------------------------------------------------------------- lanes
        prev_tok, prev_col = source, None
        lanes, rdata_terms, sat_terms = [], [], []
        busy = self.busy
        for p in range(L):
            lane = Lane(cfg, L, may_idle=p >= self.first_idle, single_port=self.spram,
                        mutation=self.mutation if self.mutation == "no_stall" else None,
                        family=self.target)
            m.submodules[f"lane{p}"] = lane
            m.d.comb += lane.tok_i.eq(prev_tok)
            if prev_col is None:
                m.d.comb += [lane.ci.i.eq(i0), lane.ci.j.eq(j0)]
            else:
                m.d.comb += lane.ci.eq(prev_col)
            prev_tok, prev_col = lane.tok_o, lane.co
            lanes.append(lane)

            bank = self.banks[p]
            m.submodules[f"bank{p}"] = bank
            bank_rd, bank_wr = ports(m, bank)
            m.d.comb += lane.ld_data.eq(bank_rd.data)
            with m.If(busy):
                m.d.comb += [bank_wr.addr.eq(lane.wb_addr), bank_wr.data.eq(lane.wb_data),
                             bank_wr.en.eq(lane.wb), bank_rd.addr.eq(lane.ld_addr)]
            with m.Else():
                m.d.comb += [bank_wr.addr.eq(host_addr), bank_wr.data.eq(self.s_wdata),
                             bank_wr.en.eq(self.s_we & (host_lane_r == p)),
                             bank_rd.addr.eq(host_addr)]
            if self.spram:              # one port: one address, no read while writing
                addr = Signal.like(host_addr, name=f"spram_addr_{p}")
                m.d.comb += [addr.eq(Mux(busy, Mux(lane.wb, lane.wb_addr, lane.ld_addr),
                                         host_addr)),
                             bank_wr.addr.eq(addr), bank_rd.addr.eq(addr),
                             bank_rd.en.eq(~bank_wr.en)]
            rdata_terms.append(Mux(host_lane_q == p, bank_rd.data, 0))
            sat_terms.append(lane.sat)

        def _tree(terms, op):
            # balanced reduction: shallow logic and no deep Python recursion for many lanes
            terms = list(terms)
            while len(terms) > 1:
                terms = [op(terms[i], terms[i + 1]) if i + 1 < len(terms) else terms[i]
                         for i in range(0, len(terms), 2)]
            return terms[0]

        def _or(terms):
            return _tree(terms, lambda a, b: a | b)

        # the G chain, lane L-1 → … → 0: G leaves lane 0 in column order, one counter
        for a, b in zip(lanes, lanes[1:]):
            m.d.comb += a.gi.eq(b.go)
        with m.If(self.g_en):
            m.d.sync += gcount.eq(gcount + 1)
        m.d.comb += [
            self.g_en.eq(lanes[0].go.valid),
            self.g_addr.eq(gcount),
            self.g_data.eq(lanes[0].go.g),
            self.s_rdata.eq(_or(rdata_terms)),
        ]
        m.d.sync += self.sat_inc.eq(_tree(sat_terms, lambda a, b: a + b))
        return m
