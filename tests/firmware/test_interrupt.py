"""Ctrl-C in the middle of a frame exchange: the host driver finishes the exchange first,
so the next command gets its own response (not the interrupted one's)."""

import os
import signal

import pytest

from rtrledit.boards import protocol as P
from rtrledit.boards.protocol import Cmd, Status
from rtrledit.firmware.host import Device
from rtrledit.firmware.transport import Transport
from rtrledit.model.config import Config


class RegisterEcho(Transport):
    """Answers READ_REG with the register's address as its value; the first read of a
    response delivers a SIGINT to this process (a Ctrl-C while the host waits)."""

    def __init__(self) -> None:
        self.rx = bytearray()
        self.interrupted = False

    def write(self, data: bytes) -> None:
        cmd, payload = P.decode_request(bytes(data))
        assert cmd == Cmd.READ_REG
        self.rx += P.encode_response(cmd, Status.OK, payload[:3] + b"\0")

    def read(self, n: int, timeout: float) -> bytes:
        if not self.interrupted:
            self.interrupted = True
            os.kill(os.getpid(), signal.SIGINT)
        out, self.rx = bytes(self.rx[:n]), self.rx[n:]
        return out

    def flush_input(self) -> None:
        self.rx.clear()


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler, also when the suite was started with SIGINT ignored
    (a background job of a non-interactive shell inherits SIG_IGN)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_during_a_request_keeps_the_exchange_whole(ctrl_c):
    dev = Device(RegisterEcho(), Config(hidden=2), check=False)
    with pytest.raises(KeyboardInterrupt):
        dev.read_reg(0x11)
    assert dev.transport.rx == b""              # the interrupted response was consumed
    assert dev.read_reg(0x12) == 0x12           # so the next one is this command's own
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
