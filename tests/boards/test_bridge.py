"""The frame bridge in the Amaranth simulator, byte by byte, with the real core behind it:
every command, and bad frames (corrupted, truncated, over-long, unknown, no room) that
must be answered with an error and change no state; and, with a stub for the core, the
length rule of every command at every length against the protocol module's table."""

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtrledit.boards import protocol as P
from rtrledit.boards.bridge import Bridge
from rtrledit.hdl.regmap import ID_MAGIC, register_map
from rtrledit.model.config import Config

from .common import run_bridge

CFG = Config(hidden=3, inputs=2)
LANES = 2
RM = register_map(CFG, LANES)
W0 = RM["W"].base
TIMEOUT = 400


async def settle(ctx, cycles=TIMEOUT + 200):
    await ctx.tick().repeat(cycles)


def test_commands():
    async def bench(ctx, host, h):
        info = await host.request(ctx, P.encode_request(P.Cmd.INFO))
        assert info == P.info_payload(host.layout)
        assert await host.read_reg(ctx, RM["ID"].addr) == ID_MAGIC
        await host.write_reg(ctx, W0 + 4, -7)
        assert (await host.read_words(ctx, W0 + 4, 1)) == [-7]
        vals = list(range(-4, 5))
        await host.write_words(ctx, W0, vals)
        assert await host.read_words(ctx, W0, 9) == vals
        # the longest frame: WRITE_WIN of 63 words (LEN 255) over S row 0 (n·q = 18 words)
        # and the hole after it (bad accesses: the core sets STATUS.ERR)
        s0 = RM["S"].base
        big = [(-1) ** i * i for i in range(63)]
        await host.request(ctx, P.req_write_win(s0, big))
        assert await host.read_words(ctx, s0, 18) == big[:18]
        assert await host.read_reg(ctx, RM["STATUS"].addr) & 2
        await host.write_reg(ctx, RM["CTRL"].addr, 0x803)          # LEARN, TRACK, CLEAR_ERR
        await host.write_words(ctx, s0, [0] * 18)
        # a run of two samples, results read back
        await host.push(ctx, [[100, -100], [5, 6]], [[50], [-50]])
        got = []
        while len(got) < 2:
            got += await host.read_out(ctx, 10)
        assert len(got) == 2
        assert await host.read_reg(ctx, RM["STEPS"].addr) == 2
        assert await host.read_out(ctx, 10) == []
        # nothing was a bad bus access
        assert await host.read_reg(ctx, RM["STATUS"].addr) & 2 == 0
        return True
    assert run_bridge(CFG, LANES, bench, timeout=TIMEOUT)


def _w_frame(value=0x1234):
    return P.req_write_reg(W0, value)


def test_every_corrupted_byte_changes_nothing():
    frame = _w_frame()
    assert P.SYNC_REQ not in frame[1:]

    async def bench(ctx, host, h):
        await host.write_reg(ctx, W0, 77)
        seen = []
        for i in range(len(frame)):
            bad = bytearray(frame)
            bad[i] ^= 0x10 if bad[i] ^ 0x10 != P.SYNC_REQ else 0x20
            await host.link.send(ctx, bytes(bad))
            await settle(ctx)
            buf = bytes(host.link.received)
            host.link.received.clear()
            if i == 0:
                assert buf == b"", "a frame without its sync byte must be skipped silently"
                seen.append(None)
                continue
            cmd, status, payload, used = P.decode_response(buf)
            assert used == len(buf) and payload == b""
            want = P.Status.TIMEOUT if i == 2 else P.Status.BAD_CRC
            assert status == want, (i, status)
            seen.append(status)
            assert await host.read_words(ctx, W0, 1) == [77], f"byte {i} corrupted changed W"
        assert await host.read_reg(ctx, RM["STATUS"].addr) & 2 == 0
        return seen
    seen = run_bridge(CFG, LANES, bench, timeout=TIMEOUT)
    assert seen[1] == P.Status.BAD_CRC and seen[-1] == P.Status.BAD_CRC


def test_truncated_frames_time_out():
    frame = _w_frame()

    async def bench(ctx, host, h):
        await host.write_reg(ctx, W0, 77)
        for cut in (1, 2, 3, 6, len(frame) - 1):
            await host.link.send(ctx, frame[:cut])
            cmd, status, _ = await host.response(ctx, timeout=TIMEOUT + 100)
            assert status == P.Status.TIMEOUT, cut
            assert await host.read_words(ctx, W0, 1) == [77]
        return True
    assert run_bridge(CFG, LANES, bench, timeout=TIMEOUT)


def test_over_long_and_bad_frames():
    async def bench(ctx, host, h):
        # payload longer than LEN says: CRC taken from payload bytes -> BAD_CRC; the excess
        # is skipped and the next frame works
        await host.write_reg(ctx, W0, 77)
        frame = _w_frame()
        long = frame[:3] + frame[3:10] + b"\x11\x22" + frame[10:]
        await host.link.send(ctx, long)
        await settle(ctx, 100)
        cmd, status, _, used = P.decode_response(bytes(host.link.received))
        host.link.received.clear()
        assert status == P.Status.BAD_CRC
        assert await host.read_words(ctx, W0, 1) == [77]
        # LEN too long for the command (valid CRC)
        await host.request(ctx, P.encode_request(P.Cmd.WRITE_REG, bytes(8)), P.Status.BAD_LEN)
        await host.request(ctx, P.encode_request(P.Cmd.READ_REG, bytes(2)), P.Status.BAD_LEN)
        await host.request(ctx, P.encode_request(P.Cmd.WRITE_WIN, bytes(8)), P.Status.BAD_LEN)
        await host.request(ctx, P.encode_request(P.Cmd.READ_WIN, W0.to_bytes(3, "little") +
                                                 bytes([64])), P.Status.BAD_LEN)
        await host.request(ctx, P.encode_request(P.Cmd.READ_WIN, W0.to_bytes(3, "little") +
                                                 bytes([0])), P.Status.BAD_LEN)
        sb = host.layout.sample_bytes
        await host.request(ctx, P.encode_request(P.Cmd.PUSH, bytes(sb + 1)), P.Status.BAD_LEN)
        await host.request(ctx, P.encode_request(0x7E, b""), P.Status.BAD_CMD)
        # garbage before the sync byte is skipped
        await host.link.send(ctx, b"\x00\xff\x13")
        assert await host.read_reg(ctx, RM["ID"].addr) == ID_MAGIC
        # no room for the results: FULL, and not a single sample taken
        await host.push(ctx, [[1, 2]] * 20, [[0]] * 20)
        await host.push(ctx, [[1, 2]] * 20, [[0]] * 20, expect=P.Status.FULL)
        await settle(ctx, 3000)
        assert await host.read_reg(ctx, RM["STEPS"].addr) == 20
        got = []
        while len(got) < 20:
            got += await host.read_out(ctx, 7)
        assert len(got) == 20
        await host.push(ctx, [[1, 2]] * 20, [[0]] * 20)           # room again
        await settle(ctx, 3000)
        assert await host.read_words(ctx, W0, 1) == [77]
        assert await host.read_reg(ctx, RM["STATUS"].addr) & 2 == 0
        return True
    assert run_bridge(CFG, LANES, bench, timeout=TIMEOUT, fifo_depth=32)



class _LengthBench(Elaboratable):
    """The bridge alone at full speed: gateware feeds it ``frames`` one after the other
    (the next once the response to the last has been sent) and keeps each response's
    STATUS byte in ``statuses``; ``done`` rises after the last response. The core is a
    stub: bus accesses are acknowledged the next cycle (reads 0), each sample is answered
    by a zero result the next cycle."""

    def __init__(self, bridge: Bridge, frames: list[bytes]) -> None:
        self.bridge, self.n = bridge, len(frames)
        rom = [b | ((i == len(f) - 1) << 8) for f in frames for i, b in enumerate(f)]
        self.rom = Memory(shape=9, depth=len(rom), init=rom)
        self.statuses = Memory(shape=8, depth=self.n, init=[])
        self.done = Signal()

    def elaborate(self, platform) -> Module:
        m = Module()
        b = self.bridge
        m.submodules.bridge, m.submodules.rom, m.submodules.st = b, self.rom, self.statuses
        m.d.sync += [b.bus.ack.eq(b.bus.r_stb | b.bus.w_stb), b.result.valid.eq(b.sample.valid)]
        m.d.comb += [b.sample.ready.eq(1), b.tx.ready.eq(1)]
        rd = self.rom.read_port(domain="comb")
        st = self.statuses.write_port()
        ptr, frame = Signal(range(self.rom.depth)), Signal(range(self.n + 1))
        ridx, rlen = Signal(9), Signal(8)
        m.d.comb += [rd.addr.eq(ptr), st.addr.eq(frame), st.data.eq(b.tx.payload),
                     self.done.eq(frame == self.n)]
        with m.FSM():
            with m.State("SEND"):
                m.d.comb += [b.rx_data.eq(rd.data[:8]), b.rx_valid.eq(~self.done)]
                with m.If(~self.done):
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(rd.data[8]):
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(b.tx.valid):
                    m.d.sync += ridx.eq(ridx + 1)
                    m.d.comb += st.en.eq(ridx == 2)
                    with m.If(ridx == 3):
                        m.d.sync += rlen.eq(b.tx.payload)
                    with m.If((ridx > 3) & (ridx == rlen + 5)):
                        m.d.sync += [ridx.eq(0), frame.eq(frame + 1)]
                        m.next = "SEND"
        return m


@pytest.mark.parametrize("cfg,cmds", [(CFG, P.Cmd.ALL), (Config(hidden=2, inputs=1), [P.Cmd.PUSH])])
def test_every_length_of_every_command_is_checked_as_the_protocol_says(cfg, cmds):
    """OK/FULL or BAD_LEN for each command at each LEN 0..255 (payload bytes 0x01: READ_WIN
    asks one word, READ_OUT one result), against :func:`protocol.valid_length`; PUSH with
    samples of 6 bytes (checked by the sample counter) and of 4 (a power of two)."""
    bridge = Bridge(cfg, timeout=TIMEOUT)
    assert bridge.layout.sample_bytes == (6 if cfg is CFG else 4)
    cases = [(cmd, n) for cmd in cmds for n in range(256)]
    dut = _LengthBench(bridge, [P.encode_request(cmd, bytes([1]) * n) for cmd, n in cases])
    got = []

    async def bench(ctx):
        await ctx.changed(dut.done)
        got.extend(ctx.get(dut.statuses.data[i]) for i in range(len(cases)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    wrong = [(P.Cmd.NAMES[cmd], n, P.Status.NAMES.get(s, s)) for (cmd, n), s in zip(cases, got)
             if (s != P.Status.BAD_LEN) != P.valid_length(cmd, n, bridge.layout)
             or s not in (P.Status.OK, P.Status.FULL, P.Status.BAD_LEN)]
    assert not wrong, wrong[:10]
