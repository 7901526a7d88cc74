"""The frame protocol's Python side: CRC, framing, byte layouts, length rules."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtrledit.boards import protocol as P
from rtrledit.model.config import Config, Formats


def test_crc_check_value():
    # CRC-16/CCITT-FALSE catalogue check value
    assert P.crc16(b"123456789") == 0x29B1
    assert P.crc16(b"") == 0xFFFF


@given(st.integers(0, 255), st.binary(max_size=255))
@settings(max_examples=200, deadline=None)
def test_request_roundtrip(cmd, payload):
    frame = P.encode_request(cmd, payload)
    assert frame[0] == P.SYNC_REQ and frame[2] == len(payload) and len(frame) == 5 + len(payload)
    assert P.decode_request(frame) == (cmd, payload)


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=255), st.binary(max_size=8))
@settings(max_examples=200, deadline=None)
def test_response_roundtrip_and_tail(cmd, status, payload, tail):
    frame = P.encode_response(cmd, status, payload)
    assert P.decode_response(frame + tail) == (cmd, status, payload, len(frame))


@given(st.binary(min_size=1, max_size=40), st.data())
@settings(max_examples=200, deadline=None)
def test_any_single_byte_corruption_is_detected(payload, data):
    frame = bytearray(P.encode_response(3, 0, payload))
    i = data.draw(st.integers(1, len(frame) - 1))
    frame[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(P.ProtocolError):
        P.decode_response(bytes(frame))


def test_too_long_payload_refused():
    with pytest.raises(ValueError, match="exceeds 255"):
        P.encode_request(P.Cmd.WRITE_WIN, bytes(256))
    with pytest.raises(ValueError):
        P.req_read_win(0, 64)


def test_layout_and_packing():
    cfg = Config(hidden=4, inputs=3, outputs=2,
                 formats=Formats.uniform(12, X=(10, 6), Y=(20, 10)))
    lay = P.Layout.from_config(cfg)
    assert (lay.xb, lay.yb) == (2, 3)
    assert lay.sample_bytes == 3 * 2 + 2 * 3 and lay.result_bytes == 2 * 3 + 2
    b = lay.pack_sample([-512, 511, -1], [-(1 << 19), 12345])
    assert lay.unpack_sample(b) == ([-512, 511, -1], [-(1 << 19), 12345])
    with pytest.raises(ValueError, match="does not fit"):
        lay.pack_sample([512, 0, 0], [0, 0])
    r = lay.pack_result([-5, 7], 0x3FF)
    assert lay.unpack_results(r + r) == [([-5, 7], 0x3FF)] * 2
    with pytest.raises(P.ProtocolError):
        lay.unpack_results(r[:-1])


def test_length_rules():
    lay = P.Layout(m=4, p=1, xw=16, yw=16, fifo_depth=32)
    assert lay.sample_bytes == 10 and lay.max_push == 25
    ok = {c: [n for n in range(256) if P.valid_length(c, n, lay)] for c in P.Cmd.ALL}
    assert ok[P.Cmd.INFO] == [0] and ok[P.Cmd.READ_REG] == [3] and ok[P.Cmd.WRITE_REG] == [7]
    assert ok[P.Cmd.READ_WIN] == [4] and ok[P.Cmd.READ_OUT] == [1]
    assert (P.ADDR_BYTES, P.WORD_BYTES, P.MAX_WORDS) == (3, 4, 63)       # 3 + 4·63 = 255
    assert ok[P.Cmd.WRITE_WIN] == list(range(7, 256, 4))
    assert ok[P.Cmd.PUSH] == list(range(10, 251, 10))
    assert not P.valid_length(0x7F, 0, lay)


def test_spec_is_json():
    lay = P.Layout(m=4, p=1, xw=16, yw=16)
    d = json.loads(P.spec_json(lay))
    assert d["crc"]["check_123456789"] == 0x29B1
    assert d["commands"]["PUSH"] == P.Cmd.PUSH and d["status"]["BAD_CRC"] == P.Status.BAD_CRC
    assert d["layout"]["sample_bytes"] == 10
    assert P.info_payload(lay) == bytes([1, 10, 4, 32, 255]) and len(P.INFO_FIELDS) == 5
