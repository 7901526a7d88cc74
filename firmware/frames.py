"""Request and response frames over a byte transport (:mod:`.transport`), with retries:
the layer under :class:`~.host.Device`, which knows the commands and registers.

Errors: :class:`DeviceTimeout` (no or incomplete response in time), :class:`FrameError`
(a response that is corrupt, truncated or answers another request), :class:`DeviceError`
(the device answered with an error status; ``.status``). All are
:class:`~rtrledit.boards.protocol.ProtocolError`. Idempotent requests (INFO, register and
window reads and writes) are retried after a transmission error; PUSH and READ_OUT are not
(a lost response would lose or repeat samples), they raise.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

from ..boards import protocol as P
from ..boards.protocol import Cmd, ProtocolError, Status

__all__ = ["FrameLink", "DeviceError", "DeviceTimeout", "FrameError", "uninterrupted"]


class DeviceError(ProtocolError):
    """The device answered with a non-OK status (``.status``, a :class:`Status` code)."""


class DeviceTimeout(ProtocolError, TimeoutError):
    """No complete response within the timeout."""


class FrameError(ProtocolError):
    """A response that is corrupt (CRC), malformed, or answers another request."""


#: Statuses that mean "the request did not arrive intact": safe to send again.
_TRANSIENT = (Status.BAD_CRC, Status.TIMEOUT)
_IDEMPOTENT = (Cmd.INFO, Cmd.READ_REG, Cmd.WRITE_REG, Cmd.READ_WIN, Cmd.WRITE_WIN)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt: a frame
    exchange and the bookkeeping after it are never cut in half, so the next command
    after an interrupt gets its own response. Only in the main thread, and only when
    Python's default handler is installed (nested blocks and other handlers pass)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    held = []
    signal.signal(signal.SIGINT, lambda sig, frame: held.append(sig))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


class FrameLink:
    """Frames over ``transport``: :meth:`exchange` sends a request frame and returns the
    payload of its OK response. ``timeout``: seconds a response may take; ``retries``:
    extra attempts of an idempotent request after a transmission error."""

    def __init__(self, transport, timeout: float, retries: int = 2) -> None:
        self.transport, self.timeout, self.retries = transport, timeout, retries

    def _resync(self) -> None:
        """After an error: let the device's frame timeout pass, drop what it sent."""
        time.sleep(0.01)
        self.transport.flush_input()

    def _response(self, cmd_name: str) -> tuple[int, int, bytes]:
        tr = self.transport
        deadline = time.monotonic() + self.timeout

        def get(n: int) -> bytes:
            data = tr.read(n, max(0.0, deadline - time.monotonic()))
            if len(data) < n:
                raise DeviceTimeout(f"no response from the device within {self.timeout:g} s "
                                    f"({cmd_name}); is it connected, programmed for this "
                                    "config and at this baud rate?")
            return data

        skipped = 0
        while get(1)[0] != P.SYNC_RSP:          # garbage before a response: skip it
            skipped += 1
            if skipped > 2 * (P.MAX_PAYLOAD + 6):
                raise FrameError(f"no response sync byte in {skipped} bytes ({cmd_name})")
        head = get(3)
        frame = bytes([P.SYNC_RSP]) + head + get(head[2] + 2)
        try:
            cmd, status, payload, _ = P.decode_response(frame)
        except ProtocolError as e:
            raise FrameError(f"{e} ({cmd_name})") from None
        return cmd, status, payload

    def exchange(self, frame: bytes) -> bytes:
        """Send a request frame; the payload of its OK response. Raises DeviceError,
        DeviceTimeout or FrameError (after retries, for idempotent commands). A Ctrl-C
        waits for the response."""
        with uninterrupted():
            return self._exchange(frame)

    def _exchange(self, frame: bytes) -> bytes:
        cmd = frame[1]
        name = Cmd.NAMES.get(cmd, f"0x{cmd:02x}")
        attempts = 1 + (self.retries if cmd in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self.transport.write(frame)
            try:
                rcmd, status, rpayload = self._response(name)
            except (FrameError, DeviceTimeout):
                self._resync()
                if last:
                    raise
                continue
            if rcmd != cmd:
                self._resync()
                if last:
                    raise FrameError(f"out-of-sequence response: to command 0x{rcmd:02x}, "
                                     f"expected {name}")
                continue
            if status == Status.OK:
                return rpayload
            if status in _TRANSIENT and not last:
                self._resync()
                continue
            raise DeviceError(f"device answered {name} with "
                              f"{Status.NAMES.get(status, f'status 0x{status:02x}')}", status)
        raise AssertionError("unreachable")
