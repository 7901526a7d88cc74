"""A bounded libFuzzer run of the C driver's response parser and receive path
(firmware/c/fuzz/fuzz_parser.c) with AddressSanitizer and UBSan."""

from __future__ import annotations

import subprocess


from tests.tools import missing

from rtrledit.boards import protocol as P

from .cbuild import C, build, clang

FUZZ_SECONDS = 20


def test_fuzz_response_parser(tmp_path):
    cc = clang()
    if cc is None:
        missing("clang not installed (apt-get install -y clang-14 libclang-rt-14-dev)")
    try:
        exe = build(cc, tmp_path / "fuzz", [C / "src" / "rtrledit.c", C / "fuzz" / "fuzz_parser.c"],
                    [C / "include"], ["-g", "-O1", "-fsanitize=fuzzer,address,undefined",
                                      "-fno-sanitize-recover=all"])
    except AssertionError as e:
        if "libclang_rt.fuzzer" in str(e) or "cannot find" in str(e):
            missing("libFuzzer runtime missing (apt-get install -y libclang-rt-14-dev)")
        raise
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # seeds: valid responses from the Python encoder, behind each command selector
    for i, (sel, rsp) in enumerate([
            (0, P.encode_response(P.Cmd.READ_REG, 0, b"LRTR")),
            (1, P.encode_response(P.Cmd.READ_WIN, 0, bytes(252)) +
             P.encode_response(P.Cmd.READ_WIN, 0, bytes(28))),
            (2, P.encode_response(P.Cmd.READ_OUT, 0, bytes(8))),
            (3, P.encode_response(P.Cmd.PUSH, 4)),
            (4, P.encode_response(P.Cmd.INFO, 0, bytes([1, 4, 4, 32, 255])))]):
        (corpus / f"seed{i}").write_bytes(bytes([sel]) + rsp)
    r = subprocess.run([str(exe), str(corpus), f"-max_total_time={FUZZ_SECONDS}",
                        "-max_len=1200", "-print_final_stats=1"],
                       capture_output=True, text=True, timeout=FUZZ_SECONDS + 60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "stat::number_of_executed_units" in r.stderr
