# amaranth: UnusedElaboratable=no
"""Bounded proof: the PE's accumulator (``cfg.acc_widths["u"]`` bits) never overflows.

The PE gets free operands in their formats (W: P, s: S, the z term: H shifted by
``zterm_shift``), free valid/first/last flags and bubbles, under the one assumption that
a row has at most n products (n = hidden units of the Config) after its ``init`` term.
A shadow accumulator 16 bits wider follows the same sums; the proof asserts that the PE's
accumulator always equals it (so no sum ever wrapped), and a cover shows a full row of n
terms finishing (``done``). A PE one bit narrower must fail the same proof where the width is tight
(``acc_widths`` is otherwise up to one bit conservative: only (min·min) needs w1 + w2 bits).
"""

from __future__ import annotations

import pytest
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cover, Elaboratable, Module, Mux, Signal, signed

from rtrledit.hdl.pe import PE
from rtrledit.model.config import Config, Formats

formal = pytest.importorskip("rtrledit.sim.formal")

# AnySeq comes from amaranth.asserts (deprecated in 0.5, no other public home yet)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class AccumulatorProof(Elaboratable):
    def __init__(self, cfg: Config, narrower: int = 0):
        self.cfg = cfg
        fm = cfg.formats
        self.pe = PE(fm.P.w, fm.S.w, cfg.acc_widths["u"] - narrower,
                     fm.H.w + cfg.zterm_shift)

    def elaborate(self, platform):
        m = Module()
        cfg, fm, n = self.cfg, self.cfg.formats, self.cfg.n
        pe = m.submodules.pe = self.pe
        zsh = cfg.zterm_shift
        w_in = AnySeq(signed(fm.P.w))
        b_in = AnySeq(signed(fm.S.w))
        z_in = AnySeq(signed(fm.H.w))
        flags = AnySeq(3)
        m.d.comb += [
            pe.tok_i.w.eq(w_in), pe.tok_i.valid.eq(flags[0]), pe.tok_i.first.eq(flags[1]),
            pe.tok_i.last.eq(flags[2]), pe.b.eq(b_in), pe.init.eq(z_in << zsh),
        ]
        # shadow: the same pipeline with a 16-bit wider accumulator
        wide = pe.acc_width + 16
        sh_w = Signal(signed(fm.P.w))
        sh_v1 = Signal()
        sh_f1 = Signal()
        sh_prod = Signal(signed(fm.P.w + fm.S.w))
        sh_v2 = Signal()
        sh_f2 = Signal()
        sh_acc = Signal(signed(wide))
        cnt = Signal(range(n + 2))         # products in the current row, at the accumulate stage
        full = Signal()                    # the row that just finished had n products
        m.d.sync += [sh_w.eq(pe.tok_i.w), sh_v1.eq(pe.tok_i.valid), sh_f1.eq(pe.tok_i.first),
                     sh_prod.eq(sh_w * pe.b), sh_v2.eq(sh_v1), sh_f2.eq(sh_f1)]
        cnt_next = Mux(sh_f2, 1, cnt + 1)
        with m.If(sh_v2):
            m.d.sync += [sh_acc.eq(Mux(sh_f2, pe.init, sh_acc) + sh_prod), cnt.eq(cnt_next)]
            # the configured number of terms per sum: at most n products after the z term
            m.d.comb += Assume(cnt_next <= n)
        m.d.sync += full.eq(sh_v2 & (cnt_next == n))
        m.d.comb += Assert(pe.acc == sh_acc)
        # a full-length accumulation at (near) the extreme value is reachable
        big = (1 << (fm.P.w + fm.S.w - 2)) * n
        m.d.comb += Cover(pe.done & full & (sh_acc >= big))
        return m


CFGS = [
    Config(hidden=3, inputs=1, formats=Formats.uniform(6)),
    Config(hidden=4, inputs=1, formats=Formats.uniform(5, H=(6, 1))),   # z term dominates
    # n = 1 with a z term as wide as the product: here acc_widths["u"] is tight
    Config(hidden=1, inputs=1, formats=Formats.uniform(5, H=(8, 0))),
]


@pytest.mark.parametrize("cfg", CFGS, ids=["n3-w6", "n4-zterm", "n1-tight"])
def test_accumulator_never_overflows(cfg, tmp_path):
    depth = 2 * cfg.n + 6
    res = formal.run_formal(AccumulatorProof(cfg), tmp_path, mode="bmc", depth=depth,
                            cover_depth=cfg.n + 5)
    assert res, res.summary()


def test_narrower_accumulator_fails(tmp_path):
    """The proof has teeth: where the Config's width is tight, one bit less overflows."""
    cfg = CFGS[2]
    res = formal.run_formal(AccumulatorProof(cfg, narrower=1), tmp_path, mode="bmc",
                            depth=2 * cfg.n + 6, cover=False)
    assert res.tasks["bmc"] == "FAIL", res.summary()
