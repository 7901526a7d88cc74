"""The register map's layout, and the core's decoding of it, word by word."""

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from amaranth.hdl import Const, Module
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core, field_word
from rtrledit.hdl.regmap import (ADDR_WIDTH, REGISTERS, pack, register_map, to_signed, unpack,
                                 window_bits)
from rtrledit.model import Config
from rtrledit.sim.amaranth_tb import AmaranthDriver


@pytest.mark.parametrize("n,m,p,approx", [(1, 1, 1, "exact"), (3, 1, 1, "exact"),
                                          (5, 3, 2, "exact"), (12, 2, 3, "snap1"),
                                          (1, 2, 1, "snap1"), (7, 1, 3, "exact")])
def test_windows_are_aligned_disjoint_and_after_the_registers(n, m, p, approx):
    rm = register_map(Config(hidden=n, inputs=m, outputs=p, approx=approx))
    last_reg = max(r.addr for r in rm.registers)

    def claims(w, addr):   # the documented decode: aligned window, index = low address bits
        bits = window_bits(w.size)
        return addr >> bits == w.base >> bits and addr & ((1 << bits) - 1) < w.size

    for w in rm.windows:
        assert w.base % (1 << window_bits(w.size)) == 0, w.name
        assert w.base > last_reg and w.base + w.size <= 1 << ADDR_WIDTH
        for addr in range(w.base, w.base + w.size):
            assert [v.name for v in rm.windows if claims(v, addr)] == [w.name], hex(addr)


@pytest.mark.parametrize("n,m,p,approx,lanes", [(1, 1, 1, "exact", 3), (3, 1, 1, "exact", 2),
                                                (2, 2, 2, "snap1", 1), (4, 1, 3, "exact", 5)])
def test_every_window_word_reads_back_what_was_written(n, m, p, approx, lanes):
    cfg = Config(hidden=n, inputs=m, outputs=p, approx=approx)
    core = Core(cfg, lanes)
    rng = np.random.default_rng(n * 10 + m)
    errors = []

    async def bench(ctx):
        drv = AmaranthDriver(core, ctx)
        rm = drv.regmap
        written = {}
        for w in rm.windows:
            idx = drv.s_addresses() if w.name == "S" else range(w.size)
            lim = 1 << (w.fmt[0] - 1)
            for i in idx:
                v = int(rng.integers(-lim, lim))
                await drv.write(w.base + i, v)
                written[w.base + i] = v
        for addr, v in written.items():
            got = to_signed(await drv.read(addr), 32)
            if got != v:
                errors.append((hex(addr), v, got))
        if await drv.reg("STATUS") & 2:
            errors.append(("ERR set by valid accesses", await drv.reg("ERR_ADDR")))

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, errors[:10]


def test_pack_matches_hand_worked_words():
    assert pack("ETA", eta=8, eta_o=6) == 0x0608
    assert pack("CTRL", learn=1, track=1, clear_err=1) == 0x803
    assert pack("CTRL", track=True, reset_sens=1) == 0x202
    assert unpack("STATUS", 0b10) == {"busy": 0, "err": 1}
    cfg = Config(hidden=5, inputs=3, outputs=2, activation="tanh", approx="snap1")
    assert register_map(cfg)["SHAPE"].value == 0x00320305
    assert unpack("SHAPE", 0x00320305) == {"n": 5, "m": 3, "p": 2, "tanh": 1, "snap1": 1}
    word = 0x0608
    bits = [(word >> i) & 1 for i in range(32)]            # a gateware slice: word[f.bits]
    assert bits[register_map(cfg)["ETA"].fields["ETA_O"].bits] == [0, 1, 1, 0, 0]


def test_pack_refuses_what_does_not_fit_naming_the_field():
    with pytest.raises(ValueError, match=r"^ETA\.ETA = 32 does not fit its 5-bit field"):
        pack("ETA", eta=32)
    with pytest.raises(ValueError, match=r"CTRL\.LEARN = -1"):
        pack("CTRL", learn=-1)
    with pytest.raises(ValueError, match="has no field 'etta'"):
        pack("ETA", etta=1)
    with pytest.raises(ValueError, match="no register 'ETAS'"):
        pack("ETAS", eta=1)


@pytest.mark.parametrize("field,reg,top", [("hidden", "N", 255), ("inputs", "M", 255),
                                           ("outputs", "P", 15)])
def test_a_config_the_registers_cannot_describe_is_refused(field, reg, top):
    base = {"hidden": 2, "approx": "snap1"}
    with pytest.raises(ValueError, match=rf"^config field '{field}': SHAPE\.{reg} = {top + 1} "):
        register_map(Config(**{**base, field: top + 1}))
    word = register_map(Config(**{**base, field: top}))["SHAPE"].value
    assert unpack("SHAPE", word)[reg.lower()] == top


def test_lanes_is_what_the_lanes_register_reads():
    cfg = Config(hidden=3)
    assert register_map(cfg, 5)["LANES"].value == 5
    assert register_map(cfg)["LANES"].value is None
    assert register_map(cfg, 5).windows == register_map(cfg).windows
    assert '"value": 5' in register_map(cfg, 5).to_json()
    with pytest.raises(ValueError, match="^lanes"):
        register_map(cfg, 0)


@pytest.mark.parametrize("n,m,p,approx,lanes", [(2, 3, 2, "snap1", 1), (3, 1, 1, "exact", 3)])
def test_the_core_reads_the_constants_of_its_map(n, m, p, approx, lanes):
    cfg = Config(hidden=n, inputs=m, outputs=p, approx=approx)
    core = Core(cfg, lanes)
    rm = register_map(cfg, lanes)
    got = {}

    async def bench(ctx):
        drv = AmaranthDriver(core, ctx)
        for name in ("ID", "SHAPE", "LANES"):
            got[name] = await drv.reg(name)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == {name: rm[name].value for name in got}
    assert got["ID"] == 0x5254524C and unpack("SHAPE", got["SHAPE"])["n"] == n


@pytest.mark.parametrize("name", ["CTRL", "ETA", "STATUS", "SHAPE"])
def test_gateware_words_match_pack(name):
    """hdl.core.field_word (the register file's words) places every field where
    Register.pack does, for random field values."""
    reg = next(r for r in REGISTERS if r.name == name)
    rng = random.Random(name)
    for _ in range(20):
        vals = {k.lower(): rng.randint(0, f.max) for k, f in reg.fields.items()}
        word = field_word(reg, **{k: Const(v, reg.fields[k.upper()].width) for k, v in vals.items()})
        got = {}

        async def bench(ctx):
            got["w"] = ctx.get(word)
        sim = Simulator(Module())
        sim.add_testbench(bench)
        sim.run()
        assert got["w"] == reg.pack(**vals), (vals, hex(got["w"]))


@given(st.integers(1, 64).flatmap(lambda w: st.tuples(
    st.just(w), st.integers(-(1 << (w - 1)), (1 << (w - 1)) - 1), st.integers(0, 7))))
def test_to_signed_inverts_twos_complement(case):
    w, v, high = case
    word = (v % (1 << w)) | (high << w)            # v's low w bits, junk above them
    assert to_signed(word, w) == v


@pytest.mark.parametrize("approx,lanes", [("exact", 3), ("exact", 4), ("snap1", 1)])
def test_every_access_is_answered_in_bus_latency_cycles(approx, lanes):
    """A strobe's ack comes exactly BUS_LATENCY cycles later, once, for a register, a
    counter, a RAM window and S; ``sample.ready`` is low while the access is in flight."""
    from rtrledit.hdl.core import BUS_LATENCY
    cfg = Config(hidden=3, inputs=2, outputs=1, approx=approx)
    core = Core(cfg, lanes)
    rm = register_map(cfg, lanes)
    s_win = next(w for w in rm.windows if w.name == "S")
    w_win = next(w for w in rm.windows if w.name == "W")
    s_addr = s_win.base + (1 if approx == "snap1" else 2 + (1 << (window_bits(s_win.size) - 2)))
    probes = [(rm["ID"].addr, None), (rm["STEPS"].addr, None), (w_win.base + 4, 0x1234),
              (s_addr, -77 & 0xFFFFFFFF)]
    seen = []

    async def bench(ctx):
        bus = core.bus
        for addr, value in probes:
            for write in ((True, False) if value is not None else (False,)):
                ctx.set(bus.addr, addr)
                ctx.set(bus.w_data, value or 0)
                ctx.set(bus.w_stb if write else bus.r_stb, 1)
                acks, ready = [], []
                for _ in range(2 * BUS_LATENCY + 2):
                    ready.append(ctx.get(core.sample.ready))
                    await ctx.tick()
                    ctx.set(bus.w_stb if write else bus.r_stb, 0)
                    acks.append(ctx.get(bus.ack))
                    if acks[-1] and not write:
                        seen.append((addr, ctx.get(bus.r_data)))
                assert acks.index(1) + 1 == BUS_LATENCY and sum(acks) == 1, (hex(addr), acks)
                assert not any(ready[:BUS_LATENCY]) and all(ready[BUS_LATENCY:]), (hex(addr), ready)

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    got = dict(seen)
    assert got[w_win.base + 4] == 0x1234 and got[s_addr] == -77 & 0xFFFFFFFF
    assert got[rm["ID"].addr] == rm["ID"].value and got[rm["STEPS"].addr] == 0
