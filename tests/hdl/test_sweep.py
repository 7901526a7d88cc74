# amaranth: UnusedElaboratable=no
"""The sweep engine (hdl/sweep.py) word for word against the integer model's step 7.

Two references:

* :class:`~rtrledit.model.fixed.FixedRTRL` itself: a learning run with ``trace=True``;
  the engine gets exactly the W (Θ[:, :n] before the step), z, φ', ĉ of each step and
  must produce the step's S, G and S-saturation count, with S carried in its banks.
* :func:`sweep_reference`, step 7 written here from the model's ``rq`` (checked against
  ``FixedRTRL`` by the first test), driven with fresh random W, z, φ', ĉ every step,
  random formats, rounding modes, overflow modes and lane counts.

A mismatch names the step, the quantity (S, G or sat_s) and the index.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtrledit.sim.sweep_harness import (SweepHarness, ideal_cycles, load_operands,
                                        measure_sweep_cycles, run_sweep, sweep_cycles)
from rtrledit.hdl.sweep import S_PORT_LATENCY, SweepEngine
from rtrledit.model.config import Config, Formats, QFormat
from rtrledit.model.fixed import SAT_S, FixedRTRL
from rtrledit.model.requant import ROUNDING_CODE, rq


# ----------------------------------------------------------------------------- reference
def sweep_reference(cfg: Config, W, S, z, dphi, chat):
    """Step 7 of docs/design.md §3.1 (exact), as in ``rtrledit.model.fixed._step``.

    ``S`` is n × (n·q) (column c = i·q + j). Returns (S_new, G (n·q,), saturations).
    """
    fm, n, q = cfg.formats, cfg.n, cfg.q
    zsh, mode, wrap = cfg.zterm_shift, ROUNDING_CODE[cfg.r_sens], cfg.overflow == "wrap"
    u = np.asarray(W, dtype=object) @ np.asarray(S, dtype=object)
    for i in range(n):
        for j in range(q):
            u[i, i * q + j] += int(z[j]) << zsh
    S_new = np.zeros((n, n * q), dtype=np.int64)
    G = [0] * (n * q)
    sat = 0
    for k in range(n):
        for c in range(n * q):
            s1, c1 = rq(int(u[k, c]), fm.P.f, fm.S.w, mode, wrap, 0)
            s2, c2 = rq(int(s1) * int(dphi[k]), fm.F.f, fm.S.w, mode, wrap, 0)
            S_new[k, c] = s2
            G[c] += int(chat[k]) * int(s2)
            sat += int(c1) + int(c2)
    return S_new, np.array(G, dtype=object), sat


# ----------------------------------------------------------------------------- driver
async def _write_S(ctx, e, S):
    """Pipelined as the port is: the address of word t with the write of word t - 1."""
    n, nq = S.shape
    prev = None
    for kc in [(k, c) for k in range(n) for c in range(nq)] + [None]:
        if kc is not None:
            ctx.set(e.s_k, kc[0])
            ctx.set(e.s_c, kc[1])
        ctx.set(e.s_we, prev is not None)
        ctx.set(e.s_wdata, 0 if prev is None else int(S[prev]))
        await ctx.tick()
        prev = kc
    ctx.set(e.s_we, 0)


async def _read_S(ctx, e, n, nq):
    """Pipelined too: word t's address with word t - S_PORT_LATENCY's data."""
    out = np.zeros((n, nq), dtype=np.int64)
    order = [(k, c) for k in range(n) for c in range(nq)]
    for t in range(len(order) + S_PORT_LATENCY):
        if t < len(order):
            ctx.set(e.s_k, order[t][0])
            ctx.set(e.s_c, order[t][1])
        if t >= S_PORT_LATENCY:
            out[order[t - S_PORT_LATENCY]] = ctx.get(e.s_rdata)
        await ctx.tick()
    return out


def _compare(step, S_hw, S_ref, G_hw, G_ref, sat_hw, sat_ref):
    n, nq = S_ref.shape
    for k in range(n):
        for c in range(nq):
            assert S_hw[k, c] == S_ref[k, c], (
                f"step {step}: S[{k}, {c}] (k={k}, column {c}) is {S_hw[k, c]}, "
                f"model {S_ref[k, c]}")
    for c in range(nq):
        assert c in G_hw, f"step {step}: G[{c}] was never written"
        assert G_hw[c] == G_ref[c], f"step {step}: G[{c}] is {G_hw[c]}, model {G_ref[c]}"
    assert len(G_hw) == nq, f"step {step}: G written at {sorted(G_hw)}"
    assert sat_hw == sat_ref, f"step {step}: sat_s grew by {sat_hw}, model {sat_ref}"


def run_engine_steps(cfg: Config, lanes: int, steps, S0=None, check_cycles=True, spram=None,
                     mutation=None):
    """Run the engine over ``steps`` = [(W, z, dphi, chat, S_ref, G_ref, sat_ref), ...]
    with S carried in the banks (S0 loaded through the host port first, if given).
    ``mutation``: build the engine with that deliberate fault (mutation checks)."""
    h = SweepHarness(cfg, lanes, spram=spram)
    if mutation is not None:
        h.engine = SweepEngine(cfg, lanes, spram=spram, mutation=mutation)
    assert spram is None or h.engine.spram == spram
    e = h.engine
    n, nq = cfg.n, cfg.n * cfg.q
    expect_cycles = sweep_cycles(cfg, lanes)

    async def bench(ctx):
        if S0 is not None:
            await _write_S(ctx, e, S0)
            back = await _read_S(ctx, e, n, nq)
            assert np.array_equal(back, S0), "host port: S read back differs from S written"
        for step, (W, z, dphi, chat, S_ref, G_ref, sat_ref) in enumerate(steps):
            await load_operands(ctx, h, W, z, dphi, chat)
            cycles, G, sat = await run_sweep(ctx, h)
            if check_cycles:
                assert cycles == expect_cycles, f"step {step}: {cycles} cycles, formula {expect_cycles}"
            S_hw = await _read_S(ctx, e, n, nq)
            _compare(step, S_hw, S_ref, G, G_ref, sat, sat_ref)

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# ----------------------------------------------------------------------------- model trace
@pytest.mark.parametrize("n,m,lanes,activation,width", [
    (3, 1, 2, "hardtanh", 16),
    (4, 2, 5, "tanh", 12),
    (2, 1, 8, "tanh", 10),
])
def test_matches_fixed_rtrl_trace(n, m, lanes, activation, width):
    """The engine reproduces S, G and the S saturations of FixedRTRL, step by step."""
    cfg = Config(hidden=n, inputs=m, outputs=2, activation=activation,
                 formats=Formats.uniform(width), eta=2)
    rng = np.random.default_rng(n * 10 + m)
    q, T = cfg.q, 5
    model = FixedRTRL.from_float(cfg, rng.normal(0, 1.5, (n, q)), rng.normal(0, 1, (2, n)),
                                 rng.normal(0, 0.3, 2))
    theta0 = model.theta.copy()
    xs, ds = model.quantise_inputs(rng.normal(0, 1.5, (T, m)), rng.normal(0, 1, (T, 2)))
    tr = model.run(xs, ds, learn=True, trace=True).trace
    steps = []
    for t in range(T):
        W = (theta0 if t == 0 else tr["theta"][t - 1])[:, :n]
        sat_prev = 0 if t == 0 else tr["sat"][t - 1][SAT_S]
        steps.append((W, tr["z"][t], tr["dphi"][t], tr["chat"][t],
                      tr["S"][t].reshape(n, n * q), tr["G"][t].reshape(n * q),
                      int(tr["sat"][t][SAT_S] - sat_prev)))
        # the local reference agrees with the model too (so the random tests are meaningful)
        S_prev = np.zeros((n, n * q), np.int64) if t == 0 else tr["S"][t - 1].reshape(n, n * q)
        S_r, G_r, sat_r = sweep_reference(cfg, W, S_prev, *steps[-1][1:4])
        assert np.array_equal(S_r, steps[-1][4]) and list(G_r) == list(steps[-1][5])
        assert sat_r == steps[-1][6]
    run_engine_steps(cfg, lanes, steps)


# ----------------------------------------------------------------------------- random
def _random_formats(rng: random.Random, wmax: int = 18) -> Formats:
    while True:
        fm = {}
        for L in "XHPAFOYCS":
            w = rng.randint(8, wmax)
            if L in "HF":
                f = rng.randint(max(0, w - 6), w - 2)
            else:
                f = rng.randint(max(0, w - 8), w - 2)
            fm[L] = QFormat(w, f)
        if fm["P"].f + fm["S"].f >= fm["H"].f:
            return Formats(**fm)


def _random_steps(cfg: Config, rng: np.random.Generator, nsteps: int, S0, dphi_kind: str,
                  big_every: int = 3):
    fm, n, q = cfg.formats, cfg.n, cfg.q
    S = S0
    steps = []
    for t in range(nsteps):
        big = t % big_every == 0        # some steps (the first) with large values: saturate
        if big:
            W = rng.choice([fm.P.min, fm.P.max, fm.P.min + 1], (n, n))
        else:
            W = rng.integers(fm.P.min // 8, fm.P.max // 8 + 1, (n, n))
        z = rng.integers(fm.H.min, fm.H.max + 1, q)
        if dphi_kind == "mask":
            dphi = rng.choice([0, fm.F.one], n)
        elif dphi_kind == "tanh":
            dphi = rng.integers(0, fm.F.one + 1, n)
        else:
            dphi = rng.integers(fm.F.min, fm.F.max + 1, n)
        chat = rng.integers(fm.C.min, fm.C.max + 1, n)
        S_new, G, sat = sweep_reference(cfg, W, S, z, dphi, chat)
        steps.append((W, z, dphi, chat, S_new, G, sat))
        S = S_new
    return steps


# (n, m, lanes): L = 1, 2, a divisor of n, n, a non-divisor of n, L > n, L = n·q
CASES = [
    (1, 1, 1), (1, 2, 4), (2, 1, 1), (2, 2, 10), (3, 1, 2), (4, 1, 2), (4, 2, 4),
    (5, 1, 3), (6, 1, 3), (6, 2, 6), (5, 2, 7), (4, 3, 32), (3, 3, 21), (7, 1, 9),
]


@pytest.mark.parametrize("idx", range(len(CASES)))
def test_random_configs(idx):
    n, m, lanes = CASES[idx]
    rng = random.Random(1000 + idx)
    nrng = np.random.default_rng(1000 + idx)
    fm = Formats.uniform(rng.choice([8, 10, 12, 16])) if idx % 3 == 0 else _random_formats(rng)
    kind = ("mask", "tanh", "any")[idx % 3]
    # hardtanh's φ' is a mask (the engine relies on it); tanh's is any value of F
    cfg = Config(hidden=n, inputs=m, formats=fm,
                 activation="hardtanh" if kind == "mask" else "tanh",
                 r_sens=("floor", "half_up", "half_even")[idx % 3],
                 overflow="wrap" if idx % 5 == 4 else "saturate")
    S0 = nrng.integers(cfg.formats.S.min, cfg.formats.S.max + 1, (n, n * cfg.q))
    steps = _random_steps(cfg, nrng, 3, S0, kind)
    assert sum(s[6] for s in steps) > 0, "test setup: no saturation exercised"
    run_engine_steps(cfg, lanes, steps, S0=S0)


@pytest.mark.parametrize("idx", [0, 2, 3, 4, 5, 8, 9, 13])
def test_single_port_banks(idx):
    """Single-port (SPRAM) banks: the loader waits for the write-backs, and S, G, the
    saturations and the cycle count are those of the dual-port engine (the model's)."""
    n, m, lanes = CASES[idx]
    nrng = np.random.default_rng(2000 + idx)
    cfg = Config(hidden=n, inputs=m, formats=Formats.uniform(12), r_sens="half_even")
    S0 = nrng.integers(cfg.formats.S.min, cfg.formats.S.max + 1, (n, n * cfg.q))
    steps = _random_steps(cfg, nrng, 3, S0, "mask")
    run_engine_steps(cfg, lanes, steps, S0=S0, spram=True)


def test_spram_choice():
    """On iCE40, banks larger than 4 EBR go to SPRAM (n = 16, one lane: 5,376 words)."""
    assert SweepEngine(Config(hidden=16, inputs=4), 1, "ice40").spram
    assert not SweepEngine(Config(hidden=16, inputs=4), 1, "ecp5").spram
    assert not SweepEngine(Config(hidden=8, inputs=4), 1, "ice40").spram     # 832 words
    assert not SweepEngine(Config(hidden=16, inputs=4), 8, "ice40").spram     # 8 lanes > 4


def test_twelve_hidden_units():
    """The largest n of the fast set (n = 12, m = 1, L = n: one round per 13 columns)."""
    cfg = Config(hidden=12, inputs=1, formats=Formats.uniform(16), r_sens="half_up",
                 activation="tanh")
    nrng = np.random.default_rng(12)
    S0 = nrng.integers(-3000, 3000, (12, 12 * cfg.q))
    steps = _random_steps(cfg, nrng, 2, S0, "tanh", big_every=2)
    run_engine_steps(cfg, 12, steps, S0=S0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_random_configs_slow(seed):
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    n, m = rng.randint(1, 12), rng.randint(1, 3)
    q = n + m + 1
    lanes = rng.choice([1, 2, n, max(1, n - 1), n + 3, n * q, rng.randint(1, n * q)])
    lanes = min(max(lanes, 1), n * q)
    kind = rng.choice(["mask", "tanh", "any"])
    cfg = Config(hidden=n, inputs=m, formats=_random_formats(rng, 24),
                 activation="hardtanh" if kind == "mask" else "tanh",
                 r_sens=rng.choice(["floor", "half_up", "half_even"]),
                 overflow=rng.choice(["saturate", "wrap"]))
    S0 = nrng.integers(cfg.formats.S.min, cfg.formats.S.max + 1, (n, n * q))
    steps = _random_steps(cfg, nrng, 4, S0, kind)
    run_engine_steps(cfg, lanes, steps, S0=S0)


# ----------------------------------------------------------------------------- cycles
@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
@pytest.mark.parametrize("n,m,lanes", [(4, 4, 4), (3, 1, 5), (1, 1, 3)])
def test_measured_cycles_equal_formula(n, m, lanes, activation):
    cfg = Config(hidden=n, inputs=m, activation=activation)
    assert measure_sweep_cycles(cfg, lanes) == sweep_cycles(cfg, lanes)


def _target(cfg: Config, lanes: int) -> float:
    """The cycle target, worked from the architecture, not from ``schedule``: n²·nq/L MAC
    tokens, each row of n stretched by the lane's slots (1 for hardtanh, 2 for tanh), one
    more round of n rows when L does not divide nq, plus overhead O(n + L + q): the
    token reaches lane L − 1 after L cycles and its G comes back to lane 0 on the G chain
    in another L."""
    n, q = cfg.n, cfg.q
    slots = 1 if cfg.activation == "hardtanh" else 2
    extra = n * (n + slots) if (n * q) % lanes else 0
    return n * n * n * q / lanes * (n + slots) / n + max(q, 4) + 2 * n + 2 * lanes + 7 + extra


def test_cycle_target_by_hand():
    """One case worked on paper: n = 4, m = 4 (q = 9, nq = 36), 4 lanes, hardtanh:
    16·36/4 = 144 MAC cycles, × 5/4 for the ĉ slot = 180, + 9 preload + 8 + 4 + 4 + 7 =
    212 (2n = 8; the token down the 4 lanes and G back up the chain, 4 + 4)."""
    cfg = Config(hidden=4, inputs=4)
    assert ideal_cycles(cfg, 4) == 144 and _target(cfg, 4) == 212
    assert measure_sweep_cycles(cfg, 4) <= 212


@pytest.mark.parametrize("activation", ["hardtanh", "tanh"])
@pytest.mark.parametrize("n", [4, 8, pytest.param(16, marks=pytest.mark.slow)])
@pytest.mark.parametrize("lanes", [1, 4, 8])
def test_cycle_target(n, lanes, activation):
    """The sweep, counted in Amaranth's simulator (random operands), meets the target of
    :func:`_target` (for tanh exactly; hardtanh finishes a few cycles sooner)."""
    cfg = Config(hidden=n, inputs=4, activation=activation)
    assert measure_sweep_cycles(cfg, lanes) <= _target(cfg, lanes)


# ----------------------------------------------------------------------------- parameters
def test_parameter_checks():
    cfg = Config(hidden=3, inputs=1)
    with pytest.raises(ValueError, match="lanes"):
        SweepEngine(cfg, 0)
    with pytest.raises(ValueError, match="lanes"):
        SweepEngine(cfg, 3 * 5 + 1)
    SweepEngine(cfg, 15)
    with pytest.raises(ValueError, match="target"):
        SweepEngine(cfg, 2, target="gowin")
    with pytest.raises(ValueError, match=r"formats\.P"):
        SweepEngine(cfg.replace(formats=Formats.uniform(16, P=(17, 12))), 2, target="ice40")
    SweepEngine(cfg.replace(formats=Formats.uniform(16, P=(17, 12))), 2, target="ecp5")
    with pytest.raises(ValueError, match=r"formats\.C"):
        SweepEngine(cfg.replace(formats=Formats.uniform(16, C=(19, 12))), 2, target="ecp5")
    with pytest.raises(ValueError, match=r"formats\.S"):
        SweepEngine(cfg.replace(formats=Formats.uniform(16, S=(17, 12))), 2, target="ice40")
    with pytest.raises(ValueError, match="approx"):
        SweepEngine(cfg.replace(approx="snap1"), 2)
