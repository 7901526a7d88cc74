"""Shared pieces of the board tests: a simulated host session and its helpers."""

from __future__ import annotations

from amaranth.sim import Simulator

from rtrledit.boards import protocol as P
from rtrledit.boards.hostsim import BridgeHarness, ByteLink, Host
from rtrledit.firmware.regmodel import RegisterModel
from rtrledit.model.config import Config
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


def _model(rm, cfg: Config) -> RegisterModel:
    regs = RegisterModel(cfg)
    assert rm.windows == regs.map.windows, "the register map is not the config's"
    return regs


async def load_params(ctx, host: Host, rm, cfg: Config, theta, V, c) -> None:
    """Θ, V, c into the windows of ``rm`` (the register map of ``cfg``)."""
    for run in _model(rm, cfg).params(theta, V, c):
        await host.write_words(ctx, run.addr, run.values)


async def read_state(ctx, host: Host, rm, cfg: Config) -> dict:
    """The whole state (:meth:`RegisterModel.decode_state`), for the Scoreboard."""
    regs = _model(rm, cfg)
    return regs.decode_state([await host.read_words(ctx, s.addr, s.count)
                              for s in regs.state_spans()])
