"""SerialTransport (pyserial) on a real pseudo-terminal: bytes both ways, and a port whose
other end goes away is a ConnectionError (which ``rtrledit run`` reports in one line),
not pyserial's SerialException."""

from __future__ import annotations

import os
import pty

import pytest

from rtrledit.firmware.transport import SerialTransport


def test_bytes_through_a_pty_and_a_port_that_goes_away():
    master, slave = pty.openpty()
    try:
        t = SerialTransport(os.ttyname(slave), 115200)
        os.write(master, b"\xa5\x01")
        assert t.read(2, 1.0) == b"\xa5\x01"
        t.write(b"\x5a\x02")
        assert os.read(master, 2) == b"\x5a\x02"
        os.close(master)
        master = -1
        with pytest.raises(ConnectionError, match="went away"):
            t.read(2, 0.5)
        with pytest.raises(ConnectionError, match="went away"):
            t.write(b"x")
        t.close()
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
