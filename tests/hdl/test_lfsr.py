# amaranth: UnusedElaboratable=no
"""The HDL LFSR against :func:`rtrledit.model.requant.lfsr_next`."""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.lfsr import LFSR
from rtrledit.model.requant import lfsr_next


def model_sequence(state: int, n: int) -> list[int]:
    out = []
    for _ in range(n):
        state = int(lfsr_next(state))
        out.append(state)
    return out


def simulate(dut: LFSR, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("seed", [0xACE1, 1, 0xFFFFFFFF, 0x80000000])
def test_sequence_matches_model(seed: int) -> None:
    n = 1000
    dut = LFSR(seed)
    got: list[int] = []

    async def bench(ctx):
        assert ctx.get(dut.value) == seed          # reset value
        ctx.set(dut.en, 1)
        for _ in range(n):
            await ctx.tick()
            got.append(ctx.get(dut.value))

    simulate(dut, bench)
    assert got == model_sequence(seed, n)


def test_en_low_holds_and_load_reseeds() -> None:
    dut = LFSR(0xACE1)
    log: list[tuple[str, int]] = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        await ctx.tick().repeat(5)
        log.append(("after5", ctx.get(dut.value)))
        ctx.set(dut.en, 0)
        await ctx.tick().repeat(7)
        log.append(("held", ctx.get(dut.value)))
        # load wins over en
        ctx.set(dut.en, 1)
        ctx.set(dut.load, 1)
        ctx.set(dut.load_value, 0x12345678)
        await ctx.tick()
        log.append(("loaded", ctx.get(dut.value)))
        ctx.set(dut.load, 0)
        for i in range(3):
            await ctx.tick()
            log.append((f"step{i}", ctx.get(dut.value)))
        # en pulses: advance only on cycles with en high
        for en in (0, 1, 0, 0, 1):
            ctx.set(dut.en, en)
            await ctx.tick()
        log.append(("pulsed", ctx.get(dut.value)))

    simulate(dut, bench)
    after5 = model_sequence(0xACE1, 5)[-1]
    steps = model_sequence(0x12345678, 5)
    assert log == [("after5", after5), ("held", after5), ("loaded", 0x12345678),
                   ("step0", steps[0]), ("step1", steps[1]), ("step2", steps[2]),
                   ("pulsed", steps[4])]


@pytest.mark.parametrize("seed", [0, -1, 2**32, True, 1.0])
def test_bad_seed(seed) -> None:
    with pytest.raises(ValueError, match="'seed'"):
        LFSR(seed)
