"""Shared pieces of the board tests: a simulated host session and its helpers."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from rtrledit.boards import protocol as P
from rtrledit.boards.hostsim import BridgeHarness, ByteLink, Host
from rtrledit.model.config import SAT_NAMES, Config
from rtrledit.model.reference import init_params
from rtrledit.model.fixed import FixedRTRL


def run_bridge(cfg: Config, lanes: int, bench, timeout: int = 400, fifo_depth: int = 32,
               gap: int = 0):
    """Run ``bench(ctx, host, harness)`` against a Bridge + Core at the byte level."""
    h = BridgeHarness(cfg, lanes, timeout=timeout, fifo_depth=fifo_depth)
    link = ByteLink(h.bridge, gap=gap)
    host = Host(link, P.Layout.from_config(cfg, fifo_depth))
    out = {}

    async def tb(ctx):
        out["result"] = await bench(ctx, host, h)

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_process(link.collector)
    sim.add_testbench(tb)
    sim.run()
    return out.get("result")


def int_params(cfg: Config, seed: int = 0):
    th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=seed)
    fx = FixedRTRL.from_float(cfg, th, V, c)
    return fx.theta.copy(), fx.V.copy(), fx.c.copy()


async def load_params(ctx, host: Host, rm, cfg: Config, theta, V, c) -> None:
    n = cfg.n
    await host.write_words(ctx, rm["W"].base, theta[:, :n].ravel())
    await host.write_words(ctx, rm["U"].base, theta[:, n:].ravel())
    await host.write_words(ctx, rm["V"].base, V.ravel())
    await host.write_words(ctx, rm["C"].base, c.ravel())


def s_addresses(cfg: Config) -> list[int]:
    nq = cfg.n * cfg.q
    if cfg.approx == "snap1":
        return list(range(nq))
    cbits = max(1, (nq - 1).bit_length())
    return [(k << cbits) + col for k in range(cfg.n) for col in range(nq)]


async def read_state(ctx, host: Host, rm, cfg: Config) -> dict:
    n, m, p = cfg.n, cfg.m, cfg.p
    W = np.array(await host.read_words(ctx, rm["W"].base, n * n)).reshape(n, n)
    U = np.array(await host.read_words(ctx, rm["U"].base, n * (m + 1))).reshape(n, m + 1)
    st = {"theta": np.concatenate([W, U], axis=1),
          "V": np.array(await host.read_words(ctx, rm["V"].base, p * n)).reshape(p, n),
          "c": np.array(await host.read_words(ctx, rm["C"].base, p)),
          "h": np.array(await host.read_words(ctx, rm["H"].base, n))}
    sbase = rm["S"].base
    addrs = s_addresses(cfg)
    # S rows are contiguous runs of n·q words: read them run by run
    vals = []
    i = 0
    while i < len(addrs):
        j = i
        while j + 1 < len(addrs) and addrs[j + 1] == addrs[j] + 1:
            j += 1
        vals += await host.read_words(ctx, sbase + addrs[i], j - i + 1)
        i = j + 1
    st["S"] = np.array(vals).reshape(cfg.s_shape)
    st["sat"] = {s: await host.read_reg(ctx, rm[f"SAT_{s.upper()}"].addr) for s in SAT_NAMES}
    st["lfsr"] = await host.read_reg(ctx, rm["LFSR"].addr)
    st["steps"] = await host.read_reg(ctx, rm["STEPS"].addr)
    return st
