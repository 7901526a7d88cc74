"""End to end at the byte level: frames in, a learning run of a few hundred samples,
every result and the final state bit-exact with the integer model (Scoreboard), also with
random stalls on the byte link; and the whole board top (UART pins + bridge + core) for a
short run, with random idle time between characters."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtrledit.boards import protocol as P
from rtrledit.boards.hostsim import Host, UartLink
from rtrledit.boards.target import Target
from rtrledit.boards.targets import cycles_per_step
from rtrledit.boards.top import BoardTop
from rtrledit.hdl.regmap import ID_MAGIC, pack, register_map
from rtrledit.model.config import Config
from rtrledit.model.explore import hardware_cost
from rtrledit.sim.job import Stalls
from rtrledit.sim.scoreboard import Scoreboard

from .common import int_params, load_params, read_state, run_bridge
from .cycles import measured_cycles_per_step


def _stream(cfg, T, seed, gain=0):
    """A delay task in integers: d_t = 2^gain · x_{t-1}[0] (clipped to Y), x uniform in
    [-1, 1). A large gain drives e (and more) into saturation."""
    rng = np.random.default_rng(seed)
    fx = cfg.formats.X
    xs = rng.integers(-fx.one, fx.one, (T, cfg.m))
    ds = np.zeros((T, cfg.p), np.int64)
    shift = cfg.formats.Y.f - fx.f
    shift += gain
    ds[1:, 0] = (xs[:-1, 0] << shift) if shift >= 0 else (xs[:-1, 0] >> -shift)
    fy = cfg.formats.Y
    return xs, np.clip(ds, fy.min, fy.max)


def _learning_run(cfg, lanes, T, batch, eta=None, gain=0, stalls=None, link=None):
    """A learning run over the byte link (with ``stalls`` on it); ``link``, a dict, gets
    the link's stall cycles and protocol errors."""
    rm = register_map(cfg, lanes)
    theta, V, c = int_params(cfg, seed=3)
    sb = Scoreboard(cfg, theta, V, c)
    xs, ds = _stream(cfg, T, seed=4, gain=gain)

    async def bench(ctx, host, h):
        if stalls is not None:
            stalls.apply(host.link)
        await load_params(ctx, host, rm, cfg, theta, V, c)
        if eta is not None:
            await host.write_reg(ctx, rm["ETA"].addr, pack("ETA", eta=eta[0], eta_o=eta[1]))
            sb.set_learning_rates(*eta)
        got = 0
        for t0 in range(0, T, batch):
            k = min(batch, T - t0)
            await host.push(ctx, xs[t0:t0 + k], ds[t0:t0 + k])
            for t in range(t0, t0 + k):
                sb.expect(xs[t], ds[t], learn=True, track=True)
            while got < t0 + k:
                for y, flags in await host.read_out(ctx, batch):
                    sb.check_result(y, flags)
                    got += 1
        # after the last result the core is idle: read everything back
        sb.check_state(await read_state(ctx, host, rm, cfg))
        if link is not None:
            link.update(stall_cycles=host.link.stall_cycles, errors=host.link.protocol_errors)
        return sb
    return run_bridge(cfg, lanes, bench, timeout=2000, fifo_depth=16)


def test_learning_run_exact_bit_exact():
    cfg = Config(hidden=3, inputs=2, eta=3, eta_o=4)
    sb = _learning_run(cfg, lanes=2, T=300, batch=12, gain=3)
    assert sb.results == 300
    assert sb.ok, "\n".join(map(str, sb.mismatches[:10]))
    # the run learns and saturates somewhere (so flags and counters were compared for real)
    assert sb.model.steps == 300 and sb.model.sat.sum() > 0
    assert not np.array_equal(sb.model.theta, int_params(cfg, seed=3)[0])


def test_learning_run_snap1_bit_exact():
    cfg = Config(hidden=4, inputs=2, approx="snap1", eta=3, eta_o=4)
    sb = _learning_run(cfg, lanes=1, T=200, batch=16, gain=3, eta=(2, 5))   # rates over the link
    assert sb.results == 200 and sb.model.sat.sum() > 0
    assert sb.ok, "\n".join(map(str, sb.mismatches[:10]))


def test_learning_run_with_stalls_on_the_byte_link():
    """Random gaps between the bytes sent and random tx.ready-low runs on every byte the
    bridge sends back: every frame still arrives whole, every result bit-exact."""
    cfg = Config(hidden=3, inputs=2, eta=3, eta_o=4)
    link = {}
    sb = _learning_run(cfg, lanes=2, T=40, batch=8, gain=3, link=link,
                       stalls=Stalls(seed=11, idle=0.5, idle_max=6, backpressure=0.5,
                                     backpressure_max=5))
    assert sb.results == 40 and sb.ok, "\n".join(map(str, sb.mismatches[:10]))
    assert link["errors"] == [] and link["stall_cycles"] > 1000


def test_scoreboard_catches_a_wrong_parameter():
    """The comparison can fail: a model started from other weights disagrees."""
    cfg = Config(hidden=2, inputs=2)
    rm = register_map(cfg, 1)
    theta, V, c = int_params(cfg, seed=3)
    sb = Scoreboard(cfg, theta, V, c)
    xs, ds = _stream(cfg, 10, seed=1)

    async def bench(ctx, host, h):
        theta2 = theta.copy()
        theta2[0, 0] += 1                                   # the device gets another Θ
        await load_params(ctx, host, rm, cfg, theta2, V, c)
        await host.push(ctx, xs, ds)
        for t in range(10):
            sb.expect(xs[t], ds[t], True, True)
        got = []
        while len(got) < 10:
            got += await host.read_out(ctx, 10)
        for y, f in got:
            sb.check_result(y, f)
        sb.check_state(await read_state(ctx, host, rm, cfg))
        return sb
    sb = run_bridge(cfg, 1, bench)
    assert not sb.ok and any(mm.quantity == "theta" for mm in sb.mismatches)


@pytest.mark.parametrize("cfg,lanes", [(Config(hidden=3, inputs=2), 2),
                                       (Config(hidden=4, inputs=2, approx="snap1"), 1)])
def test_cycles_per_step_formula(cfg, lanes):
    """targets.cycles_per_step (used for the steps/s in build reports) equals the measured
    time between sample acceptances with the stream always full."""
    measured = measured_cycles_per_step(cfg, lanes)
    assert measured == cycles_per_step(cfg, Target(lanes=lanes), learn=True)
    assert measured == hardware_cost(cfg, lanes)["cycles_per_step"]   # the exploration's too


def test_board_top_over_uart():
    """The whole top: bits on the UART pins, a few learning steps, bit-exact."""
    cfg = Config(hidden=2, inputs=2)
    lanes, div = 1, 4
    top = BoardTop(cfg, Target(lanes=lanes), divisor=div)
    rm = register_map(cfg, lanes)
    link = UartLink(top, div)
    link.set_idle_generator(Stalls(seed=2, idle=0.5, idle_max=3).idle_generator())
    host = Host(link, P.Layout.from_config(cfg))
    theta, V, c = int_params(cfg, seed=5)
    sb = Scoreboard(cfg, theta, V, c)
    xs, ds = _stream(cfg, 6, seed=6)
    out = {}

    async def bench(ctx):
        ctx.set(top.rx, 1)
        await ctx.tick().repeat(20)
        assert await host.read_reg(ctx, rm["ID"].addr) == ID_MAGIC
        assert await host.request(ctx, P.encode_request(P.Cmd.INFO)) == P.info_payload(host.layout)
        await load_params(ctx, host, rm, cfg, theta, V, c)
        await host.push(ctx, xs, ds)
        for t in range(len(xs)):
            sb.expect(xs[t], ds[t], True, True)
        got = []
        while len(got) < len(xs):
            got += await host.read_out(ctx, 8)
        for y, f in got:
            sb.check_result(y, f)
        out["learn_led"] = ctx.get(top.led_learn)
        await host.write_reg(ctx, rm["CTRL"].addr, 0)          # inference only: LED off
        out["learn_led_off"] = ctx.get(top.led_learn)
        # a corrupted frame over the wire: BAD_CRC, nothing written
        bad = bytearray(P.req_write_reg(rm["W"].base, 5))
        bad[5] ^= 1
        await host.request(ctx, bytes(bad), P.Status.BAD_CRC)
        assert await host.read_words(ctx, rm["W"].base, 1) == [int(sb.model.theta[0, 0])]

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_process(link.collector)
    sim.add_testbench(bench)
    sim.run()
    assert sb.results == len(xs) and sb.ok, sb.mismatches[:5]
    assert out == {"learn_led": 1, "learn_led_off": 0}
