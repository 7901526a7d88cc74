"""The board's frame protocol: one Python description shared by the gateware
(:mod:`rtrledit.boards.bridge`), the host encoder/decoder below, the tests and
``docs/protocol.md``. Plain Python, no Amaranth (``tests/firmware/test_no_amaranth.py``).

Everything a driver needs is data in this module (:func:`spec_dict`, plain JSON), so a
C driver can be generated from it or checked against it; the length rules of every
request are one table, :func:`request_rules`, that the bridge's gateware is built from.

Frames
------
Request (host → device)::

    0xA5 | CMD | LEN | PAYLOAD[LEN] | CRC_LO | CRC_HI

Response (device → host)::

    0x5A | CMD | STATUS | LEN | PAYLOAD[LEN] | CRC_LO | CRC_HI

CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final xor;
check value of "123456789" = 0x29B1) over every byte after the sync byte up to the CRC.
Multi-byte fields are little-endian. ``LEN`` ≤ :data:`MAX_PAYLOAD` (255).

The device executes a request only after its CRC has checked; a bad frame changes no state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..hdl.regmap import ADDR_WIDTH, DATA_WIDTH, to_signed
from ..model.config import SAT_NAMES, Config

__all__ = ["SYNC_REQ", "SYNC_RSP", "MAX_PAYLOAD", "Cmd", "Status", "crc16", "crc16_update",
           "Layout", "ProtocolError", "encode_request", "encode_response", "decode_response",
           "decode_request", "spec_dict", "spec_json", "PROTOCOL_VERSION", "MAX_WORDS",
           "ADDR_BYTES", "WORD_BYTES", "TIMEOUT_BYTES", "CRC_POLY", "CRC_INIT", "Request",
           "request_rules", "valid_length", "addr_bytes", "req_read_reg", "req_write_reg",
           "req_read_win", "req_write_win", "req_push", "req_read_out", "info_payload", "INFO_FIELDS", "unpack_words"]

PROTOCOL_VERSION = 1
SYNC_REQ = 0xA5
SYNC_RSP = 0x5A
MAX_PAYLOAD = 255
#: Bytes of a bus address and of a data word in a payload (the register map's widths).
ADDR_BYTES, WORD_BYTES = ADDR_WIDTH // 8, DATA_WIDTH // 8
#: Most words one READ_WIN / WRITE_WIN frame carries (an address and 63 words: 255 bytes).
MAX_WORDS = (MAX_PAYLOAD - ADDR_BYTES) // WORD_BYTES
CRC_POLY, CRC_INIT = 0x1021, 0xFFFF


class Cmd:
    """Command codes (request CMD byte; the response echoes it)."""

    INFO = 0x00       # ()                          -> version, sample bytes, result bytes, fifo depth, max payload
    READ_REG = 0x01   # addr[3]                     -> data[4]
    WRITE_REG = 0x02  # addr[3] data[4]             -> ()
    READ_WIN = 0x03   # addr[3] count[1] (1..63)    -> data[4·count] (addr, addr+1, ...)
    WRITE_WIN = 0x04  # addr[3] data[4·k] (k 1..63) -> ()
    PUSH = 0x10       # k samples of SB bytes       -> ()  (refused with FULL if k > free)
    READ_OUT = 0x11   # max[1]                      -> up to max results of RB bytes (oldest first)
    ALL = (INFO, READ_REG, WRITE_REG, READ_WIN, WRITE_WIN, PUSH, READ_OUT)
    NAMES = {INFO: "INFO", READ_REG: "READ_REG", WRITE_REG: "WRITE_REG", READ_WIN: "READ_WIN",
             WRITE_WIN: "WRITE_WIN", PUSH: "PUSH", READ_OUT: "READ_OUT"}


class Status:
    """Response STATUS codes. Any non-OK response has an empty payload and means the
    request changed no state."""

    OK = 0x00
    BAD_CRC = 0x01    # CRC mismatch: frame dropped
    BAD_CMD = 0x02    # unknown command
    BAD_LEN = 0x03    # LEN not valid for the command (too long, too short, not a multiple)
    FULL = 0x04       # PUSH of more samples than free result slots
    TIMEOUT = 0x05    # frame truncated: no byte for TIMEOUT_BYTES byte times inside a frame
    NAMES = {OK: "OK", BAD_CRC: "BAD_CRC", BAD_CMD: "BAD_CMD", BAD_LEN: "BAD_LEN",
             FULL: "FULL", TIMEOUT: "TIMEOUT"}


#: A frame in progress is abandoned (answered with TIMEOUT) after this many byte times of silence.
TIMEOUT_BYTES = 16


def crc16_update(crc: int, byte: int) -> int:
    """One byte into CRC-16/CCITT-FALSE (MSB first)."""
    crc ^= (byte & 0xFF) << 8
    for _ in range(8):
        crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
        crc &= 0xFFFF
    return crc


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    for b in data:
        crc = crc16_update(crc, b)
    return crc


class ProtocolError(Exception):
    """A response that cannot be decoded, or a device error status."""

    def __init__(self, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.status = status


def _nbytes(width: int) -> int:
    return (width + 7) // 8


@dataclass(frozen=True)
class Layout:
    """Byte layout of samples and results for one Config (what PUSH and READ_OUT carry).

    A sample is m elements of x (``xb`` bytes each, format X) then p elements of d (``yb``
    bytes each, format Y); a result is p elements of y (``yb`` bytes) then the step's
    saturation flags (2 bytes, bit i = SAT_NAMES[i]). Elements are two's complement,
    little-endian, sign-extended to whole bytes.
    """

    m: int
    p: int
    xw: int
    yw: int
    fifo_depth: int = 32

    @classmethod
    def from_config(cls, cfg: Config, fifo_depth: int = 32) -> "Layout":
        return cls(cfg.m, cfg.p, cfg.formats.X.w, cfg.formats.Y.w, fifo_depth)

    @property
    def xb(self) -> int:
        return _nbytes(self.xw)

    @property
    def yb(self) -> int:
        return _nbytes(self.yw)

    @property
    def sample_bytes(self) -> int:
        return self.m * self.xb + self.p * self.yb

    @property
    def result_bytes(self) -> int:
        return self.p * self.yb + 2

    @property
    def max_push(self) -> int:
        """Most samples per PUSH frame."""
        return min(MAX_PAYLOAD // self.sample_bytes, self.fifo_depth)

    @property
    def max_out(self) -> int:
        """Most results per READ_OUT response."""
        return MAX_PAYLOAD // self.result_bytes

    def pack_sample(self, x, d) -> bytes:
        out = bytearray()
        for v in x:
            out += _to_bytes(int(v), self.xw, self.xb)
        for v in d:
            out += _to_bytes(int(v), self.yw, self.yb)
        return bytes(out)

    def unpack_sample(self, b: bytes) -> tuple[list[int], list[int]]:
        xs = [_from_bytes(b[i * self.xb:(i + 1) * self.xb], self.xw) for i in range(self.m)]
        o = self.m * self.xb
        ds = [_from_bytes(b[o + i * self.yb:o + (i + 1) * self.yb], self.yw) for i in range(self.p)]
        return xs, ds

    def pack_result(self, y, flags: int) -> bytes:
        out = bytearray()
        for v in y:
            out += _to_bytes(int(v), self.yw, self.yb)
        return bytes(out) + int(flags).to_bytes(2, "little")

    def unpack_results(self, payload: bytes) -> list[tuple[list[int], int]]:
        rb = self.result_bytes
        if len(payload) % rb:
            raise ProtocolError(f"READ_OUT payload of {len(payload)} bytes is not a multiple "
                                f"of the result size {rb}")
        out = []
        for k in range(0, len(payload), rb):
            r = payload[k:k + rb]
            y = [_from_bytes(r[o * self.yb:(o + 1) * self.yb], self.yw) for o in range(self.p)]
            out.append((y, int.from_bytes(r[-2:], "little")))
        return out


def _to_bytes(v: int, width: int, nbytes: int) -> bytes:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if not lo <= v <= hi:
        raise ValueError(f"value {v} does not fit a signed {width}-bit element")
    return (v & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little")


def _from_bytes(b: bytes, width: int) -> int:
    return to_signed(int.from_bytes(b, "little"), width)


# ------------------------------------------------------------------ length rules
@dataclass(frozen=True)
class Request:
    """What a command's request payload may be: ``head`` fixed bytes, then (``unit`` > 0)
    1..``max_units`` units of ``unit`` bytes each."""

    head: int
    unit: int = 0
    max_units: int = 0

    def valid(self, length: int) -> bool:
        if not self.unit:
            return length == self.head
        k, rest = divmod(length - self.head, self.unit)
        return rest == 0 and 1 <= k <= self.max_units


def request_rules(layout: Layout) -> dict[int, Request]:
    """Every command's payload rule (PUSH's depends on the sample layout)."""
    return {Cmd.INFO: Request(0),
            Cmd.READ_REG: Request(ADDR_BYTES),                       # addr
            Cmd.WRITE_REG: Request(ADDR_BYTES + WORD_BYTES),         # addr, data
            Cmd.READ_WIN: Request(ADDR_BYTES + 1),                   # addr, count
            Cmd.WRITE_WIN: Request(ADDR_BYTES, WORD_BYTES, MAX_WORDS),
            Cmd.PUSH: Request(0, layout.sample_bytes, layout.max_push),
            Cmd.READ_OUT: Request(1)}                                # max


def valid_length(cmd: int, length: int, layout: Layout) -> bool:
    """Whether a request of ``cmd`` may carry ``length`` payload bytes (what the device
    checks before executing; BAD_LEN otherwise)."""
    rule = request_rules(layout).get(cmd)
    return rule is not None and rule.valid(length)


# ------------------------------------------------------------------ frames
def encode_request(cmd: int, payload: bytes = b"") -> bytes:
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes([cmd, len(payload)]) + payload
    c = crc16(body)
    return bytes([SYNC_REQ]) + body + bytes([c & 0xFF, c >> 8])


def encode_response(cmd: int, status: int, payload: bytes = b"") -> bytes:
    body = bytes([cmd, status, len(payload)]) + bytes(payload)
    c = crc16(body)
    return bytes([SYNC_RSP]) + body + bytes([c & 0xFF, c >> 8])


def decode_request(frame: bytes) -> tuple[int, bytes]:
    """(cmd, payload) of a complete request frame; ProtocolError on a malformed one."""
    if len(frame) < 5 or frame[0] != SYNC_REQ:
        raise ProtocolError("not a request frame")
    n = frame[2]
    if len(frame) != 5 + n:
        raise ProtocolError(f"request LEN {n} but {len(frame) - 5} payload bytes")
    if crc16(frame[1:3 + n]) != int.from_bytes(frame[3 + n:5 + n], "little"):
        raise ProtocolError("request CRC mismatch", Status.BAD_CRC)
    return frame[1], bytes(frame[3:3 + n])


def decode_response(buf: bytes) -> tuple[int, int, bytes, int]:
    """Decode the first response frame in ``buf``: (cmd, status, payload, bytes used).

    Raises ProtocolError when ``buf`` does not start with a whole, valid response.
    """
    if len(buf) < 6:
        raise ProtocolError(f"response truncated ({len(buf)} bytes)")
    if buf[0] != SYNC_RSP:
        raise ProtocolError(f"response starts with 0x{buf[0]:02x}, not 0x{SYNC_RSP:02x}")
    n = buf[3]
    if len(buf) < 6 + n:
        raise ProtocolError(f"response truncated: LEN {n}, {len(buf) - 6} payload bytes")
    if crc16(buf[1:4 + n]) != int.from_bytes(buf[4 + n:6 + n], "little"):
        raise ProtocolError("response CRC mismatch")
    return buf[1], buf[2], bytes(buf[4:4 + n]), 6 + n


# ------------------------------------------------------------------ request builders
def addr_bytes(addr: int) -> bytes:
    if not 0 <= addr < 1 << ADDR_WIDTH:
        raise ValueError(f"address 0x{addr:x} outside the {ADDR_WIDTH}-bit bus")
    return addr.to_bytes(ADDR_BYTES, "little")


def _words(values) -> bytes:
    return b"".join((int(v) & ((1 << DATA_WIDTH) - 1)).to_bytes(WORD_BYTES, "little")
                    for v in values)


def unpack_words(payload: bytes) -> list[int]:
    """The signed 32-bit words of a READ_WIN response (or of WRITE_WIN's data)."""
    return [int.from_bytes(payload[k:k + WORD_BYTES], "little", signed=True)
            for k in range(0, len(payload), WORD_BYTES)]


def req_read_reg(addr: int) -> bytes:
    return encode_request(Cmd.READ_REG, addr_bytes(addr))


def req_write_reg(addr: int, value: int) -> bytes:
    return encode_request(Cmd.WRITE_REG, addr_bytes(addr) + _words([value]))


def req_read_win(addr: int, count: int) -> bytes:
    if not 1 <= count <= MAX_WORDS:
        raise ValueError(f"READ_WIN count {count} outside 1..{MAX_WORDS}")
    return encode_request(Cmd.READ_WIN, addr_bytes(addr) + bytes([count]))


def req_write_win(addr: int, values) -> bytes:
    values = list(values)
    if not 1 <= len(values) <= MAX_WORDS:
        raise ValueError(f"WRITE_WIN of {len(values)} words outside 1..{MAX_WORDS}")
    return encode_request(Cmd.WRITE_WIN, addr_bytes(addr) + _words(values))


def req_push(layout: Layout, xs, ds) -> bytes:
    if not 1 <= len(xs) <= layout.max_push:
        raise ValueError(f"PUSH of {len(xs)} samples outside 1..{layout.max_push}")
    return encode_request(Cmd.PUSH, b"".join(layout.pack_sample(x, d) for x, d in zip(xs, ds)))


def req_read_out(maximum: int) -> bytes:
    return encode_request(Cmd.READ_OUT, bytes([maximum & 0xFF]))


#: The INFO response payload, one byte each, in this order.
INFO_FIELDS = ("version", "sample_bytes", "result_bytes", "fifo_depth", "max_payload")


def info_payload(layout: Layout) -> bytes:
    """INFO response payload: the :data:`INFO_FIELDS` of this protocol and ``layout``."""
    return bytes([PROTOCOL_VERSION, layout.sample_bytes, layout.result_bytes,
                  layout.fifo_depth, MAX_PAYLOAD])


# ------------------------------------------------------------------ machine-readable spec
def spec_dict(layout: Layout | None = None) -> dict:
    """The protocol as plain data (for generating or checking a C driver)."""
    d = {
        "version": PROTOCOL_VERSION,
        "sync_request": SYNC_REQ, "sync_response": SYNC_RSP,
        "max_payload": MAX_PAYLOAD, "max_words": MAX_WORDS, "timeout_bytes": TIMEOUT_BYTES,
        "crc": {"name": "CRC-16/CCITT-FALSE", "poly": CRC_POLY, "init": CRC_INIT,
                "refin": False, "refout": False, "xorout": 0, "check_123456789": crc16(b"123456789"),
                "covers": "all bytes after the sync byte, before the CRC"},
        "byte_order": "little",
        "commands": {name: code for code, name in Cmd.NAMES.items()},
        "status": {name: code for code, name in Status.NAMES.items()},
        "flags_bits": list(SAT_NAMES),
    }
    if layout is not None:
        d["layout"] = {"m": layout.m, "p": layout.p, "x_bytes": layout.xb, "y_bytes": layout.yb,
                       "sample_bytes": layout.sample_bytes, "result_bytes": layout.result_bytes,
                       "fifo_depth": layout.fifo_depth, "max_push": layout.max_push,
                       "max_out": layout.max_out}
    return d


def spec_json(layout: Layout | None = None) -> str:
    return json.dumps(spec_dict(layout), indent=2)
