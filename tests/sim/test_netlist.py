# amaranth: UnusedElaboratable=no
"""The board netlists against the integer model: the core built for the iCE40 and the ECP5
(its multipliers the family's, ``hdl/dsp.py``), synthesised by Yosys as a board build does
(``synth_ice40 -dsp``, ``synth_ecp5``), simulated gate by gate on Icarus with the cell
models (Yosys' ``cells_sim.v``; ``sim/mult18x18d_sim.v`` for the ECP5 DSP, a black box
in Yosys) and checked word for word like the RTL (``rtrledit.sim.netlist``).

First the multiplier alone: its netlist must give a·b exactly, one cycle later, from one
DSP block and no fabric flip-flop (the product's register is inside the block), for
operands from a Verilog testbench whose expected values are the simulator's own signed
products. The deliberate faults of :data:`~rtrledit.hdl.dsp.MUTATIONS` (operand ``a``
unsigned, the register dropped) must be seen both there and by the whole-core job.

Default run: the multiplier cases, one small core per family (n = 2..4, L = 2) and the
two faults on the core; ``-m slow`` runs bigger cores (docs/verification.md).
"""

from __future__ import annotations

import subprocess

import pytest

from rtrledit.hdl.dsp import MUTATIONS, Multiplier
from rtrledit.sim.netlist import cell_models, synthesise
from rtrledit.sim.random_jobs import random_job
from rtrledit.sim.runner import simulate

from .test_core import check

FAMILIES = ("ice40", "ecp5")
DSP_CELL = {"ice40": "SB_MAC16", "ecp5": "MULT18X18D"}
FF_CELL = {"ice40": "SB_DFF", "ecp5": "TRELLIS_FF"}
#: one small design per family for the default run: (seed, family); seed 3 is exact RTRL,
#: n = 3, hardtanh, 2 lanes; seed 28 exact, n = 2, tanh, wrap, 2 lanes
CORE_CASES = [(3, "ice40"), (28, "ecp5")]
CORE_CYCLES = 6_000
#: the slow run, both families: exact n = 8 hardtanh 4 lanes, SnAp-1 n = 8, exact n = 8
#: tanh 4 lanes, exact n = 7 tanh wrap 4 lanes (20,000 cycles each)
SLOW_SEEDS = [12, 13, 16, 54]

_BENCH = """`timescale 1ns/1ps
module bench;
  reg clk = 0;
  always #5 clk = ~clk;
  reg signed [{aw1}:0] a = 0;
  reg signed [{bw1}:0] b = 0;
  wire signed [{pw1}:0] p;
  reg signed [{pw1}:0] expected;
  integer i, bad = 0, checked = 0;
  mul dut({clocks}.a(a), .b(b), .p(p));
  initial begin
    for (i = 0; i < {count}; i = i + 1) begin
      @(negedge clk);
      a = $random; b = $random;
      if (i % 5 == 1) a = -(1 << {aw1});
      if (i % 7 == 1) b = -(1 << {bw1});
      if (i % 11 == 3) a = (1 << {aw1}) - 1;
      #1;                          // the new operands are in; p must still be the last product
      if (i > 0) begin
        checked = checked + 1;
        if (p !== expected) bad = bad + 1;
      end
      expected = a * b;
    end
    $display("checked %0d bad %0d", checked, bad);
    $finish;
  end
endmodule
"""


def _multiplier_netlist(tmp_path, family: str, aw: int, bw: int,
                        mutation: str | None = None) -> tuple[int, int, str]:
    """(checked, bad, netlist) of the synthesised multiplier on Icarus."""
    net = synthesise(Multiplier(aw, bw, family, mutation), family, "mul")
    (tmp_path / "mul.v").write_text(net)
    clocks = ".clk(clk), .rst(1'b0), " if "input clk;" in net else ""   # none when unregistered
    (tmp_path / "bench.v").write_text(_BENCH.format(aw1=aw - 1, bw1=bw - 1, pw1=aw + bw - 1,
                                                    count=400, clocks=clocks))
    sources, includes, defines = cell_models(family, tmp_path / "cells")
    subprocess.run(["iverilog", "-g2012", "-s", "bench", "-o", str(tmp_path / "bench.vvp"),
                    *(f"-I{i}" for i in includes), *(f"-D{k}={v}" for k, v in defines.items()),
                    str(tmp_path / "bench.v"), str(tmp_path / "mul.v"), *map(str, sources)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "bench.vvp")], check=True,
                         capture_output=True, text=True).stdout
    words = out.split("checked ")[1].split()
    return int(words[0]), int(words[2]), net


def _cells(net: str, name: str) -> int:
    return sum(1 for line in net.splitlines() if line.strip().startswith(name))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("widths", [(16, 16), (12, 14), (5, 16), (18, 18)])
def test_multiplier_netlist_is_exact_and_registered_in_the_dsp(tmp_path, family, widths):
    aw, bw = widths
    if family == "ice40" and max(widths) > 16:
        with pytest.raises(ValueError, match="exceed the ice40 DSP"):
            Multiplier(aw, bw, family)
        return
    checked, bad, net = _multiplier_netlist(tmp_path, family, aw, bw)
    assert checked == 399 and bad == 0
    assert _cells(net, DSP_CELL[family]) == 1, net
    assert _cells(net, FF_CELL[family]) == 0, "the product register is not in the DSP"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_multiplier_faults_are_seen(tmp_path, family, mutation):
    checked, bad, _ = _multiplier_netlist(tmp_path, family, 16, 16, mutation)
    assert checked == 399 and bad > 100, (mutation, bad)


@pytest.mark.parametrize("seed,family", CORE_CASES)
def test_core_netlist_matches_the_model(seed, family, tmp_path_factory):
    job = random_job(seed, max_cycles=CORE_CYCLES, max_hidden=4, max_lanes=2)
    assert job.cfg.approx == "exact" and 2 <= job.cfg.n <= 4 and job.lanes == 2
    report = simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "net",
                      netlist=family)
    check(job, report, seed)
    assert report["protocol_errors"] == 0


@pytest.mark.parametrize("family,mutation", [
    ("ecp5", "unsigned_a"), ("ice40", "no_register"),
    pytest.param("ice40", "unsigned_a", marks=pytest.mark.slow),
    pytest.param("ecp5", "no_register", marks=pytest.mark.slow)])
def test_core_netlist_sees_a_faulty_multiplier(family, mutation, monkeypatch, tmp_path_factory):
    """Every multiplier of the core (lanes, forward, update) built with the fault: the job
    must not pass, with wrong words or with unknown (X) ones, on which the testbench stops
    without a report (a product read a cycle early meets registers not yet written)."""
    monkeypatch.setattr(Multiplier, "fault", mutation)
    job = random_job(3, max_cycles=CORE_CYCLES, max_hidden=4, max_lanes=2)
    try:
        report = simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "net",
                          netlist=family)
    except RuntimeError as e:
        assert "ended without a report" in str(e)
        return
    assert not report["bitexact"] and report["mismatches"] > 0


#: open (docs/verification.md): on the bigger ECP5 netlists the result stream turns unknown
#: (X) within the first steps, with the Yosys-inferred multipliers as well (seed 13 with
#: family None cores synthesised for the ECP5), so not the MULT18X18D primitive; the iCE40
#: netlists of the same designs are bit-exact
ECP5_X = pytest.mark.xfail(strict=True, raises=RuntimeError,
                           reason="bigger ECP5 netlists: X on the result stream (open)")


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ice40", pytest.param("ecp5", marks=ECP5_X)])
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_core_netlist_matches_the_model_long(seed, family, tmp_path_factory):
    job = random_job(seed, max_cycles=20_000, max_hidden=8, max_lanes=4)
    report = simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "net",
                      netlist=family)
    check(job, report, seed)
