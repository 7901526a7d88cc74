"""The RTRL learning core: a whole step of docs/design.md §3.1 behind streams and registers.

See :class:`Core`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..boards.target import Target
from ..model.config import SAT_NAMES, Config
from .forward import ForwardUnit, forward_cycles
from .memory import huge_units, ports, ram, use_huge
from .regmap import ADDR_WIDTH, CTRL, DATA_WIDTH, Register, register_map, s_index_bits, window_bits
from .satcount import SaturationCounters
from .snap1 import Snap1Engine, snap1_cycles
from .sweep import S_PORT_LATENCY, SweepEngine, schedule
from .update import UpdateUnit, update_cycles

__all__ = ["Core", "cycles_per_step", "step_period", "HANDOVER", "max_lanes", "field_word", "BusSignature",
           "BUS_LATENCY", "sample_layout", "result_layout"]

#: The register bus, from the host's side: a strobe (``r_stb`` or ``w_stb``, one cycle)
#: starts an access; the host holds ``addr`` until ``ack``, which answers it
#: :data:`BUS_LATENCY` cycles after the strobe (reads: ``r_data`` valid with ``ack``). A host
#: waits for ``ack`` rather than counting on the latency. One access at a time: the next
#: strobe comes at the earliest in the cycle after ``ack``.
BusSignature = wiring.Signature({
    "addr": Out(ADDR_WIDTH), "r_stb": Out(1), "w_stb": Out(1), "w_data": Out(32),
    "r_data": In(32), "ack": In(1),
})

#: Cycles from a strobe to its ``ack``: the strobe's cycle decodes the address into
#: registers (stage 0), the next acts on them (stage 1: RAM and counter reads, writes),
#: ``ack`` and the read data come in the one after. The S host port of both engines reads
#: in the same two cycles (its address decode is registered too).
BUS_LATENCY = S_PORT_LATENCY


def sample_layout(cfg: Config) -> data.StructLayout:
    """Payload of the input stream: x (m words, format X), d (p words, format Y)."""
    fm = cfg.formats
    return data.StructLayout({"x": data.ArrayLayout(signed(fm.X.w), cfg.m),
                              "d": data.ArrayLayout(signed(fm.Y.w), cfg.p)})


def result_layout(cfg: Config) -> data.StructLayout:
    """Payload of the output stream: y (p words, format Y) and the step's saturation flags
    (bit i set when counter SAT_NAMES[i] grew during the step)."""
    return data.StructLayout({"y": data.ArrayLayout(signed(cfg.formats.Y.w), cfg.p),
                              "flags": unsigned(len(SAT_NAMES))})


def cycles_per_step(cfg: Config, lanes: int, learn: bool = True, track: bool = True,
                    spram: bool = False) -> int:
    """Clock cycles from accepting a sample to offering its result: the forward pass, the
    sweep when tracking or learning, the update when learning. (The result handshake and
    the next acceptance add one cycle each when samples and results are always ready.)
    ``spram``: SnAp-1 with single-port S (half rate); exact RTRL's count does not change."""
    engine = (schedule(cfg, lanes)["cycles"] if cfg.approx == "exact"
              else snap1_cycles(cfg, spram))
    return (forward_cycles(cfg) + (engine if (learn or track) else 0)
            + (update_cycles(cfg) if learn else 0))


#: Cycles between one step's end and the next sample's acceptance when samples and results
#: are always ready: the result handshake and the acceptance (tests/boards/test_e2e.py
#: measures :func:`step_period` in the simulator).
HANDOVER = 2


def step_period(cfg: Config, lanes: int, learn: bool = True, spram: bool = False) -> int:
    """Clock cycles from one sample's acceptance to the next with the input stream always
    full and results always taken: the throughput of the core, one step per period."""
    return cycles_per_step(cfg, lanes, learn, True, spram) + HANDOVER


def field_word(reg: Register, **values: Value) -> Value:
    """The gateware twin of :meth:`Register.pack <rtrledit.hdl.regmap.Register.pack>`: a
    ``DATA_WIDTH``-bit word of ``reg`` with each value (by lower-case field name) at its
    field's bits, truncated to the field's width; other bits 0."""
    placed = sorted(((reg.fields[k.upper()], v) for k, v in values.items()), key=lambda t: t[0].lsb)
    parts, pos = [], 0
    for f, v in placed:
        parts += [Const(0, f.lsb - pos), v[:f.width]]
        pos = f.lsb + f.width
    return Cat(*parts, Const(0, DATA_WIDTH - pos))


def max_lanes(cfg: Config) -> int:
    """The most lanes the core's engine takes: n·q for exact RTRL (a column of S per lane
    and round), 1 for SnAp-1 (one pipelined lane)."""
    return cfg.n * cfg.q if cfg.approx == "exact" else 1


class Core(wiring.Component):
    """One RTRL learning step per sample, bit-exact with :class:`~rtrledit.model.FixedRTRL`.

    For each sample accepted on ``sample`` the core runs the forward pass
    (:class:`~rtrledit.hdl.forward.ForwardUnit`), then — if ``CTRL.TRACK`` or
    ``CTRL.LEARN`` — the sensitivity sweep (:class:`~rtrledit.hdl.sweep.SweepEngine` on
    ``lanes`` PEs for exact RTRL, :class:`~rtrledit.hdl.snap1.Snap1Engine` for SnAp-1),
    then — if ``CTRL.LEARN`` — the parameter update
    (:class:`~rtrledit.hdl.update.UpdateUnit`), and emits (y, flags) on ``result``.
    With both bits clear it is an inference engine: the forward pass only. This is the
    model's ``run(learn=CTRL.LEARN, track=CTRL.TRACK or CTRL.LEARN)``.

    Samples are held by back-pressure (``sample.ready`` is low while a step runs or the
    result waits), never dropped. Parameters, state and counters are reached through the
    register bus (:func:`~rtrledit.hdl.regmap.register_map` describes it).

    Cycles per step (:meth:`cycles_per_step`): the forward pass q + n·q + 2·n·p + 17;
    plus the sweep when tracking (``engine.cycles``: :func:`~rtrledit.hdl.sweep.schedule`
    for exact RTRL, about ⌈n·q/L⌉·n(n+1) for hardtanh; n·q + 5 for SnAp-1);
    plus the update n·q + n·p + p + 7 when learning. :func:`step_period` adds
    :data:`HANDOVER` for the period between samples.

    Register-bus accesses are served at any time for registers; windows (parameters,
    h, S) only between steps: a sample waiting while the host accesses the bus is taken
    after the access. A reset of S (``CTRL.RESET_SENS``/``RESET_STATE``) takes one cycle
    per word of S, with ``STATUS.BUSY`` set; when S is in single-port banks (SPRAM, see
    :class:`~rtrledit.hdl.sweep.SweepEngine`) the core also starts with one after reset.

    Resources: :attr:`multipliers` (the sweep engine's L for exact RTRL, 3 for SnAp-1, the
    forward unit's 1, 2 with tanh, the update unit's 1); memories W (n²), [U | b]
    (n·(m+1)), V (p·n), c (p), G (n·q), the forward unit's and the engine's; the ten
    saturation counters and the step counter in one 11 × 32 RAM
    (:class:`~rtrledit.hdl.satcount.SaturationCounters`), not in registers.

    Parameters
    ----------
    cfg : Config
    lanes : int, optional
        Lanes of the engine (default 1, or the ``target``'s).
    target : Target or str, optional
        What the core is built for (:class:`~rtrledit.boards.target.Target`; its lanes are
        the core's), or a family name alone (``"ice40"``, ``"ecp5"``); None: no device.
        Its device facts choose the huge (single-port) memories
        (:func:`~rtrledit.hdl.memory.use_huge`).
    spram : bool, optional
        Force the engine's S memories and G into huge RAM (True) or out of it (False).
    """

    def __init__(self, cfg: Config, lanes: int | None = None,
                 target: Target | str | None = None, spram: bool | None = None) -> None:
        if not isinstance(target, Target):
            target = Target(family=target, lanes=1 if lanes is None else lanes)
        elif lanes not in (None, target.lanes):
            raise ValueError(f"Core parameter 'lanes': {lanes}, but the target has "
                             f"{target.lanes}")
        lanes = target.lanes
        self.cfg, self.lanes, self.target = cfg, lanes, target
        if cfg.approx == "exact":
            self.engine = SweepEngine(cfg, lanes, target.family, spram)
        else:
            if lanes != max_lanes(cfg):
                raise ValueError(f"Core parameter 'lanes': SnAp-1 uses one pipelined lane, "
                                 f"got {lanes}")
            self.engine = Snap1Engine(cfg, target, spram)
        # G in huge RAM too (single port: the engine writes it, then the update reads it)
        # when the memory rule says so with what the engine's S memories leave
        g_bits, nq, dev = cfg.acc_widths["g"], cfg.n * cfg.q, target.device
        taken = lanes * huge_units(cfg.formats.S.w, dev) if self.engine.spram else 0  # a bank a lane
        #: G in a single-port RAM (SPRAM on iCE40); ``spram`` True or False forces it
        self.g_spram = use_huge("g", nq, g_bits, dev, taken=taken) if spram is None else spram
        self.forward = ForwardUnit(cfg, target.family)
        self.update = UpdateUnit(cfg, target.family)
        #: hardware multipliers (DSP blocks) of the core, as its units declare them
        self.multipliers = self.engine.multipliers + self.forward.multipliers + self.update.multipliers
        self.regmap = register_map(cfg, lanes)
        super().__init__({
            "sample": In(stream.Signature(sample_layout(cfg))),
            "result": Out(stream.Signature(result_layout(cfg))),
            "bus": In(BusSignature),
        })

    def elaborate(self, platform) -> Module:
        cfg, fm = self.cfg, self.cfg.formats
        n, m, p, q = cfg.n, cfg.m, cfg.p, cfg.q
        md = Module()
        fw, eng, upd = self.forward, self.engine, self.update
        md.submodules.forward, md.submodules.engine, md.submodules.update = fw, eng, upd

        # ------------------------------------------------------------ memories
        def mem(name, shape, depth, huge=False):
            mm = ram(shape, depth, huge)
            md.submodules[name] = mm
            return (mm, *ports(md, mm))
        wm, w_rd, w_wr = mem("wmem", signed(fm.P.w), n * n)
        um, u_rd, u_wr = mem("umem", signed(fm.P.w), n * (m + 1))
        vm, v_rd, v_wr = mem("vmem", signed(fm.O.w), p * n)
        cm, c_rd, c_wr = mem("cmem", signed(fm.O.w), p)
        gm, g_rd, g_wr = mem("gmem", signed(upd.g_width), n * q, huge=self.g_spram)

        # ------------------------------------------------------------ registers
        learn = Signal(init=1)
        track = Signal(init=1)
        eta = Signal(5, init=cfg.eta)
        eta_o = Signal(5, init=cfg.eta_o)
        err, err_addr = Signal(), Signal(ADDR_WIDTH)
        # the saturation counters (in SAT_NAMES order) and the step counter, in one RAM
        STEPS = len(SAT_NAMES)
        # every source's largest increment fits (the update's two saturations per element
        # were cut to one bit when the engine's most was 1: hardtanh on one lane)
        md.submodules.counters = counters = SaturationCounters(
            STEPS + 1, max(eng.sat_inc_max, upd.sat_inc_max, 1))
        flags = Signal(len(SAT_NAMES))
        md.d.comb += [upd.eta.eq(eta), upd.eta_o.eq(eta_o)]

        # the register bus's stage 1 (see BUS_LATENCY): a read or write decoded last cycle
        rq, wq = Signal(), Signal()

        # ------------------------------------------------------------ controller
        x_reg = Signal(sample_layout(cfg))
        step_learn, step_track = Signal(), Signal()
        reset_cnt = Signal(range(max(n * q * (n if cfg.approx == "exact" else 1), n) + 2))
        reset_h = Signal()
        reset_req, reset_state = Signal(), Signal()
        md.d.comb += [fw.x.eq(x_reg.x), fw.d.eq(x_reg.d), upd.e.eq(fw.e)]
        # S in SPRAM has no defined power-up content: clear it first (n²q cycles, BUSY)
        with md.FSM(name="ctrl", init="RESET" if eng.spram else "IDLE") as fsm:
            with md.State("IDLE"):
                # no sample while an access is in flight (its stages see IDLE throughout)
                md.d.comb += self.sample.ready.eq(~(self.bus.r_stb | self.bus.w_stb | rq | wq))
                with md.If(reset_req):
                    md.d.sync += [reset_cnt.eq(0), reset_h.eq(reset_state)]
                    md.next = "RESET"
                with md.Elif(self.sample.valid & self.sample.ready):
                    md.d.sync += [x_reg.eq(self.sample.payload), flags.eq(0),
                                  step_learn.eq(learn), step_track.eq(track | learn)]
                    md.d.comb += fw.start.eq(1)
                    md.next = "FORWARD"
            with md.State("FORWARD"):
                with md.If(fw.done):
                    with md.If(step_track):
                        md.d.comb += eng.start.eq(1)
                        md.next = "SWEEP"
                    with md.Else():
                        md.next = "RESULT"
            with md.State("SWEEP"):
                with md.If(eng.done):
                    with md.If(step_learn):
                        md.d.comb += upd.start.eq(1)
                        md.next = "UPDATE"
                    with md.Else():
                        md.next = "RESULT"
            with md.State("UPDATE"):
                with md.If(upd.done):
                    md.next = "RESULT"
            with md.State("RESULT"):
                md.d.comb += [self.result.valid.eq(1), self.result.payload.flags.eq(flags)]
                for o in range(p):
                    md.d.comb += self.result.payload.y[o].eq(fw.y[o])
                with md.If(self.result.ready):
                    md.d.comb += counters.inc[STEPS].eq(1)
                    md.next = "IDLE"
            with md.State("RESET"):          # clear S (and h): one word per cycle
                md.d.sync += reset_cnt.eq(reset_cnt + 1)
                with md.If(reset_cnt == self._s_words() - 1):
                    md.next = "IDLE"
        idle = fsm.ongoing("IDLE")
        in_fwd, in_sweep, in_upd = fsm.ongoing("FORWARD"), fsm.ongoing("SWEEP"), fsm.ongoing("UPDATE")
        in_reset = fsm.ongoing("RESET")

        # saturation counters and this step's flags
        for i, name in enumerate(SAT_NAMES):
            inc = {"theta": upd.sat_theta, "v": upd.sat_v, "s": eng.sat_inc}.get(name, fw.sat_inc[i])
            md.d.comb += counters.inc[i].eq(inc)
            with md.If(inc != 0):
                md.d.sync += flags[i].eq(1)

        # ------------------------------------------------------------ register bus decode
        # Stage 0, the strobe's cycle: the address decoded into registers; stage 1 acts.
        bus = self.bus
        rm = self.regmap
        win = {w.name: w for w in rm.windows}
        regs = {r.name: r for r in rm.registers}
        aq, dq = Signal(ADDR_WIDTH), Signal(DATA_WIDTH)     # stage 1's address and data
        ok_q = Signal()                                     # windows only between steps
        md.d.sync += [rq.eq(bus.r_stb), wq.eq(bus.w_stb), aq.eq(bus.addr), dq.eq(bus.w_data),
                      ok_q.eq(idle)]

        def registered(cond, name):
            q_ = Signal(name=name)
            md.d.sync += q_.eq(cond)
            return q_

        def inside(w, addr):
            bits_ = window_bits(w.size)
            return (addr[bits_:] == (w.base >> bits_)) & (addr[:bits_] < w.size)

        in_win = {name: inside(w, bus.addr) for name, w in win.items()}
        if cfg.approx == "exact":
            # S window: index k·2^cbits + c, so k and c are bit fields of the address
            kbits, cbits = s_index_bits(cfg)
            s_k, s_c = bus.addr[cbits:cbits + kbits], bus.addr[:cbits]
            in_win["S"] = in_win["S"] & (s_k < n) & (s_c < n * q)
        else:
            s_k, s_c = Const(0, 1), bus.addr[:window_bits(win["S"].size)]
        hit = {name: registered(v, f"hit_{name}") for name, v in in_win.items()}
        is_reg = {name: registered(bus.addr == r.addr, f"is_{name}") for name, r in regs.items()}
        index = {name: aq[:window_bits(w.size)] for name, w in win.items()}

        # ------------------------------------------------------------ memory port muxes
        # Read ports: the running unit, or the host bus (stage 1) while idle.
        with md.If(in_fwd):
            md.d.comb += [w_rd.addr.eq(fw.w_addr), u_rd.addr.eq(fw.u_addr),
                          v_rd.addr.eq(fw.v_addr), c_rd.addr.eq(fw.c_addr)]
        with md.Elif(in_sweep):
            md.d.comb += w_rd.addr.eq(eng.w_addr)
        with md.Elif(in_upd):
            md.d.comb += [w_rd.addr.eq(upd.w_addr), u_rd.addr.eq(upd.u_addr),
                          v_rd.addr.eq(upd.v_addr), c_rd.addr.eq(upd.c_addr)]
        with md.Else():
            md.d.comb += [w_rd.addr.eq(index["W"]), u_rd.addr.eq(index["U"]),
                          v_rd.addr.eq(index["V"]), c_rd.addr.eq(index["C"])]
        md.d.comb += [fw.w_data.eq(w_rd.data), fw.u_data.eq(u_rd.data), fw.v_data.eq(v_rd.data),
                      fw.c_data.eq(c_rd.data), eng.w_data.eq(w_rd.data),
                      upd.w_data.eq(w_rd.data), upd.u_data.eq(u_rd.data),
                      upd.v_data.eq(v_rd.data), upd.c_data.eq(c_rd.data)]
        # forward-unit memories read by the engine (z, φ', ĉ) and by the update/host (h)
        md.d.comb += [fw.z_addr.eq(eng.z_addr), eng.z_data.eq(fw.z_data),
                      fw.dphi_addr.eq(eng.dphi_addr), eng.dphi_data.eq(fw.dphi_data),
                      fw.chat_addr.eq(eng.chat_addr), eng.chat_data.eq(fw.chat_data),
                      fw.h_addr.eq(Mux(in_upd, upd.h_addr, index["H"])),
                      upd.h_data.eq(fw.h_data)]
        # G: written by the engine, read by the update
        md.d.comb += [g_wr.addr.eq(eng.g_addr), g_wr.data.eq(eng.g_data), g_wr.en.eq(eng.g_en),
                      g_rd.addr.eq(upd.g_addr), upd.g_data.eq(g_rd.data)]
        if self.g_spram:               # one port: never written and read in one cycle
            g_addr = Signal.like(g_wr.addr)
            md.d.comb += [g_addr.eq(Mux(eng.g_en, eng.g_addr, upd.g_addr)),
                          g_wr.addr.eq(g_addr), g_rd.addr.eq(g_addr), g_rd.en.eq(~eng.g_en)]

        # ------------------------------------------------------------ register bus, stage 1
        ack = Signal()
        md.d.sync += ack.eq(rq | wq)
        md.d.comb += bus.ack.eq(ack)
        md.d.comb += upd.lfsr_load.eq(0)
        ro_value = {
            **{r.name: Const(r.value, DATA_WIDTH) for r in rm.registers if r.value is not None},
            "ERR_ADDR": err_addr, "STATUS": field_word(regs["STATUS"], busy=~idle, err=err),
        }
        counted = {"STEPS": STEPS, **{f"SAT_{s.upper()}": i for i, s in enumerate(SAT_NAMES)}}
        rw_value = {"CTRL": field_word(regs["CTRL"], learn=learn, track=track),
                    "ETA": field_word(regs["ETA"], eta=eta, eta_o=eta_o),
                    "LFSR": upd.lfsr}
        # reads: the register's value latched now (an AND-OR over the one-hot selects) or
        # a RAM or counter read started now; presented with ack
        reg_read = Signal(DATA_WIDTH)
        rsel = Signal(8)                         # which source the read data comes from
        with md.If(rq):
            value = 0
            for name, v in {**ro_value, **rw_value}.items():
                value = value | Mux(is_reg[name], v, 0)
            md.d.sync += [reg_read.eq(value), rsel.eq(0)]
            for name, i in counted.items():
                with md.If(is_reg[name]):
                    md.d.comb += [counters.r_stb.eq(1), counters.r_index.eq(i)]
                    md.d.sync += rsel.eq(7)
            for k, name in enumerate(("W", "U", "V", "C", "H", "S"), start=1):
                with md.If(hit[name] & ok_q):
                    md.d.sync += rsel.eq(k)
        window_data = {1: w_rd.data, 2: u_rd.data, 3: v_rd.data, 4: c_rd.data, 5: fw.h_data,
                       6: eng.s_rdata}
        r_data = Signal(DATA_WIDTH)
        with md.Switch(rsel):
            with md.Case(0):
                md.d.comb += r_data.eq(reg_read)
            for k, v in window_data.items():
                with md.Case(k):
                    md.d.comb += r_data.eq(v.as_signed())
            with md.Case(7):
                md.d.comb += r_data.eq(counters.r_data)
        md.d.comb += bus.r_data.eq(r_data)

        # writes
        any_window = 0
        for name in ("W", "U", "V", "C", "H", "S"):
            any_window = any_window | hit[name]
        known = 0
        for name in regs:
            known = known | is_reg[name]
        # CTRL's LEARN/TRACK may change at any time (each step latches them); the reset
        # pulses, ETA and LFSR only between steps.
        writable = is_reg["CTRL"] | ((is_reg["ETA"] | is_reg["LFSR"]) & ok_q)
        wf = {name: dq[f.bits] for name, f in CTRL.items()}       # written CTRL fields
        pulse = wf["RESET_STATE"] | wf["RESET_SENS"]
        bad = Signal()
        with md.If(wq):
            with md.If(writable & ~(is_reg["CTRL"] & pulse & ~ok_q)):
                with md.If(is_reg["CTRL"]):
                    md.d.sync += [learn.eq(wf["LEARN"]), track.eq(wf["TRACK"])]
                    with md.If(wf["CLEAR_ERR"]):
                        md.d.sync += err.eq(0)
                    with md.If(wf["CLEAR_SAT"]):
                        md.d.comb += counters.clear.eq((1 << STEPS) - 1)   # not STEPS
                    md.d.comb += [reset_req.eq(pulse),
                                  reset_state.eq(wf["RESET_STATE"])]
                with md.If(is_reg["ETA"]):
                    ef = regs["ETA"].fields
                    md.d.sync += [eta.eq(dq[ef["ETA"].bits]), eta_o.eq(dq[ef["ETA_O"].bits])]
                with md.If(is_reg["LFSR"] & (dq != 0)):
                    md.d.comb += upd.lfsr_load.eq(1)
            with md.Elif(any_window & ok_q):
                pass
            with md.Else():
                md.d.comb += bad.eq(1)
        with md.If(rq & ~(known | (any_window & ok_q))):
            md.d.comb += bad.eq(1)
        with md.If(bad):
            md.d.sync += [err.eq(1), err_addr.eq(aq)]
        md.d.comb += upd.lfsr_load_value.eq(dq)

        # window writes and the unit write ports
        host_w = wq & ok_q
        md.d.comb += [
            w_wr.addr.eq(Mux(in_upd, upd.w_waddr, index["W"])),
            w_wr.data.eq(Mux(in_upd, upd.w_wdata, dq)),
            w_wr.en.eq(Mux(in_upd, upd.w_we, host_w & hit["W"])),
            u_wr.addr.eq(Mux(in_upd, upd.u_waddr, index["U"])),
            u_wr.data.eq(Mux(in_upd, upd.u_wdata, dq)),
            u_wr.en.eq(Mux(in_upd, upd.u_we, host_w & hit["U"])),
            v_wr.addr.eq(Mux(in_upd, upd.v_waddr, index["V"])),
            v_wr.data.eq(Mux(in_upd, upd.v_wdata, dq)),
            v_wr.en.eq(Mux(in_upd, upd.v_we, host_w & hit["V"])),
            c_wr.addr.eq(Mux(in_upd, upd.c_waddr, index["C"])),
            c_wr.data.eq(Mux(in_upd, upd.c_wdata, dq)),
            c_wr.en.eq(Mux(in_upd, upd.c_we, host_w & hit["C"])),
        ]
        # h: host writes, or zeros during a state reset
        md.d.comb += [fw.h_waddr.eq(Mux(in_reset, reset_cnt, index["H"])),
                      fw.h_wdata.eq(Mux(in_reset, 0, dq)),
                      fw.h_we.eq(Mux(in_reset, reset_h & (reset_cnt < n), host_w & hit["H"]))]
        # S: host writes, or zeros during a reset
        self._s_reset(md, in_reset, s_k, s_c, host_w & hit["S"], dq)
        return md

    def cycles_per_step(self, learn: bool = True, track: bool = True) -> int:
        """See :func:`cycles_per_step`."""
        return cycles_per_step(self.cfg, self.lanes, learn, track, self.engine.spram)

    # ---------------------------------------------------------------- helpers
    def _s_words(self) -> int:
        cfg = self.cfg
        return cfg.n * cfg.n * cfg.q if cfg.approx == "exact" else cfg.n * cfg.q

    def _s_reset(self, md, in_reset, s_k, s_c, host_we, wdata) -> None:
        """Drive the engine's S host port (an address in one cycle, its write in the next):
        zeros over all words during a reset (k and c from counters), else the bus (the
        address from the strobe's cycle, ``host_we`` and ``wdata`` from stage 1)."""
        cfg, eng = self.cfg, self.engine
        nq = cfg.n * cfg.q
        rk, rc = Signal.like(eng.s_k), Signal.like(eng.s_c)
        with md.If(in_reset):
            with md.If(rc == nq - 1):
                md.d.sync += [rc.eq(0), rk.eq(rk + 1)]
            with md.Else():
                md.d.sync += rc.eq(rc + 1)
        with md.Else():
            md.d.sync += [rk.eq(0), rc.eq(0)]
        reset_we = Signal()                      # the reset's write of last cycle's word
        md.d.sync += reset_we.eq(in_reset)
        md.d.comb += [eng.s_k.eq(Mux(in_reset, rk, s_k)), eng.s_c.eq(Mux(in_reset, rc, s_c)),
                      eng.s_wdata.eq(Mux(reset_we, 0, wdata)),
                      eng.s_we.eq(reset_we | host_we)]
