"""The register map's layout, and the core's decoding of it, word by word."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.core import Core
from rtrledit.hdl.regmap import ADDR_WIDTH, register_map, window_bits
from rtrledit.model import Config
from rtrledit.sim.amaranth_tb import AmaranthDriver
from rtrledit.sim.codec import to_signed


@pytest.mark.parametrize("n,m,p,approx", [(1, 1, 1, "exact"), (3, 1, 1, "exact"),
                                          (5, 3, 2, "exact"), (12, 2, 3, "snap1"),
                                          (1, 2, 1, "snap1"), (7, 1, 3, "exact")])
def test_windows_are_aligned_disjoint_and_after_the_registers(n, m, p, approx):
    rm = register_map(Config(hidden=n, inputs=m, outputs=p, approx=approx), 1)
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
