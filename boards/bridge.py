"""Frames ↔ the core: the gateware side of :mod:`rtrledit.boards.protocol`.

:class:`Bridge` takes received bytes (``rx_data``/``rx_valid``, one-cycle pulses, as from
:class:`~rtrledit.boards.uart.UARTRx`), assembles a request frame into a 256-byte buffer,
checks it (CRC, command, length, room for results) and only then executes it on the core's
register bus (``bus``) and sample stream (``sample``); results of the core (``result``) go
into a FIFO that READ_OUT drains. Responses leave as a byte stream (``tx``).

A bad frame (CRC, unknown command, bad length, no room, timeout inside a frame) is
answered with an error status and changes no state. Bytes outside a frame are skipped
until the sync byte; bytes that arrive while a request executes or a response is sent are
discarded (the host waits for each response).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..hdl.core import BusSignature, result_layout, sample_layout
from ..hdl.regmap import ADDR_WIDTH, CTRL, DATA_WIDTH, register_map
from ..model.config import Config
from .protocol import (ADDR_BYTES, CRC_INIT, MAX_PAYLOAD, MAX_WORDS, SYNC_REQ, SYNC_RSP,
                       WORD_BYTES, Cmd, Layout, Request, Status, crc16_update, info_payload,
                       request_rules)

__all__ = ["Bridge", "crc16_byte"]


def _crc_masks() -> list[tuple[int, int]]:
    """CRC-16/CCITT-FALSE of one byte is linear over GF(2) in (crc, byte): output bit i is
    the parity of (crc & mc[i]) xor the parity of (byte & md[i])."""
    masks = []
    for i in range(16):
        mc = sum(1 << b for b in range(16) if (crc16_update(1 << b, 0) >> i) & 1)
        md = sum(1 << b for b in range(8) if (crc16_update(0, 1 << b) >> i) & 1)
        masks.append((mc, md))
    return masks


_MASKS = _crc_masks()


def crc16_byte(crc, byte):
    """CRC-16/CCITT-FALSE of one byte as an Amaranth expression (an XOR network)."""
    bits = []
    for mc, md in _MASKS:
        terms = [crc[b] for b in range(16) if (mc >> b) & 1] + \
                [byte[b] for b in range(8) if (md >> b) & 1]
        bits.append(Cat(*terms).xor())
    return Cat(*bits)


class Bridge(wiring.Component):
    """The frame engine between a byte link and a :class:`~rtrledit.hdl.core.Core`.

    Parameters
    ----------
    cfg : Config
    timeout : int
        Clock cycles of silence after which a frame in progress is abandoned (TIMEOUT).
    fifo_depth : int
        Results the device can hold.
    """

    def __init__(self, cfg: Config, timeout: int, fifo_depth: int = 32) -> None:
        self.cfg, self.timeout = cfg, timeout
        self.layout = Layout.from_config(cfg, fifo_depth)
        self.ctrl_addr = register_map(cfg)["CTRL"].addr
        super().__init__({
            "rx_data": In(8), "rx_valid": In(1),
            "tx": Out(stream.Signature(8)),
            "bus": Out(BusSignature),
            "sample": Out(stream.Signature(sample_layout(cfg))),
            "result": In(stream.Signature(result_layout(cfg))),
            "learning": Out(1), "sat_seen": Out(1),
        })

    def _length_ok(self, rule: Request, length, push_ok):
        """The rule of :func:`~.protocol.request_rules` as logic: a comparison, low bits for
        a power-of-two unit, the sample counter for PUSH's."""
        if not rule.unit:
            return length == rule.head
        top = rule.head + rule.unit * rule.max_units
        if rule.unit & (rule.unit - 1) == 0:
            b = rule.unit.bit_length() - 1
            return ((length >= rule.head + rule.unit) & (length <= top)
                    & (length[:b] == rule.head % rule.unit))
        if rule.head == 0 and rule.unit == self.layout.sample_bytes:
            return push_ok
        raise ValueError(f"bridge: no length check for {rule} (a unit neither a power of "
                         "two nor the sample)")

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, lay = self.cfg, self.layout
        fm = cfg.formats
        SB, RB, D = lay.sample_bytes, lay.result_bytes, lay.fifo_depth

        buf = Memory(shape=8, depth=MAX_PAYLOAD + 1, init=[])
        m.submodules.buf = buf
        bw, br = buf.write_port(), buf.read_port(transparent_for=())
        fifo = SyncFIFOBuffered(width=RB * 8, depth=D)
        m.submodules.fifo = fifo

        # ---------------------------------------------------------------- results → FIFO
        res = self.result.payload
        word = Cat(*[Cat(res.y[o], *([res.y[o][-1]] * (lay.yb * 8 - fm.Y.w)))
                     for o in range(cfg.p)], res.flags, Const(0, 16 - len(res.flags)))
        m.d.comb += [fifo.w_data.eq(word), fifo.w_en.eq(self.result.valid),
                     self.result.ready.eq(fifo.w_rdy)]
        inflight = Signal()
        with m.If(self.sample.valid & self.sample.ready):
            m.d.sync += inflight.eq(1)
        with m.Elif(self.result.valid & self.result.ready):
            m.d.sync += inflight.eq(0)
        with m.If(self.result.valid & self.result.ready & (res.flags != 0)):
            m.d.sync += self.sat_seen.eq(1)
        # results READ_OUT may return: min(FIFO level, max_out), registered (the level's
        # adder and compare were the critical path); one cycle old it is never more than
        # the FIFO holds, since only READ_OUT takes from it
        held = Signal(8)
        m.d.sync += held.eq(Mux(fifo.level > lay.max_out, lay.max_out, fifo.level))
        learning = Signal(init=1)                  # the core resets with CTRL.LEARN = 1
        m.d.comb += self.learning.eq(learning)

        # ---------------------------------------------------------------- state
        cmd, length = Signal(8), Signal(8)
        last_idx = Signal(8)                        # length - 1: the compare is not an add
        idx = Signal(9)
        rcrc, rx_crc = Signal(16), Signal(16)
        tcrc = Signal(16)
        tmo = Signal(range(self.timeout + 1))
        status = Signal(8)
        rsp_len = Signal(8)
        rd_ptr = Signal(9)
        lpos, lcount = Signal(range(max(SB, 8) + 1)), Signal(range(max(SB, 8) + 1))
        phase = Signal()
        # loaded bytes shift in from the top: after loading k bytes, byte i of them sits at
        # bit LW - 8·(k - i) (field positions are constants per command)
        A, WB, WSH = ADDR_BYTES, WORD_BYTES, WORD_BYTES.bit_length() - 1
        LW = max(SB, A + WB) * 8
        lsr = Signal(LW)

        def field(k, offset, width):
            """Bits [offset, offset+width) of the last k loaded bytes."""
            return lsr[LW - 8 * k + offset:][:width]
        addr = Signal(ADDR_WIDTH)
        words = Signal(8)
        info = info_payload(lay)
        txsr = Signal(max(RB, len(info)) * 8)
        txcnt = Signal(range(max(RB, len(info)) + 1))
        stage = Signal()
        m.d.comb += [br.addr.eq(rd_ptr), bw.data.eq(self.rx_data), bw.addr.eq(idx)]

        byte = self.rx_data
        got = self.rx_valid
        bus = self.bus
        m.d.comb += bus.addr.eq(addr)

        # PUSH: samples in the frame, counted while the payload arrives (no divider):
        # LEN is valid when it is a whole number k of samples, 1 <= k <= max_push
        k_of_len = Signal(8)
        sbyte = Signal(range(SB))
        push_ok = Signal()
        m.d.comb += push_ok.eq((sbyte == 0) & (k_of_len >= 1) & (k_of_len <= lay.max_push))
        # k results would not fit the FIFO; registered (its adds and compare were the
        # critical path): CHECK comes after the two CRC bytes, and level + inflight only
        # moves when the bridge pushes or reads out, which it does not while it receives
        no_room = Signal()
        m.d.sync += no_room.eq(k_of_len + fifo.level + inflight > D)
        rules = request_rules(lay)
        len_ok = Signal()
        with m.Switch(cmd):
            for c, rule in rules.items():
                with m.Case(c):
                    m.d.comb += len_ok.eq(self._length_ok(rule, length, push_ok))
        known = Signal()
        m.d.comb += known.eq(sum((cmd == c) for c in rules) != 0)
        # the bytes loaded before executing: the fixed head, or the first unit (PUSH)
        head_bytes = Signal.like(lcount)
        with m.Switch(cmd):
            for c, rule in rules.items():
                with m.Case(c):
                    m.d.comb += head_bytes.eq(rule.head or rule.unit)
        nout = Signal(8)
        rb_times = Signal(8)                     # nout · RB as shifts and adds
        terms = [nout << b for b in range(RB.bit_length()) if (RB >> b) & 1]
        m.d.comb += rb_times.eq(sum(terms[1:], terms[0]))

        # ---------------------------------------------------------------- transmitter
        tx = self.tx
        tx_byte = Signal(8)
        tx_crc_on = Signal()
        m.d.comb += tx.payload.eq(tx_byte)
        with m.If(tx.valid & tx.ready & tx_crc_on):
            m.d.sync += tcrc.eq(crc16_byte(tcrc, tx_byte))

        def send(md, value, nxt, crc=True):
            md.d.comb += [tx.valid.eq(1), tx_byte.eq(value), tx_crc_on.eq(crc)]
            with md.If(tx.ready):
                md.next = nxt

        def fail(md, code):
            md.d.sync += [status.eq(code), rsp_len.eq(0)]
            md.next = "RSP_SYNC"

        with m.FSM(name="bridge"):
            # ------------------------------------------------------------ receive
            with m.State("SYNC"):
                m.d.sync += [tmo.eq(0), rcrc.eq(CRC_INIT), idx.eq(0), cmd.eq(0),
                             k_of_len.eq(0), sbyte.eq(0)]
                with m.If(got & (byte == SYNC_REQ)):
                    m.next = "CMD"

            def rx_state(name, on_byte):
                with m.State(name):
                    with m.If(got):
                        m.d.sync += tmo.eq(0)
                        on_byte()
                    with m.Elif(tmo == self.timeout):
                        fail(m, Status.TIMEOUT)
                    with m.Else():
                        m.d.sync += tmo.eq(tmo + 1)

            def on_cmd():
                m.d.sync += [cmd.eq(byte), rcrc.eq(crc16_byte(rcrc, byte))]
                m.next = "LEN"

            def on_len():
                m.d.sync += [length.eq(byte), last_idx.eq(byte - 1),
                             rcrc.eq(crc16_byte(rcrc, byte))]
                m.next = "PAY"
                with m.If(byte == 0):
                    m.next = "CRC0"

            def on_pay():
                m.d.comb += bw.en.eq(1)
                m.d.sync += [idx.eq(idx + 1), rcrc.eq(crc16_byte(rcrc, byte))]
                with m.If(sbyte == SB - 1):
                    m.d.sync += [sbyte.eq(0), k_of_len.eq(k_of_len + 1)]
                with m.Else():
                    m.d.sync += sbyte.eq(sbyte + 1)
                with m.If(idx == last_idx):
                    m.next = "CRC0"

            def on_crc0():
                m.d.sync += rx_crc[:8].eq(byte)
                m.next = "CRC1"

            def on_crc1():
                m.d.sync += rx_crc[8:].eq(byte)
                m.next = "CHECK"

            rx_state("CMD", on_cmd)
            rx_state("LEN", on_len)
            rx_state("PAY", on_pay)
            rx_state("CRC0", on_crc0)
            rx_state("CRC1", on_crc1)

            # ------------------------------------------------------------ check
            # the frame's verdict, registered: the CRC compare and the length rules are
            # kept apart from the next-state logic (they were the critical path)
            verdict = Signal(8)
            with m.State("CHECK"):
                m.d.sync += verdict.eq(
                    Mux(rx_crc != rcrc, Status.BAD_CRC,
                        Mux(~known, Status.BAD_CMD,
                            Mux(~len_ok, Status.BAD_LEN,
                                Mux((cmd == Cmd.PUSH) & no_room, Status.FULL, Status.OK)))))
                m.next = "VERDICT"
            with m.State("VERDICT"):
                m.d.sync += [rd_ptr.eq(0), lpos.eq(0), lcount.eq(head_bytes),
                             phase.eq(0), stage.eq(0), status.eq(Status.OK), rsp_len.eq(0)]
                with m.If(verdict != Status.OK):
                    fail(m, verdict)
                with m.Else():
                    m.d.sync += words.eq(Mux(cmd == Cmd.PUSH, k_of_len, 0))
                    m.next = "LOAD"

            # ------------------------------------------------------------ load payload bytes
            with m.State("LOAD"):
                with m.If(lpos == lcount):
                    m.next = "GO"
                with m.Elif(~phase):
                    m.d.sync += phase.eq(1)
                with m.Else():
                    m.d.sync += [lsr.eq(Cat(lsr[8:], br.data)), lpos.eq(lpos + 1),
                                 rd_ptr.eq(rd_ptr + 1), phase.eq(0)]

            def reload(md, nbytes):
                md.d.sync += [lpos.eq(0), lcount.eq(nbytes), phase.eq(0)]
                md.next = "LOAD"

            # ------------------------------------------------------------ execute
            with m.State("GO"):
                with m.Switch(cmd):
                    with m.Case(Cmd.INFO):
                        m.d.sync += [txsr.eq(Const(int.from_bytes(info, "little"), 8 * len(info))),
                                     rsp_len.eq(len(info)), words.eq(1)]
                        m.next = "RSP_SYNC"
                    with m.Case(Cmd.READ_REG):
                        m.d.sync += addr.eq(field(A, 0, ADDR_WIDTH))
                        m.next = "BUS_READ"
                    with m.Case(Cmd.WRITE_REG):
                        m.d.sync += addr.eq(field(A + WB, 0, ADDR_WIDTH))
                        m.next = "BUS_WRITE"
                    with m.Case(Cmd.READ_WIN):
                        cnt = field(A + 1, ADDR_WIDTH, 8)
                        with m.If((cnt == 0) | (cnt > MAX_WORDS)):
                            fail(m, Status.BAD_LEN)
                        with m.Else():
                            m.d.sync += [addr.eq(field(A + 1, 0, ADDR_WIDTH)), words.eq(cnt),
                                         rsp_len.eq(cnt << WSH)]
                            m.next = "RSP_SYNC"
                    with m.Case(Cmd.WRITE_WIN):
                        with m.If(~stage):
                            m.d.sync += [addr.eq(field(A, 0, ADDR_WIDTH)),
                                         words.eq((length - A) >> WSH),
                                         stage.eq(1)]
                            reload(m, WB)
                        with m.Else():
                            m.next = "BUS_WRITE"
                    with m.Case(Cmd.PUSH):
                        m.d.comb += self.sample.valid.eq(1)
                        with m.If(self.sample.ready):
                            m.d.sync += words.eq(words - 1)
                            with m.If(words == 1):
                                m.next = "RSP_SYNC"
                            with m.Else():
                                reload(m, SB)
                    with m.Case(Cmd.READ_OUT):
                        want = field(1, 0, 8)
                        n = Mux(want < held, want, held)
                        m.d.sync += [nout.eq(n), words.eq(n)]
                        m.next = "OUT_LEN"
            with m.State("OUT_LEN"):
                m.d.sync += rsp_len.eq(rb_times)
                m.next = "RSP_SYNC"

            # ------------------------------------------------------------ bus accesses
            with m.State("BUS_READ"):
                m.d.comb += bus.r_stb.eq(1)
                m.next = "BUS_RACK"
            with m.State("BUS_RACK"):
                with m.If(bus.ack):
                    m.d.sync += [txsr.eq(bus.r_data), txcnt.eq(WB), addr.eq(addr + 1)]
                    with m.If(cmd == Cmd.READ_REG):
                        m.d.sync += [rsp_len.eq(4), words.eq(1)]
                        m.next = "RSP_SYNC"
                    with m.Else():                             # READ_WIN, inside the payload
                        m.d.sync += words.eq(words - 1)
                        m.next = "SEND"
            with m.State("BUS_WRITE"):
                m.d.comb += [bus.w_stb.eq(1),
                             bus.w_data.eq(field(WB, 0, DATA_WIDTH))]
                with m.If(addr == self.ctrl_addr):
                    m.d.sync += learning.eq(bus.w_data[CTRL["LEARN"][0]])
                    with m.If(bus.w_data[CTRL["CLEAR_SAT"][0]]):
                        m.d.sync += self.sat_seen.eq(0)
                m.next = "BUS_WACK"
            with m.State("BUS_WACK"):
                with m.If(bus.ack):
                    m.d.sync += addr.eq(addr + 1)
                    with m.If((cmd == Cmd.WRITE_WIN) & (words != 1)):
                        m.d.sync += words.eq(words - 1)
                        reload(m, WB)
                    with m.Else():
                        m.next = "RSP_SYNC"

            # ------------------------------------------------------------ respond
            with m.State("RSP_SYNC"):
                m.d.sync += tcrc.eq(CRC_INIT)
                send(m, SYNC_RSP, "RSP_CMD", crc=False)
            with m.State("RSP_CMD"):
                send(m, cmd, "RSP_STATUS")
            with m.State("RSP_STATUS"):
                send(m, status, "RSP_LEN")
            with m.State("RSP_LEN"):
                send(m, rsp_len, "NEXT")
                with m.If(tx.ready & (rsp_len == 0)):
                    m.next = "RSP_CRC0"
            with m.State("NEXT"):                          # the next chunk of the payload
                with m.If(words == 0):
                    m.next = "RSP_CRC0"
                with m.Elif(cmd == Cmd.READ_WIN):
                    m.next = "BUS_READ"
                with m.Elif(cmd == Cmd.READ_OUT):
                    m.d.comb += fifo.r_en.eq(1)
                    m.d.sync += [txsr.eq(fifo.r_data), txcnt.eq(RB), words.eq(words - 1)]
                    m.next = "SEND"
                with m.Else():                             # INFO, READ_REG: txsr holds it
                    m.d.sync += [txcnt.eq(rsp_len), words.eq(0)]
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [tx.valid.eq(1), tx_byte.eq(txsr[:8]), tx_crc_on.eq(1)]
                with m.If(tx.ready):
                    m.d.sync += [txsr.eq(txsr >> 8), txcnt.eq(txcnt - 1)]
                    with m.If(txcnt == 1):
                        m.next = "NEXT"
            with m.State("RSP_CRC0"):
                send(m, tcrc[:8], "RSP_CRC1", crc=False)
            with m.State("RSP_CRC1"):
                send(m, tcrc[8:], "SYNC", crc=False)

        # the sample being pushed: bytes → the core's payload (low bits of each element)
        sp = self.sample.payload
        for e in range(cfg.m):
            m.d.comb += sp.x[e].eq(field(SB, e * lay.xb * 8, fm.X.w))
        base = cfg.m * lay.xb * 8
        for o in range(cfg.p):
            m.d.comb += sp.d[o].eq(field(SB, base + o * lay.yb * 8, fm.Y.w))
        return m
