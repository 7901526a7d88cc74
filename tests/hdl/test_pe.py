# amaranth: UnusedElaboratable=no
"""The PE (hdl/pe.py) in Amaranth's simulator against a Python model of its MAC.

Rows of random length (1..terms) with random bubbles between and inside them, operands
random or at the extremes of their formats; every finished row (``done``) must give the
exact sum ``init + Σ w·b``, and the forward register must delay the token by one cycle.
"""

from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from rtrledit.hdl.pe import PE
from rtrledit.model.config import Config, Formats


def _extremes(w: int) -> list[int]:
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    return [lo, hi, lo + 1, -1, 0, 1]


def _run_pe(pe: PE, rows: list[tuple[int, list[tuple[int, int]]]], rng: random.Random,
            bubbles: bool) -> None:
    """Stream ``rows`` = [(init, [(w, b), ...]), ...] through ``pe``; check each sum."""
    # build the cycle-by-cycle input schedule: (tok or None, b for the previous token, init)
    seq = []                                     # entries: (w, first, last, b, init) or None
    for init, terms in rows:
        for idx, (w, b) in enumerate(terms):
            seq.append((w, idx == 0, idx == len(terms) - 1, b, init))
            if bubbles and rng.random() < 0.3:
                seq.append(None)
    seq += [None] * 4
    expected = [init + sum(w * b for w, b in terms) for init, terms in rows]
    got = []

    async def bench(ctx):
        hist = [None, None, None]                # tokens presented 0, 1, 2 cycles ago
        for cyc, item in enumerate(seq):
            if item is None:
                ctx.set(pe.tok_i, {"w": 0, "valid": 0, "first": 0, "last": 0})
            else:
                w, first, last, _b, _init = item
                ctx.set(pe.tok_i, {"w": w, "valid": 1, "first": int(first), "last": int(last)})
            # b belongs to the token now in tok_o (presented one cycle ago); init to the one
            # presented two cycles ago
            one, two = hist[0], hist[1]
            ctx.set(pe.b, one[3] if one else 0)
            ctx.set(pe.init, two[4] if two else 0)
            if one is not None:
                assert ctx.get(pe.tok_o.w) == one[0] and ctx.get(pe.tok_o.valid) == 1
            if ctx.get(pe.done):
                got.append(ctx.get(pe.acc))
            await ctx.tick()
            hist = [item] + hist[:2]
        for _ in range(3):
            if ctx.get(pe.done):
                got.append(ctx.get(pe.acc))
            await ctx.tick()

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected, f"row sums differ: got {got}, expected {expected}"


@pytest.mark.parametrize("w,n", [(8, 3), (12, 5), (16, 8), (16, 1), (18, 12)])
@pytest.mark.parametrize("bubbles", [False, True])
def test_pe_random_and_extreme(w, n, bubbles):
    cfg = Config(hidden=n, formats=Formats.uniform(w))
    fm = cfg.formats
    pe = PE.for_config(cfg)
    assert pe.acc_width == cfg.acc_widths["u"]
    rng = random.Random(w * 100 + n + bubbles)
    zsh = cfg.zterm_shift
    ew, eb, ez = _extremes(fm.P.w), _extremes(fm.S.w), _extremes(fm.H.w)
    rows = []
    # the extreme rows: the largest positive and negative sums with n terms plus z term
    rows.append((fm.H.min << zsh, [(fm.P.min, fm.S.min)] * n))
    rows.append((fm.H.max << zsh, [(fm.P.min, fm.S.min)] * n))
    rows.append((fm.H.min << zsh, [(fm.P.min, fm.S.max)] * n))
    rows.append((0, [(fm.P.max, fm.S.min)] * n))
    for _ in range(12):
        length = rng.randint(1, n)
        extreme = rng.random() < 0.4
        terms = [(rng.choice(ew) if extreme else rng.randint(fm.P.min, fm.P.max),
                  rng.choice(eb) if extreme else rng.randint(fm.S.min, fm.S.max))
                 for _ in range(length)]
        z = rng.choice(ez) if extreme else rng.randint(fm.H.min, fm.H.max)
        rows.append(((z << zsh) if rng.random() < 0.5 else 0, terms))
    _run_pe(pe, rows, rng, bubbles)


def test_pe_rejects_bad_parameters():
    with pytest.raises(ValueError, match="acc_width"):
        PE(8, 8, 0)
    with pytest.raises(ValueError, match="a_width"):
        PE(0, 8, 16)
