"""The core's RAMs treat a read that collides with a write as don't-care (the builds tell
Yosys so, hdl/memory.py); these tests check that the core never needs such a read.

Under :func:`poisoned_collisions` every collided read returns inverted data. The first
test shows the poison works on a memory that does use a collided read; the others run
whole-core jobs of every class (exact and SnAp-1, both activations, several lanes, S and
G in single-port RAMs, host accesses, resets, stalls) poisoned and require them to stay
bit-exact with the integer model; the last runs a build's own Yosys script and checks
that it marks exactly the core's memories, and takes the initial content of exactly the
huge ones, by attribute."""

import contextlib
import json
import subprocess

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core
from rtrledit.hdl.memory import NO_RW_COLLISION, YOSYS_SCRIPT, poisoned_collisions, ports, ram
from rtrledit.model.config import Config
from rtrledit.sim.amaranth_tb import AmaranthDriver
from rtrledit.sim.execute import execute
from rtrledit.sim.random_jobs import features, random_job
from rtrledit.toolchain import require


def _read_while_writing(poison: bool) -> list[int]:
    """Write 5 then 9 to word 3 while reading it, then read word 3 and word 0 quietly."""
    md = Module()
    with poisoned_collisions() if poison else contextlib.nullcontext():
        mem = ram(signed(8), 4)
        md.submodules.mem = mem
        rd, wr = ports(md, mem)
    addr, we, wdata = Signal(2), Signal(), Signal(signed(8))
    md.d.comb += [rd.addr.eq(addr), wr.addr.eq(addr), wr.en.eq(we), wr.data.eq(wdata)]
    got: list[int] = []

    async def bench(ctx):
        for a, w, v in [(3, 1, 5), (3, 1, 9), (3, 0, 0), (0, 0, 0), (0, 0, 0)]:
            ctx.set(addr, a)
            ctx.set(we, w)
            ctx.set(wdata, v)
            await ctx.tick()
            got.append(ctx.get(rd.data))

    sim = Simulator(md)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_poison_inverts_exactly_the_collided_reads():
    # read-first: the collided reads return the old word (0, then 5)
    assert _read_while_writing(False) == [0, 5, 9, 0, 0]
    # poisoned: those two are inverted (~0 = -1, ~5 = -6); the quiet reads are not
    assert _read_while_writing(True) == [-1, -6, 9, 0, 0]


def run_poisoned(job) -> tuple[dict, int]:
    """The job on the core elaborated under poison: (execute's report, how many reads
    were poisoned)."""
    with poisoned_collisions() as flags:
        core = Core(job.cfg, job.lanes, spram=job.spram)
        sim = Simulator(core)
    assert flags, "the core has no poisonable memory"
    out = {"poisoned": 0}

    async def bench(ctx):
        drv = AmaranthDriver(core, ctx)
        job.stalls.apply(drv)
        out["report"], _ = await execute(job, drv)

    async def count(ctx):
        while True:
            await ctx.tick()
            out["poisoned"] += sum(ctx.get(f) for f in flags)

    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(count, background=True)
    sim.run()
    return out["report"], out["poisoned"]


#: seeds of rtrledit.sim.random_jobs whose jobs together cover both approximations, both
#: activations, several lanes and stalls (checked below)
POISON_SEEDS = [100, 101, 102, 103, 105, 5, 44]


@pytest.mark.parametrize("seed", POISON_SEEDS)
def test_core_uses_no_collided_read(seed):
    """Bit-exact with collided reads poisoned; and collisions do happen (host writes to
    the windows, the units' idle read ports), so the poison was exercised."""
    job = random_job(seed, max_cycles=4_000)
    report, poisoned = run_poisoned(job)
    assert report["bitexact"], report["mismatch_list"]
    assert report["results"] == report["steps"] == len(job.xs)
    assert poisoned > 0


@pytest.mark.parametrize("approx", ["exact", "snap1"])
def test_core_with_single_port_memories_uses_no_collided_read(approx):
    seed = 300
    while (job := random_job(seed, 4_000)).cfg.approx != approx:
        seed += 1
    job.spram = True
    report, _ = run_poisoned(job)
    assert report["bitexact"], report["mismatch_list"]


def test_poison_seeds_cover_the_classes():
    seen = set().union(*(features(random_job(s, 4_000)) for s in POISON_SEEDS))
    assert {"approx=exact", "approx=snap1", "activation=hardtanh", "activation=tanh"} <= seen, seen


@pytest.mark.parametrize("spram", [False, True])
def test_build_script_marks_the_core_memories(tmp_path, spram):
    """The build's own script on a core: every memory of the core but the counters'
    (transparent by design) gets an undefined collision, nothing else does; the huge
    memories (with ``spram``: the two S banks and G), and only they, lose their initial
    content, which Amaranth writes as zeros."""
    from amaranth.back import rtlil
    core = Core(Config(hidden=3, inputs=2, outputs=1), 2, target="ice40", spram=spram)
    (tmp_path / "core.il").write_text(rtlil.convert(core, name="core"))
    log = tmp_path / "y.log"
    subprocess.run([require("yosys"), "-q", "-l", log.name, "-p",      # YoWASP sees the cwd only
                    f"read_rtlil core.il; {YOSYS_SCRIPT}; "
                    f"select -count t:$mem_v2 a:{NO_RW_COLLISION} %i r:RD_COLLISION_X_MASK=1'1 %i; "
                    "select -count t:$mem_v2 r:RD_COLLISION_X_MASK=1'1 %i; select -count t:$mem_v2; "
                    "write_json core.json"],
                   cwd=tmp_path, check=True, capture_output=True)
    counts = [int(ln.split()[0]) for ln in log.read_text().splitlines() if ln.endswith("objects.")]
    # W, [U | b], V, c, G; z, h, φ', ĉ; per lane a buffer, a z copy and an S bank: 15;
    # plus the counters' RAM
    assert counts == [15, 15, 16], counts
    mems = [c for mod in json.loads((tmp_path / "core.json").read_text())["modules"].values()
            for c in mod["cells"].values() if c["type"] == "$mem_v2"]
    undefined = [c for c in mems if set(c["parameters"]["INIT"]) == {"x"}]
    huge = [c for c in mems if c["attributes"].get("ram_style") == "huge"]
    assert len(huge) == (3 if spram else 0) and undefined == huge
    assert all(set(c["parameters"]["INIT"]) == {"0"} for c in mems if c not in huge)
