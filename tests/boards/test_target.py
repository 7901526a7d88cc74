"""The build Target: validation with one-line errors naming the field, the file written
beside the bitstream, the CLI's --estimate naming what it estimated; and the memory rule
(:func:`rtrledit.hdl.memory.use_huge`) against the UP5K's data-sheet facts."""

import json

import pytest

from rtrledit.boards.target import BOARDS, TARGET_FILE, Target, device_of
from rtrledit.cli import main
from rtrledit.hdl.core import Core
from rtrledit.hdl.memory import huge_units, is_huge, use_huge
from rtrledit.model.config import Config


@pytest.mark.parametrize("fields,named", [
    ({"board": "icebreaker", "lanes": 0}, "lanes"),
    ({"lanes": 2.5}, "lanes"),
    ({"lanes": True}, "lanes"),
    ({"board": "nope"}, "board"),
    ({"board": "icebreaker", "family": "ecp5"}, "family"),
    ({"family": "gowin"}, "family"),
    ({"clock_mhz": 0}, "clock_mhz"),
    ({"clock_mhz": float("nan")}, "clock_mhz"),
    ({"baud": -9600}, "baud"),
    ({"fifo_depth": 0}, "fifo_depth"),
])
def test_bad_fields_are_refused_in_one_line_naming_the_field(fields, named):
    with pytest.raises(ValueError) as e:
        Target(**fields)
    msg = str(e.value)
    assert msg.startswith(f"Target '{named}' must be ") and "\n" not in msg


def test_the_board_gives_the_family_and_device():
    t = Target(board="ulx3s-25f", lanes=3)
    assert t.family == "ecp5" and t.device is BOARDS["ulx3s-25f"]
    assert t.replace(board="icebreaker").family == "ice40"          # a new board, its family
    assert Target(family="ice40").device.resources["spram"] == 4    # the family's facts
    assert Target().device is None and device_of(None) is None
    assert device_of("ice40") is device_of(Target(board="icebreaker")) is BOARDS["icebreaker"]


def test_the_file_round_trips(tmp_path):
    t = Target(board="icebreaker", lanes=2, clock_mhz=12.0, baud=9600, fifo_depth=8)
    path = t.write(tmp_path)
    assert path == tmp_path / TARGET_FILE
    assert json.loads(path.read_text())["board"] == "icebreaker"
    assert Target.read(tmp_path) == t == Target.read(path)
    path.write_text(json.dumps({**t.to_dict(), "clock": 12}))
    with pytest.raises(ValueError, match="^Target: unknown field 'clock'"):
        Target.read(path)


def test_estimate_on_the_cli_names_its_target(capsys):
    assert main(["build", "--board", "icebreaker", "--hidden", "2", "--inputs", "1",
                 "--lanes", "2", "--freq", "12", "--estimate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert Target.from_dict(out["target"]) == Target(board="icebreaker", lanes=2, clock_mhz=12)


# --------------------------------------------------------------------------- memory rule
UP5K = BOARDS["icebreaker"]      # 30 EBR of 4 kbit, 4 SB_SPRAM256KA of 16K × 16 (data sheet)


def test_the_rule_on_the_up5k():
    # an exact n = 16, m = 4 lane's S bank: 5,376 words of 16 bits = 21 EBR
    assert use_huge("s_bank", 5376, 16, UP5K)
    assert not use_huge("s_bank", 832, 16, UP5K)                    # 3.25 EBR: stays
    assert use_huge("s_bank", 5376, 16, UP5K, copies=4)
    assert not use_huge("s_bank", 5376, 16, UP5K, copies=5)         # 5 banks, 4 SPRAMs
    assert not use_huge("s_bank", 16385, 16, UP5K)                  # deeper than an SPRAM
    assert huge_units(32, UP5K) == 2 and huge_units(16, UP5K) == 1
    assert not use_huge("g", 4416, 32, UP5K, taken=3)               # 2 more than the 1 left
    assert use_huge("g", 4416, 32, UP5K, taken=2)
    # the threshold is the kind's: 40 kbit is more than 8 EBR, not more than 16
    assert use_huge("snap1_s", 2560, 16, UP5K) and not use_huge("g", 2560, 16, UP5K)
    for name in ("ulx3s-85f", "ulx3s-12f"):                         # no huge RAM on ECP5
        assert huge_units(16, BOARDS[name]) == 0 and not use_huge("s_bank", 5376, 16, BOARDS[name])
    assert not use_huge("s_bank", 5376, 16, None)


def test_the_core_marks_what_the_rule_chooses():
    """Exact n = 16 on one UP5K lane: the S bank is huge (the rule), G (336 words) is not;
    a Target and its family name choose alike; the ECP5 has none."""
    cfg = Config(hidden=16, inputs=4)

    def huge(core):
        return [is_huge(m.attrs) for m in core.engine.banks]
    board_core = Core(cfg, target=Target(board="icebreaker"))
    assert huge(board_core) == [True] and not board_core.g_spram
    assert huge(Core(cfg, 1, target="ice40")) == [True]
    assert huge(Core(cfg, target=Target(board="ulx3s-85f"))) == [False]
    with pytest.raises(ValueError, match="Core parameter 'lanes': 2, but the target has 1"):
        Core(cfg, 2, target=Target(board="icebreaker"))


def test_the_estimate_counts_huge_rams_as_the_placed_build():
    """SnAp-1 n = 64 on the iCEBreaker placed 28 EBR + 3 SPRAM (docs/boards.md): S in one
    SPRAM, the 32-bit G in two side by side."""
    from rtrledit.boards.targets import estimate
    e = estimate(Config(hidden=64, inputs=4, approx="snap1"), Target(board="icebreaker"))
    assert e.spram == 3 and e.bram_min <= 28
    assert sorted(e.to_dict()["huge_memories"]) == ["core/engine/smem", "core/gmem"]
