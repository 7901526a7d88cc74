"""The C driver: warning-free under gcc and clang, freestanding, unit tests with
AddressSanitizer and UndefinedBehaviorSanitizer against frames made by the Python
protocol encoder (an independent implementation)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from rtrledit.boards import protocol as P
from rtrledit.boards.protocol import Cmd, Status
from rtrledit.firmware import export
from rtrledit.model.config import Config, Formats, QFormat

from .cbuild import COMPILERS, SAN, C, build, compiler

# odd widths: 12-bit inputs in 2 bytes, 20-bit outputs in 3 bytes, 2 outputs
CFG = Config(hidden=2, inputs=2, outputs=2, formats=Formats(X=QFormat(12, 8), Y=QFormat(20, 12)))


def _arr(name: str, data: bytes) -> str:
    return f"static const uint8_t {name}[] = {{{', '.join(str(b) for b in data)}}};"


def _ints(name: str, typ: str, vals) -> str:
    def lit(v):
        v = int(v)
        return "(-2147483647 - 1)" if v == -2**31 else str(v)
    return f"static const {typ} {name}[] = {{{', '.join(lit(v) for v in vals)}}};"


def vectors(cfg: Config = CFG, seed: int = 1) -> str:
    """A C header of request frames and responses made by the Python encoder."""
    lay = P.Layout.from_config(cfg)
    rng = np.random.default_rng(seed)
    ok = lambda cmd, pl=b"": P.encode_response(cmd, Status.OK, pl)  # noqa: E731
    addr, value = 0x000123, 0x89ABCDEF
    words = [int(v) for v in rng.integers(-2**31, 2**31, 70)] + [-2**31, 2**31 - 1]
    waddr = 0x000140
    chunks = [words[k:k + P.MAX_WORDS] for k in range(0, len(words), P.MAX_WORDS)]
    wreq = b"".join(P.req_write_win(waddr + 63 * i, c) for i, c in enumerate(chunks))
    rreq = b"".join(P.req_read_win(waddr + 63 * i, len(c)) for i, c in enumerate(chunks))
    rrsp = b"".join(ok(Cmd.READ_WIN, b"".join(v.to_bytes(4, "little", signed=True) for v in c))
                    for c in chunks)
    K = 3
    fx, fy = cfg.formats.X, cfg.formats.Y
    xs = rng.integers(fx.min, fx.max + 1, (K, cfg.m))
    xs[0, 0], xs[1, 0] = fx.min, fx.max
    ds = rng.integers(fy.min, fy.max + 1, (K, cfg.p))
    ys = rng.integers(fy.min, fy.max + 1, (K, cfg.p))
    ys[0, 0], ys[1, 1] = fy.min, fy.max
    fl = rng.integers(0, 1 << 10, K)
    out_pl = b"".join(lay.pack_result(y, f) for y, f in zip(ys, fl))
    regs = export.register_map(cfg)
    shape = regs["SHAPE"].value                 # and a device built for one more hidden unit
    other = export.register_map(cfg.replace(hidden=cfg.n + 1))["SHAPE"].value
    lines = [
        "#include <stdint.h>",
        f"#define VEC_M {cfg.m}", f"#define VEC_P {cfg.p}", f"#define VEC_XW {fx.w}",
        f"#define VEC_YW {fy.w}", f"#define VEC_FIFO {lay.fifo_depth}",
        f"#define VEC_SB {lay.sample_bytes}", f"#define VEC_RB {lay.result_bytes}",
        f"#define VEC_REG_ADDR 0x{addr:X}u", f"#define VEC_REG_VALUE 0x{value:X}u",
        f"#define VEC_WIN_ADDR 0x{waddr:X}u", f"#define VEC_NWORDS {len(words)}",
        f"#define VEC_PUSH_K {K}", f"#define VEC_OUT_K {K}",
        _arr("vec_read_reg_req", P.req_read_reg(addr)),
        _arr("vec_read_reg_rsp", ok(Cmd.READ_REG, value.to_bytes(4, "little"))),
        _arr("vec_write_reg_req", P.req_write_reg(addr, value)),
        _arr("vec_write_reg_rsp", ok(Cmd.WRITE_REG)),
        _ints("vec_words", "int32_t", words),
        _arr("vec_write_win_req", wreq), _arr("vec_write_win_rsp", ok(Cmd.WRITE_WIN) * len(chunks)),
        _arr("vec_read_win_req", rreq), _arr("vec_read_win_rsp", rrsp),
        _ints("vec_push_x", "int32_t", xs.ravel()), _ints("vec_push_d", "int32_t", ds.ravel()),
        _arr("vec_push_req", P.req_push(lay, xs, ds)), _arr("vec_push_rsp", ok(Cmd.PUSH)),
        _arr("vec_read_out_req", P.req_read_out(4)), _arr("vec_read_out_rsp", ok(Cmd.READ_OUT, out_pl)),
        _ints("vec_out_y", "int32_t", ys.ravel()), _ints("vec_out_flags", "uint16_t", fl),
        _arr("vec_read_out_odd_rsp", ok(Cmd.READ_OUT, out_pl[:lay.result_bytes + 1])),
        _arr("vec_info_rsp", ok(Cmd.INFO, P.info_payload(lay))),
        _arr("vec_ctrl_off_req", P.req_write_reg(export.register_map(cfg)["CTRL"].addr, 0)),
        _arr("vec_ctrl_rsp", ok(Cmd.WRITE_REG)),
        _arr("vec_bad_len_rsp", P.encode_response(Cmd.READ_REG, Status.BAD_LEN)),
        f"#define VEC_SHAPE 0x{shape:X}u",
        _arr("vec_shape_req", P.req_read_reg(regs["SHAPE"].addr)),
        _arr("vec_shape_rsp", ok(Cmd.READ_REG, shape.to_bytes(4, "little"))),
        _arr("vec_other_shape_rsp", ok(Cmd.READ_REG, other.to_bytes(4, "little"))),
        _arr("vec_full_rsp", P.encode_response(Cmd.PUSH, Status.FULL)),
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", COMPILERS)
def test_library_freestanding_warning_free(kind, tmp_path):
    """-Wall -Wextra -Werror (and -Wconversion), -ffreestanding, and no libc symbol."""
    cc = compiler(kind)
    obj = tmp_path / "rtrledit.o"
    build(cc, obj, [C / "src" / "rtrledit.c"], [C / "include"],
          ["-c", "-ffreestanding", "-Wconversion", "-O2"])
    syms = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True).stdout.split()
    assert [s for s in syms if s != "U"] == [], f"library needs external symbols: {syms}"
    # the microcontroller example compiles too (against the committed default header)
    build(cc, tmp_path / "mcu.o", [C / "examples" / "mcu_main.c"], [C / "include"],
          ["-c", "-ffreestanding", "-Wconversion"])


@pytest.mark.parametrize("kind", COMPILERS)
def test_c_unit_tests_with_sanitizers(kind, tmp_path):
    cc = compiler(kind)
    (tmp_path / "vectors.h").write_text(vectors())
    exe = build(cc, tmp_path / "t", [C / "src" / "rtrledit.c", C / "tests" / "test_rtrledit.c"],
                [C / "include", tmp_path], SAN)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all C driver tests passed" in r.stdout


def test_c_unit_tests_can_fail(tmp_path):
    """The vectors matter: a Python frame with one wrong byte makes the C tests fail."""
    cc = compiler("gcc")
    text = vectors().replace("static const uint8_t vec_read_reg_req[] = {165, 1, 3, 35",
                             "static const uint8_t vec_read_reg_req[] = {165, 1, 3, 36")
    assert text != vectors()
    (tmp_path / "vectors.h").write_text(text)
    exe = build(cc, tmp_path / "t", [C / "src" / "rtrledit.c", C / "tests" / "test_rtrledit.c"],
                [C / "include", tmp_path], ["-g"])
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


def test_generated_files_are_fresh():
    """firmware/c/include/*.h and firmware/constants.py match the register map and protocol."""
    stale = [str(p) for p, text in export.generated_files().items()
             if not p.exists() or p.read_text() != text]
    assert not stale, f"stale generated files (run python -m rtrledit.firmware.export --update): {stale}"


def test_generated_constants_match_sources():
    from rtrledit.firmware import constants as K
    from rtrledit.hdl.regmap import register_map
    rm = register_map(export.DEFAULT_CONFIG)
    assert K.REG_CTRL == rm["CTRL"].addr and K.WIN_S_BASE == rm["S"].base
    assert K.CMD_READ_OUT == Cmd.READ_OUT and K.STATUS_FULL == Status.FULL
    hdr = export.regs_header(Config(hidden=3, inputs=2))
    assert f"#define RTRL_WIN_S_BASE                    0x{register_map(Config(hidden=3, inputs=2))['S'].base:04X}u" in hdr


def test_header_compiles_and_agrees(tmp_path):
    """A program built on the generated header prints what the Python map says."""
    cc = compiler("gcc")
    cfg = Config(hidden=3, inputs=2, outputs=2, approx="snap1")
    export.write(tmp_path, cfg)
    src = tmp_path / "p.c"
    src.write_text('#include <stdio.h>\n#include "rtrledit_regs.h"\nint main(void){printf("%u %u %u %u %u %u %u\\n",'
                   " RTRL_WIN_V_BASE, RTRL_WIN_S_SIZE, RTRL_SAMPLE_BYTES, RTRL_REG_SAT_V,"
                   " RTRL_CTRL_CLEAR_SAT_MASK, RTRL_CFG_Q, RTRL_CFG_SHAPE); return 0;}\n")
    exe = build(cc, tmp_path / "p", [src], [tmp_path])
    got = list(map(int, subprocess.run([str(exe)], capture_output=True, text=True).stdout.split()))
    from rtrledit.hdl.regmap import CTRL, register_map
    rm = register_map(cfg)
    lay = P.Layout.from_config(cfg)
    assert got == [rm["V"].base, rm["S"].size, lay.sample_bytes, rm["SAT_V"].addr,
                   CTRL["CLEAR_SAT"].mask, cfg.q, 0x00220203]    # SHAPE: snap1, p 2, m 2, n 3
