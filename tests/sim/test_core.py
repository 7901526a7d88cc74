"""The whole core against the integer model, word for word: Amaranth's simulator and the
generated Verilog on Icarus Verilog and Verilator (through cocotb)."""

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core, cycles_per_step
from rtrledit.sim.amaranth_tb import AmaranthDriver, simulate_amaranth
from rtrledit.sim.execute import execute
from rtrledit.sim.runner import simulate

from .jobs import random_job

def check(job, report, seed):
    assert report["bitexact"], report["mismatch_list"]
    assert report["results"] == report["steps"] == len(job.xs)   # one result per sample
    for seg in job.segments:
        kind = "learn" if seg.learn else "track" if seg.track else "infer"
        assert report["cycles_per_step"][kind] == cycles_per_step(
            job.cfg, job.lanes, seg.learn, seg.track, spram=bool(job.spram))
    if seed % 3 == 0:          # the jobs with large values: saturation must be exercised
        assert sum(report["saturation"].values()) > 0


@pytest.mark.parametrize("seed", range(100, 106))
def test_core_in_amaranth_simulator(seed):
    job = random_job(seed, max_cycles=4_000)
    report, _ = simulate_amaranth(job)
    check(job, report, seed)


@pytest.mark.parametrize("seed", range(20))
def test_core_verilog_on_icarus(seed, tmp_path_factory):
    job = random_job(seed, max_cycles=60_000)
    check(job, simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "sim"), seed)


VERILATOR_SEEDS = [pytest.param(s, marks=pytest.mark.slow) if s >= 28 else s
                   for s in range(20, 40)]   # each needs a C++ build (~20 s): 8 in CI


@pytest.mark.parametrize("seed", VERILATOR_SEEDS)
def test_core_verilog_on_verilator(seed, tmp_path_factory):
    job = random_job(seed, max_cycles=400_000)
    check(job, simulate(job, "verilator", build_root=tmp_path_factory.getbasetemp() / "sim",
                        optimise=False), seed)


def test_waveforms_only_on_request(tmp_path):
    job = random_job(7, max_cycles=2_000)
    for waves in (False, True):
        report = simulate(job, "icarus", build_root=tmp_path / str(waves), waves=waves)
        assert report["bitexact"]
        dumps = [p for p in (tmp_path / str(waves)).rglob("*") if p.suffix in (".fst", ".vcd")]
        assert bool(dumps) == waves and all(p.stat().st_size > 0 for p in dumps)


def _job(seed: int, max_cycles: int, approx: str):
    while (job := random_job(seed, max_cycles)).cfg.approx != approx:
        seed += 1000
    job.spram = True
    return job


@pytest.mark.parametrize("seed,approx", [(200, "exact"), (201, "exact"), (202, "exact"),
                                         (203, "snap1"), (204, "snap1")])
def test_core_with_spram_clears_s_after_reset(seed, approx):
    """S and G in single-port RAMs (SPRAM on the UP5K, whose power-up content is
    undefined): the core clears S after reset, so the garbage put in S at time 0 never
    reaches a result; every word, flag and cycle count as the model's."""
    job = _job(seed, 4_000, approx)
    core = Core(job.cfg, job.lanes, spram=True)
    assert core.engine.spram and core.g_spram
    out = {}
    banks = core.engine.banks if approx == "exact" else [core.engine.smem]

    async def bench(ctx):
        for bank in banks:
            for a in range(bank.depth):
                ctx.set(bank.data[a], (a * 37 + 11) % 200 - 100 or 5)
        out["report"], _ = await execute(job, AmaranthDriver(core, ctx))

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    check(job, out["report"], seed)


def test_core_with_spram_on_icarus(tmp_path):
    job = _job(3, 60_000, "exact")
    check(job, simulate(job, "icarus", build_root=tmp_path / "sim"), 3)
