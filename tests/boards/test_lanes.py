"""``--lanes auto``: the search against a brute-force scan, and the chosen L against Yosys'
own cell counts (the chosen L fits, L + 1 does not)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rtrledit.boards import lanes as lanes_mod
from rtrledit.boards.lanes import LUT_FILL, auto_lanes, synth_cells
from rtrledit.boards.target import Target
from rtrledit.boards.target import BOARDS
from rtrledit.boards.targets import check_fit
from rtrledit.cli import main
from rtrledit.hdl.core import max_lanes
from rtrledit.model.config import Config

CFG = Config(hidden=2, inputs=1)          # small: each synthesis takes seconds
UP5K = BOARDS["icebreaker"]


def _board(monkeypatch, lut: int) -> Target:
    """A Target on a board like the UP5K with ``lut`` logic cells, in the table for the test."""
    brd = dataclasses.replace(UP5K, name="up5k-like", resources={**UP5K.resources, "lut": lut})
    monkeypatch.setitem(BOARDS, brd.name, brd)
    return Target(board=brd.name)


def _fits(cfg, target) -> bool:
    try:
        check_fit(cfg, target)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("base,per,bend", [(3000, 400, 0), (3000, 400, 60), (100, 900, 0),
                                           (4000, 100, 0)])
def test_the_search_finds_what_a_scan_finds(monkeypatch, base, per, bend):
    # a synthetic logic cost, convex when ``bend`` > 0 (the interpolation is then optimistic)
    calls = []

    def fake(cfg, L, family):
        calls.append(L)
        return {"lut": base + per * (L - 1) + bend * (L - 1) ** 2, "dsp": 0}
    monkeypatch.setattr(lanes_mod, "synth_cells", fake)
    cfg = Config(hidden=3, inputs=1)
    brd = _board(monkeypatch, 5280)
    cap = int(LUT_FILL['ice40'] * 5280)
    want = max(L for L in range(1, max_lanes(cfg) + 1)
               if _fits(cfg, brd.replace(lanes=L)) and fake(cfg, L, "ice40")["lut"] <= cap)
    want_luts = fake(cfg, want, "ice40")["lut"]
    calls.clear()
    choice = auto_lanes(cfg, brd)
    assert choice.lanes == want and choice.luts == want_luts
    assert len(calls) <= 5                     # a handful of syntheses, not a scan


def test_not_even_one_lane_is_refused(monkeypatch):
    monkeypatch.setattr(lanes_mod, "synth_cells", lambda c, L, f: {"lut": 10 ** 6, "dsp": 0})
    with pytest.raises(ValueError, match="not even one lane fits"):
        auto_lanes(CFG, Target(board=UP5K.name))


@pytest.mark.slow        # two real syntheses (~45 s each); test_build checks Yosys' DSPs too
def test_multipliers_bind_when_logic_is_plenty(monkeypatch):
    big = _board(monkeypatch, 10 ** 6)
    choice = auto_lanes(CFG, big)
    L = choice.lanes
    assert 1 <= L < max_lanes(CFG)
    # Yosys' own DSP count: L lanes fit the 8 SB_MAC16, L + 1 do not
    assert synth_cells(CFG, L, "ice40")["dsp"] <= UP5K.resources["dsp"]
    assert synth_cells(CFG, L + 1, "ice40")["dsp"] > UP5K.resources["dsp"]
    assert "multipliers" in choice.reason and f"{L + 1} would not fit" in choice.reason


@pytest.mark.slow
def test_logic_binds_on_a_smaller_device(monkeypatch):
    one, two = (synth_cells(CFG, L, "ice40")["lut"] for L in (1, 2))
    lut = int((two + 0.5 * (two - one)) / LUT_FILL['ice40']) + 1      # room for about 2.5 lanes
    choice = auto_lanes(CFG, _board(monkeypatch, lut))
    cap = int(LUT_FILL['ice40'] * lut)
    assert choice.lanes == 2 and choice.luts == two <= cap
    assert synth_cells(CFG, 3, "ice40")["lut"] > cap
    assert "logic cells" in choice.reason


def test_cli_lanes_auto(monkeypatch, capsys):
    monkeypatch.setattr(lanes_mod, "synth_cells", lambda c, L, f: {"lut": 3000 + 450 * L, "dsp": 0})
    rc = main(["build", "--board", "icebreaker", "--hidden", "2", "--inputs", "1",
               "--lanes", "auto", "--estimate", "--json"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    out = json.loads(cap.out)                  # stdout stays one JSON object
    assert out["lanes"] == 4                   # 3000 + 450·4 <= 0.975·5280 < 3000 + 450·5
    assert cap.err.startswith("--lanes auto for icebreaker: 4 lanes ")


def test_auto_needs_a_board_for_simulate(capsys):
    assert main(["simulate", "--hidden", "2", "--lanes", "auto"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "--lanes auto needs --board (the board whose resources it fills)")


@pytest.mark.parametrize("bad", ["0", "many"])
def test_bad_lanes(bad, tmp_path, capsys):
    with pytest.raises(SystemExit) if bad == "many" else _nothing():
        rc = main(["generate", "--hidden", "2", "--lanes", bad, "-o", str(tmp_path / "o")])
        assert rc == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--lanes" in err.strip().splitlines()[-1]
    assert not (tmp_path / "o" / "rtrl_core.v").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_fill_is_the_family_s(monkeypatch):
    """The ECP5 gets its own (lower, routing-bound) share of the LUTs."""
    monkeypatch.setattr(lanes_mod, "synth_cells", lambda c, L, f: {"lut": 2000 * L, "dsp": 0})
    ecp5 = BOARDS["ulx3s-85f"]
    choice = auto_lanes(Config(hidden=8, inputs=4), Target(board=ecp5.name))
    assert choice.lanes == int(LUT_FILL["ecp5"] * ecp5.resources["lut"]) // 2000
    assert f"{LUT_FILL['ecp5'] * 100:g} %" in choice.reason
