"""The native Verilator harness (sim/native.py) against the integer model: random jobs
with stalls are bit-exact, a corrupted answer of the harness is caught, and the case the
soak found stays fixed."""

import dataclasses

import pytest

from rtrledit.sim.native import build, check, compile_job, run_program
from rtrledit.sim.random_jobs import random_job

SEEDS = (0, 1)          # small designs (about 12 s of Verilator build each)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    out = {}
    for seed in SEEDS:
        job = random_job(seed, 20000)
        prog = compile_job(job)
        out[seed] = job, prog, run_program(build(job, root), prog)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_random_jobs_bit_exact(runs, seed):
    job, prog, run = runs[seed]
    report, _ = check(job, prog, run)
    assert report["mismatches"] == 0 and report["protocol_errors"] == 0, report["mismatch_list"][:3]
    assert report["results"] == len(job.xs) > 0
    assert run.total_cycles > 0 and run.streams


def test_stalls_drawn(runs):
    assert any(j.stalls.idle or j.stalls.backpressure for j, _, _ in runs.values())


def test_one_evaluation_a_cycle_answers_as_two(runs, tmp_path):
    """The harness evaluates the model once a cycle (sim/native_harness.cpp, arm_edge);
    built to evaluate it at clk = 0 as well, as a plain Verilator testbench does, it
    gives the same words, cycle counts and handshake cycles (stalls included)."""
    job, prog, run = next(r for r in runs.values() if r[0].stalls.any)
    low = run_program(build(job, tmp_path, optimise=False, eval_low=True), prog)
    assert low.status == run.status == 0
    assert (low.reads, low.cycles, low.total_cycles, low.stream_cycles) == (
        run.reads, run.cycles, run.total_cycles, run.stream_cycles)
    assert len(low.streams) == len(run.streams) > 0
    for a, b in zip(low.streams, run.streams):
        assert a.payload == b.payload
        for field in ("accepted", "seen", "protocol"):
            assert (getattr(a, field) == getattr(b, field)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_corrupted_result_is_caught(runs, seed):
    job, prog, run = runs[seed]
    s0 = run.streams[0]
    bad = dataclasses.replace(s0, payload=[s0.payload[0] ^ 1, *s0.payload[1:]])
    report, _ = check(job, prog, dataclasses.replace(run, streams=[bad, *run.streams[1:]]))
    assert report["mismatches"] > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_corrupted_state_read_is_caught(runs, seed):
    job, prog, run = runs[seed]
    reads = list(run.reads)
    reads[-1] ^= 1 << 3                           # the last word read back: final state
    report, _ = check(job, prog, dataclasses.replace(run, reads=reads))
    assert report["mismatches"] > 0


def test_two_theta_saturations_in_one_cycle_are_counted(tmp_path):
    """The soak's first catch (``rtrledit verify`` seed 57, docs/verification.md):
    hardtanh on one lane, where the sweep engine reports at most one saturation a cycle,
    while one Θ element of the update can saturate twice (its rounded step and the
    subtraction). The counters' increments were one bit wide: the final sat.theta was
    132 where the model counts 524. 2,000 steps are enough to show it."""
    job = random_job(57, steps=2000, max_lanes=4)
    assert job.lanes == 1 and job.cfg.activation == "hardtanh"
    prog = compile_job(job)
    report, _ = check(job, prog, run_program(build(job, tmp_path), prog))
    assert report["mismatches"] == 0, report["mismatch_list"][:3]
