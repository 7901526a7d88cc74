"""The whole core against the integer model, word for word: Amaranth's simulator and the
generated Verilog on Icarus Verilog and Verilator (through cocotb), every job with the
stall pattern it draws (valid gaps on the sample stream, ready-low runs on the result
stream; one job in four stalls nothing).

The default run takes a few jobs chosen to cover every class of :data:`ALL_FEATURES`
(checked by :func:`test_default_jobs_cover_every_class`); ``-m slow`` runs the long
lists (20 Icarus jobs four times as long, 20 Verilator designs)."""

import dataclasses

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core, cycles_per_step
from rtrledit.sim.amaranth_tb import AmaranthDriver, simulate_amaranth
from rtrledit.sim.execute import execute
from rtrledit.sim.job import Stalls
from rtrledit.sim.random_jobs import ALL_FEATURES, features, random_batch, random_job
from rtrledit.sim.runner import simulate, simulate_batch


def check(job, report, seed):
    assert report["bitexact"], report["mismatch_list"]
    assert report["results"] == report["steps"] == len(job.xs)   # one result per sample
    for seg in job.segments:
        kind = "learn" if seg.learn else "track" if seg.track else "infer"
        assert report["cycles_per_step"][kind] == cycles_per_step(
            job.cfg, job.lanes, seg.learn, seg.track, spram=bool(job.spram))
    if seed % 3 == 0:          # the jobs with large values: saturation must be exercised
        assert sum(report["saturation"].values()) > 0


AMARANTH_SEEDS = [100, 101, 102, 103, pytest.param(104, marks=pytest.mark.slow), 105]
#: Icarus in the default run: short jobs (15,000 cycles) on five designs that together
#: cover every class but SPRAM (test_core_with_spram_on_icarus has it)
ICARUS_SEEDS, ICARUS_CYCLES = [50, 5, 44, 39, 25], 15_000
#: Verilator in the default run: two designs, a batch of jobs on each (one build, one start)
VERILATOR_BATCHES, VERILATOR_JOBS = [33, 36], 8


def test_default_jobs_cover_every_class():
    icarus = set().union(*(features(random_job(s, ICARUS_CYCLES)) for s in ICARUS_SEEDS))
    assert icarus | {"spram"} == ALL_FEATURES, sorted(ALL_FEATURES - icarus)
    verilator = set().union(*(features(j) for s in VERILATOR_BATCHES
                              for j in random_batch(s, VERILATOR_JOBS, 100_000)))
    assert {"approx=exact", "approx=snap1", "lanes do not divide nq", "no stalls",
            "valid gaps", "ready-low runs", "valid gaps and ready-low runs"} <= verilator


@pytest.mark.parametrize("seed", AMARANTH_SEEDS)
def test_core_in_amaranth_simulator(seed):
    job = random_job(seed, max_cycles=4_000)
    report, _ = simulate_amaranth(job)
    check(job, report, seed)
    assert report["protocol_errors"] == 0


def test_stalls_stretch_the_run_not_the_results():
    """The same job with and without stalls: the same words, the same compute latency,
    more clock cycles (so the stalls were applied)."""
    job = random_job(101, max_cycles=4_000)
    assert job.stalls.backpressure
    stalled = dataclasses.replace(job, stalls=Stalls(seed=3, idle=1.0, idle_max=5,
                                                     backpressure=1.0, backpressure_max=7))
    (r0, d0), (r1, d1) = (simulate_amaranth(j) for j in (dataclasses.replace(job, stalls=Stalls()),
                                                         stalled))
    check(job, r0, 101)
    check(job, r1, 101)
    assert (d0["y"] == d1["y"]).all() and (d0["flags"] == d1["flags"]).all()
    assert r0["cycles_per_step"] == r1["cycles_per_step"]
    # each sample waits its idle run (1-5 cycles), each result its ready-low run (1-7)
    T = len(job.xs)
    idle, hold = stalled.stalls.idle_generator(), stalled.stalls.backpressure_generator()
    extra = sum(next(idle) + next(hold) for _ in range(T))
    assert 2 * T <= extra <= 12 * T
    assert r1["stream_cycles"] - r0["stream_cycles"] == extra


@pytest.mark.parametrize("seed", ICARUS_SEEDS)
def test_core_verilog_on_icarus(seed, tmp_path_factory):
    job = random_job(seed, max_cycles=ICARUS_CYCLES)
    report = simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "sim")
    check(job, report, seed)
    assert report["protocol_errors"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_core_verilog_on_icarus_long(seed, tmp_path_factory):
    job = random_job(seed, max_cycles=60_000)
    check(job, simulate(job, "icarus", build_root=tmp_path_factory.getbasetemp() / "sim"), seed)


@pytest.mark.parametrize("seed", VERILATOR_BATCHES)
def test_core_verilog_on_verilator_batch(seed, tmp_path_factory):
    jobs = random_batch(seed, VERILATOR_JOBS, max_cycles=100_000)
    reports = simulate_batch(jobs, "verilator",
                             build_root=tmp_path_factory.getbasetemp() / "sim", optimise=False)
    assert len(reports) == len(jobs)
    for k, (job, report) in enumerate(zip(jobs, reports)):
        check(job, report, seed + 1000 * k)
        assert report["protocol_errors"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20, 40))   # each needs a C++ build
def test_core_verilog_on_verilator(seed, tmp_path_factory):
    job = random_job(seed, max_cycles=400_000)
    check(job, simulate(job, "verilator", build_root=tmp_path_factory.getbasetemp() / "sim",
                        optimise=False), seed)


def test_batch_needs_one_design():
    a, b = random_job(1, 2_000), random_job(2, 2_000)
    with pytest.raises(ValueError, match="one design"):
        simulate_batch([a, b], "icarus")


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


@pytest.mark.parametrize("seed,approx", [(200, "exact"), pytest.param(201, "exact", marks=pytest.mark.slow),
                                         (202, "exact"), (203, "snap1"), (204, "snap1")])
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
        drv = AmaranthDriver(core, ctx)
        job.stalls.apply(drv)
        out["report"], _ = await execute(job, drv)
        out["errors"] = drv.protocol_errors

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    check(job, out["report"], seed)
    assert out["errors"] == []


def test_core_with_spram_on_icarus(tmp_path):
    job = _job(27, ICARUS_CYCLES, "exact")          # n = 4, 4 lanes, with stalls
    check(job, simulate(job, "icarus", build_root=tmp_path / "sim"), 27)
