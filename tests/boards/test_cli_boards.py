"""``rtrledit build`` (estimate, refusals) and ``rtrledit program`` (the command it runs,
and a clear failure without a board)."""

import json

from rtrledit.boards.target import board
from rtrledit.cli import main
from rtrledit.program import program_command


def test_build_estimate_refuses_too_many_multipliers(capsys):
    rc = main(["build", "--board", "icebreaker", "--hidden", "16", "--lanes", "8", "--estimate"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "does not fit icebreaker" in err and "SB_MAC16" in err and "2 too many" in err


def test_build_refuses_before_any_tool(capsys, tmp_path):
    # the estimate runs first: no toolchain, no files, a one-line error
    rc = main(["build", "--board", "icebreaker", "--hidden", "32", "--lanes", "3",
               "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2 and "block RAMs" in err and "too many" in err
    assert not (tmp_path / "b").exists()


def test_build_estimate_json(capsys):
    rc = main(["build", "--board", "ulx3s-85f", "--hidden", "8", "--lanes", "8", "--estimate",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["fits"] and out["dsp"] == 8 + 2 and out["dsp_available"] == 156


def test_build_bad_freq(capsys, tmp_path):
    rc = main(["build", "--board", "icebreaker", "--hidden", "2", "--freq", "13",
               "-o", str(tmp_path)])
    assert rc == 2 and "PLL can make" in capsys.readouterr().err


def test_build_bad_target_option_names_the_option(capsys, tmp_path):
    """A value the Target refuses is reported under the option that set it."""
    for args, option in ((["--freq", "-3"], "--freq"), (["--baud", "0"], "--baud")):
        rc = main(["build", "--board", "icebreaker", "--hidden", "4", *args, "--estimate",
                   "-o", str(tmp_path / "b")])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith(f"rtrledit build: error: {option} must be"), err
        assert "Target" not in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_program_command():
    cmd = program_command(board("ulx3s-85f"), "x/top.bit")
    assert cmd[1:] == ["-b", "ulx3s", "-m", "x/top.bit"] and cmd[0].endswith("openFPGALoader")
    assert program_command(board("ulx3s-85f"), "t.bit", flash=True)[-2] == "-f"
    assert program_command(board("icebreaker"), "t.bin")[1:] == ["-b", "icebreaker", "t.bin"]
    assert program_command(board("icebreaker"), "t.bin", tool="iceprog")[1:] == ["-S", "t.bin"]


def test_program_dry_run(capsys):
    assert main(["program", "--board", "ulx3s-85f", "--dry-run", "b/top.bit"]) == 0
    assert "-b ulx3s -m b/top.bit" in capsys.readouterr().out


def test_program_without_board_fails_clearly(capsys, tmp_path):
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\xff" * 64)
    rc = main(["program", "--board", "ulx3s-85f", str(bit), "--timeout", "60"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "programming ulx3s-85f failed" in err and "command:" in err


def test_program_missing_bitstream(capsys, tmp_path):
    rc = main(["program", "--board", "icebreaker", str(tmp_path / "none.bin")])
    assert rc == 2 and "not found" in capsys.readouterr().err
    rc = main(["program", "--board", "ulx3s-85f", "--tool", "iceprog", str(tmp_path / "x")])
    assert rc == 2 and "iCE40 boards only" in capsys.readouterr().err
