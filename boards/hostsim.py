"""A host for the Amaranth simulator: sends request frames to the bridge or the board top,
byte by byte (or bit by bit on the UART pin), and decodes its responses.

Used by ``tests/boards``; the same encoder/decoder (:mod:`.protocol`) serves real hosts.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable

from ..sim.job import StallGenerators
from . import protocol as P

__all__ = ["ByteLink", "UartLink", "Host", "BridgeHarness"]


class ByteLink(StallGenerators):
    """Bytes straight into :class:`~.bridge.Bridge` (``rx_data``/``rx_valid``), one per
    ``gap + 1`` cycles, and out of its ``tx`` stream.

    Stalls as cocotbext-axi makes them, one draw per byte: the idle generator
    (:meth:`set_idle_generator`) adds cycles with ``rx_valid`` low before each byte sent;
    the back-pressure generator (:meth:`set_backpressure_generator`) holds ``tx.ready``
    low for that many cycles after each ``tx.valid`` (none: ``tx.ready`` high). A byte
    that changes, or whose ``valid`` drops, while held is recorded in
    :attr:`protocol_errors`; :attr:`stall_cycles` counts the cycles both added."""

    def __init__(self, bridge, gap: int = 0) -> None:
        self.br, self.gap = bridge, gap
        self.received = bytearray()
        self.protocol_errors: list[str] = []
        self.stall_cycles = 0

    async def collector(self, ctx) -> None:
        tx = self.br.tx
        low, held = self.draw(self._backpressure), None   # held: the byte seen while ready low
        ctx.set(tx.ready, 0 if low else 1)
        async for _, _, v, r, d in ctx.tick().sample(tx.valid, tx.ready, tx.payload):
            if held is not None and (not v or d != held):
                self.protocol_errors.append(f"byte {len(self.received)}: valid or data "
                                            f"changed while tx.ready was low")
            if v and r:
                self.received.append(d)
                low, held = self.draw(self._backpressure), None
                ctx.set(tx.ready, 0 if low else 1)
            elif v:
                held, low = d, low - 1
                self.stall_cycles += 1
                if low <= 0:
                    ctx.set(tx.ready, 1)

    async def send(self, ctx, data: bytes) -> None:
        for b in data:
            idle = self.draw(self._idle)
            if idle:
                self.stall_cycles += idle
                await ctx.tick().repeat(idle)
            ctx.set(self.br.rx_data, b)
            ctx.set(self.br.rx_valid, 1)
            await ctx.tick()
            ctx.set(self.br.rx_valid, 0)
            if self.gap:
                await ctx.tick().repeat(self.gap)


class UartLink(StallGenerators):
    """8N1 bits on the top's ``rx`` pin; decodes its ``tx`` pin (``divisor`` cycles/bit).
    The idle generator (:meth:`set_idle_generator`) adds idle bit times (line high)
    before each character; a UART has no back-pressure."""

    def __init__(self, top, divisor: int) -> None:
        self.top, self.div = top, divisor
        self.received = bytearray()

    async def collector(self, ctx) -> None:
        state, cnt, bit, sr = "idle", 0, 0, 0
        async for _, _, pin in ctx.tick().sample(self.top.tx):
            if state == "idle":
                if not pin:
                    state, cnt, bit, sr = "data", self.div + self.div // 2 - 1, 0, 0
            elif cnt:
                cnt -= 1
            elif bit < 8:
                sr |= pin << bit
                bit, cnt = bit + 1, self.div - 1
            else:
                if pin:                       # stop bit
                    self.received.append(sr)
                state = "idle" if pin else "wait"
            if state == "wait" and pin:
                state = "idle"

    async def send(self, ctx, data: bytes) -> None:
        for b in data:
            idle = self.draw(self._idle)
            if idle:
                ctx.set(self.top.rx, 1)
                await ctx.tick().repeat(self.div * idle)
            for level in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                ctx.set(self.top.rx, level)
                await ctx.tick().repeat(self.div)


class Host:
    """Requests and responses over a link (``ByteLink`` or ``UartLink``)."""

    def __init__(self, link, layout: P.Layout) -> None:
        self.link, self.layout = link, layout

    async def response(self, ctx, timeout: int = 200_000) -> tuple[int, int, bytes]:
        """The next response frame: (cmd, status, payload). Skips nothing: the first byte
        received must start a response."""
        buf = self.link.received
        for _ in range(timeout):
            if len(buf) >= 4 and len(buf) >= 6 + buf[3]:
                cmd, status, payload, used = P.decode_response(bytes(buf))
                del buf[:used]
                return cmd, status, payload
            await ctx.tick()
        raise TimeoutError(f"no complete response within {timeout} cycles (got {bytes(buf).hex()})")

    async def request(self, ctx, frame: bytes, expect: int = P.Status.OK) -> bytes:
        await self.link.send(ctx, frame)
        cmd, status, payload = await self.response(ctx)
        if cmd != frame[1]:
            raise P.ProtocolError(f"response to 0x{cmd:02x}, expected 0x{frame[1]:02x}")
        if status != expect:
            raise P.ProtocolError(f"status {P.Status.NAMES.get(status, status)}, expected "
                                  f"{P.Status.NAMES.get(expect, expect)}", status)
        return payload

    async def read_reg(self, ctx, addr: int) -> int:
        return int.from_bytes(await self.request(ctx, P.req_read_reg(addr)), "little")

    async def write_reg(self, ctx, addr: int, value: int) -> None:
        await self.request(ctx, P.req_write_reg(addr, value))

    async def write_words(self, ctx, addr: int, values) -> None:
        values = [int(v) for v in values]
        for k in range(0, len(values), P.MAX_WORDS):
            await self.request(ctx, P.req_write_win(addr + k, values[k:k + P.MAX_WORDS]))

    async def read_words(self, ctx, addr: int, count: int) -> list[int]:
        out = []
        for k in range(0, count, P.MAX_WORDS):
            c = min(P.MAX_WORDS, count - k)
            pl = await self.request(ctx, P.req_read_win(addr + k, c))
            out += [int.from_bytes(pl[4 * i:4 * i + 4], "little", signed=True) for i in range(c)]
        return out

    async def push(self, ctx, xs, ds, expect: int = P.Status.OK) -> None:
        await self.request(ctx, P.req_push(self.layout, xs, ds), expect)

    async def read_out(self, ctx, maximum: int) -> list[tuple[list[int], int]]:
        return self.layout.unpack_results(await self.request(ctx, P.req_read_out(maximum)))


class BridgeHarness(Elaboratable):
    """A :class:`~.bridge.Bridge` wired to a :class:`~rtrledit.hdl.core.Core` (no UART):
    ``harness.bridge`` takes bytes directly. Elaboratable."""

    def __init__(self, cfg, lanes: int, timeout: int = 400, fifo_depth: int = 32) -> None:
        from ..hdl.core import Core
        from .bridge import Bridge
        self.core = Core(cfg, lanes)
        self.bridge = Bridge(cfg, timeout=timeout, fifo_depth=fifo_depth)

    def elaborate(self, platform):
        from amaranth.hdl import Module
        from amaranth.lib import wiring
        m = Module()
        m.submodules.core, m.submodules.bridge = self.core, self.bridge
        wiring.connect(m, self.bridge.bus, self.core.bus)
        wiring.connect(m, self.bridge.sample, self.core.sample)
        wiring.connect(m, self.core.result, self.bridge.result)
        return m
