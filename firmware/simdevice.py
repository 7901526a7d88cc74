"""A simulated device: the board's frame bridge and learning core running in Amaranth's
simulator, behind a byte pipe — so the host drivers (Python and C) can talk to it exactly
as they talk to a board over its serial port.

Run as a process::

    python -m rtrledit.firmware.simdevice --config cfg.json --lanes 1 [--link byte|uart]

Request bytes are read from stdin (or ``--rx FIFO``), response bytes written to stdout (or
``--tx FIFO``). ``--link byte`` feeds the bridge one byte per clock (fast); ``--link uart``
drives the board top's UART pins bit by bit (the whole top, slower).

Timing: the simulator runs while anything happens (bytes in or out, a step computing) and
for the device's frame timeout afterwards, then blocks until the host sends more, so an idle
device costs no CPU. A frame truncated by the host times out after its silence has lasted
the timeout in simulated cycles: the simulated clock advances in small chunks while the
host is silent (``--quantum-ms``), so a host that is merely slow to write the rest of a
frame (less than the quantum) is not cut off.
"""

from __future__ import annotations

import argparse
import os
import select
import sys

__all__ = ["SimDevice", "main"]


class SimDevice:
    """The simulated device behind two file descriptors (``rx_fd``: request bytes in,
    ``tx_fd``: response bytes out). :meth:`run` returns when ``rx_fd`` reaches end of file.

    Parameters
    ----------
    cfg : Config
    lanes : int
    link : "byte" or "uart"
    timeout : int
        Frame timeout of the bridge in clock cycles (``byte`` link; the ``uart`` link uses
        the board top's 16 byte times).
    fifo_depth : int
    quantum_ms : float
        Wall time of host silence, inside a frame, that counts as ``chunk`` cycles.
    """

    def __init__(self, cfg, lanes: int = 1, link: str = "byte", timeout: int = 400,
                 fifo_depth: int = 32, quantum_ms: float = 5.0, divisor: int = 4) -> None:
        from amaranth.sim import Simulator

        from ..boards.hostsim import BridgeHarness, ByteLink, UartLink
        from ..boards.target import Target
        from ..boards.top import BoardTop
        self.cfg, self.lanes, self.link_kind = cfg, lanes, link
        if link == "byte":
            self.dut = BridgeHarness(cfg, lanes, timeout=timeout, fifo_depth=fifo_depth)
            self.core = self.dut.core
            self.link = ByteLink(self.dut.bridge)
            self.timeout = timeout
        elif link == "uart":
            self.dut = BoardTop(cfg, Target(lanes=lanes, fifo_depth=fifo_depth), divisor=divisor)
            self.core = self.dut.core
            self.link = UartLink(self.dut, divisor)
            self.timeout = self.dut.bridge.timeout
        else:
            raise ValueError(f"unknown link {link!r} (byte or uart)")
        self.quantum = quantum_ms / 1000.0
        self.chunk = max(8, self.timeout // 8)
        self.sim = Simulator(self.dut)
        self.sim.add_clock(1e-6)
        self.sim.add_process(self.link.collector)
        self.sim.add_process(self._monitor)
        self._rx_fd = self._tx_fd = -1
        self.cycles = 0
        self.inflight = 0
        self.last_activity = -(1 << 30)

    # ------------------------------------------------------------------ the loop
    def run(self, rx_fd: int, tx_fd: int) -> None:
        self._rx_fd, self._tx_fd = rx_fd, tx_fd
        self.sim.add_testbench(self._bench)
        try:
            self.sim.run()
        except _EOF:
            pass

    def _flush_out(self) -> bool:
        buf = self.link.received
        if not buf:
            return False
        data = bytes(buf)
        del buf[:]
        try:
            view = memoryview(data)
            while view:
                k = os.write(self._tx_fd, view)
                view = view[k:]
        except (BrokenPipeError, OSError):
            raise _EOF from None
        return True

    def _read_available(self, wait: float | None) -> bytes:
        """Bytes the host has sent (waiting up to ``wait`` seconds, None: forever)."""
        r, _, _ = select.select([self._rx_fd], [], [], wait)
        if not r:
            return b""
        data = os.read(self._rx_fd, 4096)
        if not data:
            raise _EOF
        return data

    async def _monitor(self, ctx) -> None:
        """Counts cycles, samples in flight in the core, and the last cycle with activity."""
        core = self.core
        async for _, _, sv, sr, rv, rr in ctx.tick().sample(
                core.sample.valid, core.sample.ready, core.result.valid, core.result.ready):
            self.cycles += 1
            if sv and sr:
                self.inflight += 1
                self.last_activity = self.cycles
            if rv and rr:
                self.inflight -= 1
                self.last_activity = self.cycles
            if self.link.received:
                self.last_activity = self.cycles

    async def _bench(self, ctx) -> None:
        if self.link_kind == "uart":
            ctx.set(self.dut.rx, 1)
            await ctx.tick().repeat(20)
        while True:
            self._flush_out()
            quiet = self.cycles - self.last_activity
            busy = self.inflight > 0 or quiet < self.timeout + 32
            data = self._read_available(0 if busy else None)
            if not data and busy and self.inflight == 0 and quiet > 64:
                # inside a frame (or just after one) and the host is silent: give it a
                # quantum of wall time before the simulated clock moves on
                data = self._read_available(self.quantum)
            if data:
                await self.link.send(ctx, data)
                self.last_activity = self.cycles
            elif busy:
                await ctx.tick().repeat(self.chunk if self.inflight == 0 else 32)


class _EOF(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    from ..model.config import Config
    p = argparse.ArgumentParser(prog="python -m rtrledit.firmware.simdevice",
                                description="the board (bridge + core) in Amaranth's "
                                "simulator behind stdin/stdout or FIFOs")
    p.add_argument("--config", help="Config file (.toml/.json) or a JSON object")
    p.add_argument("--lanes", type=int, default=1)
    p.add_argument("--link", choices=("byte", "uart"), default="byte")
    p.add_argument("--timeout", type=int, default=400, help="frame timeout in cycles (byte link)")
    p.add_argument("--fifo-depth", type=int, default=32)
    p.add_argument("--rx", help="read requests from this file/FIFO (default stdin)")
    p.add_argument("--tx", help="write responses to this file/FIFO (default stdout)")
    a = p.parse_args(argv)
    if a.config is None:
        cfg = Config(hidden=2, inputs=1, outputs=1)
    elif a.config.lstrip().startswith("{"):
        import json
        cfg = Config.from_dict(json.loads(a.config))
    else:
        cfg = Config.load(a.config)
    dev = SimDevice(cfg, a.lanes, a.link, timeout=a.timeout, fifo_depth=a.fifo_depth)
    rx = os.open(a.rx, os.O_RDONLY) if a.rx else sys.stdin.fileno()
    tx = os.open(a.tx, os.O_WRONLY) if a.tx else sys.stdout.fileno()
    # the simulator is ready (elaborated) before the first byte is answered; say so on stderr
    print("simdevice: ready", file=sys.stderr, flush=True)
    dev.run(rx, tx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
