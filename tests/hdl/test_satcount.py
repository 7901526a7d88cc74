"""The RAM-backed saturation counters against plain Python counters, cycle by cycle."""

import random

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.satcount import SaturationCounters


@pytest.mark.parametrize("count,max_inc,seed", [(2, 1, 0), (11, 2, 1), (11, 8, 2), (5, 3, 3)])
def test_counters_match_a_behavioural_model(count, max_inc, seed):
    """Random increments every cycle (bursts at the maximum, to stress the pending
    registers), reads as often as the bus allows, clears of random masks; every read
    equals the model's count of all increments before the read's cycle. The counters
    start from whatever the RAM holds, so a run begins by checking that reset clears."""
    rng = random.Random(seed)
    dut = SaturationCounters(count, max_inc)
    model = [0] * count
    reads = []

    async def bench(ctx):
        gap = 0
        for cycle in range(3000):
            burst = (cycle // 300) % 2 == 1
            incs = [max_inc if burst else rng.choice([0, 0, 0, 1, max_inc]) for _ in range(count)]
            read = gap >= 1 and rng.random() < (0.9 if burst else 0.3)
            # (a clear is a bus write: never in the cycle of a read)
            clear = rng.getrandbits(count) if not read and rng.random() < 0.01 else 0
            index = rng.randrange(count)
            for i in range(count):
                ctx.set(dut.inc[i], incs[i])
            ctx.set(dut.clear, clear)
            ctx.set(dut.r_stb, read)
            ctx.set(dut.r_index, index)
            if read:
                want = model[index]                  # increments before this cycle
                gap = 0
            else:
                gap += 1
            await ctx.tick()
            for i in range(count):
                model[i] = 0 if clear >> i & 1 else model[i] + incs[i]
            if read:
                ctx.set(dut.r_stb, 0)
                got = ctx.get(dut.r_data)
                assert got == want, f"cycle {cycle}: counter {index} reads {got}, model {want}"
                reads.append(got)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert len(reads) > 500 and max(reads) > 2 * count * max_inc   # the pending path was used


def test_counters_wrap_at_32_bits():
    """A counter that passes 2^32 - 1 wraps around, as the register map says."""
    dut = SaturationCounters(2, 1)

    async def bench(ctx):
        await ctx.tick().repeat(3)                  # both visited: the reset marks are spent
        ctx.set(dut.mem.data[1], (1 << 32) - 2)
        ctx.set(dut.inc[1], 1)
        await ctx.tick().repeat(3)
        ctx.set(dut.inc[1], 0)
        ctx.set(dut.r_stb, 1)
        ctx.set(dut.r_index, 1)
        await ctx.tick()
        assert ctx.get(dut.r_data) == 1             # 2^32 - 2 + 3, modulo 2^32

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
