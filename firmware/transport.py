"""Byte transports for the host driver (:class:`~rtrledit.firmware.host.Device`).

A transport moves raw bytes; frames and retries are :mod:`.frames` above it. Four kinds:

- :class:`SerialTransport` — a serial port (pyserial), e.g. ``/dev/ttyUSB0`` of a board;
- :class:`BoardSimTransport` — the virtual board (:mod:`rtrledit.boards.virtual`: the board
  top under Verilator, its UART on a pseudo-terminal) in a child process, through its pty
  with pyserial: no hardware needed;
- :class:`SimTransport` — the frame-level simulated device (:mod:`.simdevice`: the board's
  bridge and core in Amaranth's simulator) in a child process, through pipes (a test tool);
- :class:`FdTransport` — any pair of file descriptors (pipes, FIFOs, a pty).

Every transport has ``write(data)``, ``read(n, timeout) -> bytes`` (at most ``n`` bytes;
fewer only when ``timeout`` seconds passed), ``flush_input()``, ``close()`` and a
``default_timeout`` (seconds a response may take).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

#: A serial port's baud rate unless told (the board's UART's default too).
DEFAULT_BAUD = 115200

__all__ = ["Transport", "FdTransport", "SimTransport", "SerialTransport", "BoardSimTransport",
           "open_transport", "DEFAULT_BAUD"]


class Transport:
    """The interface (and a context manager)."""

    default_timeout = 1.0

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int, timeout: float) -> bytes:
        raise NotImplementedError

    def flush_input(self) -> None:
        """Drop bytes received but not read."""
        while self.read(4096, 0.0):
            pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FdTransport(Transport):
    """Bytes out on ``tx_fd``, in from ``rx_fd`` (raw file descriptors)."""

    def __init__(self, rx_fd: int, tx_fd: int) -> None:
        self.rx_fd, self.tx_fd = rx_fd, tx_fd

    def write(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        try:
            while view:
                k = os.write(self.tx_fd, view)
                view = view[k:]
        except (BrokenPipeError, OSError) as e:
            raise ConnectionError(f"the device's link is closed ({e})") from None

    def read(self, n: int, timeout: float) -> bytes:
        out = bytearray()
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.rx_fd], [], [], left)
            if not r:
                break
            chunk = os.read(self.rx_fd, n - len(out))
            if not chunk:                          # end of file: the device is gone
                if not out:
                    self._closed()
                break
            out += chunk
        return bytes(out)

    def _closed(self) -> None:
        raise ConnectionError("the device closed the link")


class SimTransport(FdTransport):
    """The simulated device in a child process (``python -m rtrledit.firmware.simdevice``).

    Parameters
    ----------
    cfg : Config
        The core's configuration (the simulated device is built from it).
    lanes : int
    link : "byte" or "uart"
        Bytes straight into the bridge, or bits on the board top's UART pins.
    startup : float
        Seconds to wait for the simulator to elaborate the design.
    """

    default_timeout = 60.0      # a simulated step is ~10⁴ times slower than a board's

    def __init__(self, cfg, lanes: int = 1, link: str = "byte", timeout: int = 400,
                 fifo_depth: int = 32, startup: float = 120.0) -> None:
        self.cfg, self.lanes, self.fifo_depth = cfg, lanes, fifo_depth
        self._log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "rtrledit.firmware.simdevice",
               "--config", json.dumps(cfg.to_dict()), "--lanes", str(lanes), "--link", link,
               "--timeout", str(timeout), "--fifo-depth", str(fifo_depth)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, bufsize=0)
        super().__init__(self.proc.stdout.fileno(), self.proc.stdin.fileno())
        self._wait_ready(startup)

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def _wait_ready(self, startup: float) -> None:
        deadline = time.monotonic() + startup
        while time.monotonic() < deadline:
            if "simdevice: ready" in self.log():
                return
            if self.proc.poll() is not None:
                raise ConnectionError(f"the simulated device failed to start:\n{self.log()}")
            time.sleep(0.02)
        self.close()
        raise TimeoutError(f"the simulated device did not start within {startup:.0f} s")

    def _closed(self) -> None:
        raise ConnectionError(f"the simulated device stopped:\n{self.log()[-2000:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()            # end of file: the simulator returns
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._log.close()


class SerialTransport(Transport):
    """A serial port (8N1) through pyserial."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD) -> None:
        try:
            import serial
        except ImportError:
            raise ValueError("the serial transport needs pyserial: pip install pyserial") from None
        try:
            self.ser = serial.Serial(port, baud, timeout=0, write_timeout=5)
        except (serial.SerialException, OSError) as e:
            raise ValueError(f"cannot open serial port {port}: {e}") from None
        self.baud = baud
        self.default_timeout = 1.0 + 3000 * 10 / baud   # a frame both ways, with headroom

    def write(self, data: bytes) -> None:
        with self._gone():
            self.ser.write(bytes(data))
            self.ser.flush()

    def read(self, n: int, timeout: float) -> bytes:
        with self._gone():
            self.ser.timeout = timeout
            return bytes(self.ser.read(n))

    def flush_input(self) -> None:
        with self._gone():
            self.ser.reset_input_buffer()

    @contextlib.contextmanager
    def _gone(self) -> Iterator[None]:
        """A port that went away (unplugged, its pty closed) is a ConnectionError, which
        ``rtrledit run`` reports in one line (pyserial raises SerialException, an OSError)."""
        try:
            yield
        except OSError as e:
            raise ConnectionError(f"the serial port {self.ser.port} went away ({e})") from None

    def close(self) -> None:
        self.ser.close()


class BoardSimTransport(SerialTransport):
    """The virtual board for ``cfg`` in a child process, through its pty (pyserial), at
    ``baud`` (default: the fastest its UART makes from ``clock_hz``). Built on first use
    (Verilator, cached); closing the transport stops the board."""

    #: The board simulates slower than real time, on a machine it may share.
    default_timeout = 10.0

    def __init__(self, cfg, lanes: int = 1, baud: int | None = None,
                 clock_hz: float | None = None) -> None:
        from ..boards.virtual import DEFAULT_CLOCK_HZ, VirtualBoard, fastest_baud
        clock_hz = clock_hz or DEFAULT_CLOCK_HZ
        self.board = VirtualBoard(cfg, lanes, clock_hz, baud or fastest_baud(clock_hz),
                                  announce=lambda msg: print(msg, file=sys.stderr))
        try:
            super().__init__(self.board.port, self.board.baud)
        except ValueError:
            self.board.close()
            raise
        self.default_timeout = type(self).default_timeout    # not a real port's

    def close(self) -> None:
        super().close()
        self.board.close()


def open_transport(port: str, cfg=None, lanes: int = 1, baud: int | None = None) -> Transport:
    """``"sim"`` → :class:`BoardSimTransport` (the virtual board) for ``cfg``; ``"sim:byte"``
    or ``"sim:uart"`` → :class:`SimTransport` (frame level, Amaranth); anything else is a
    serial port (``baud`` default 115200)."""
    if port.startswith("sim") and cfg is None:
        raise ValueError("the simulated device needs a Config")
    if port == "sim":
        return BoardSimTransport(cfg, lanes, baud)
    if port in ("sim:byte", "sim:uart"):
        return SimTransport(cfg, lanes, link="uart" if port == "sim:uart" else "byte")
    return SerialTransport(port, baud or DEFAULT_BAUD)
