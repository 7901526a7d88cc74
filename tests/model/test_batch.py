"""Batch mode (rtrledit.model.batch): every member of a batch gives the same words as its
own single run (which tests/model/test_fixed.py checks against exact rational
arithmetic), for members of mixed formats, roundings (stochastic updates included),
overflow modes, activations and W·S paths."""

from __future__ import annotations

import numpy as np
import pytest

from rtrledit.model import FixedRTRL
from rtrledit.model.batch import run_batch

from tests.model.test_fixed import random_config
from tests.model.test_fixed_paths import assert_same_words, random_model_args

B, T = 5, 9


def batch_configs(rng: np.random.Generator, approx: str):
    """B random Configs of one shape: member 0 tanh, member 1 hardtanh, member 2
    stochastic update rounding, the rest as drawn."""
    n, m, p = int(rng.integers(1, 10)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    forced = [dict(activation="tanh"), dict(activation="hardtanh"), dict(r_upd="stochastic")]
    out = []
    while len(out) < B:
        extra = forced[len(out)] if len(out) < len(forced) else {}
        try:
            out.append(random_config(rng).replace(hidden=n, inputs=m, outputs=p, approx=approx,
                                                  **extra))
        except ValueError:
            continue
    return out


@pytest.mark.parametrize("seed", range(12))
def test_each_member_equals_its_single_run(seed):
    rng = np.random.default_rng(7000 + seed)
    approx = "exact" if seed % 2 else "snap1"
    cfgs = batch_configs(rng, approx)
    args = [random_model_args(rng, cfg, T) for cfg in cfgs]
    learn = seed % 4 != 3
    kw = dict(learn=learn, track=True, keep_grads=seed % 3 != 2)

    def models():
        out = []
        for b, (cfg, (params, S0, _, _)) in enumerate(zip(cfgs, args)):
            mdl = FixedRTRL(cfg, *params, blas=b % 2 == 0)   # both W·S paths in one batch
            mdl.S[...] = S0
            out.append(mdl)
        return out

    single = models()
    want = [mdl.run(xs, ds, **kw) for mdl, (_, _, xs, ds) in zip(single, args)]
    batch = models()
    xs, ds = np.stack([a[2] for a in args]), np.stack([a[3] for a in args])
    got = run_batch(batch, xs[:, :4], ds[:, :4], **kw)         # in two calls: the state
    rest = run_batch(batch, xs[:, 4:], ds[:, 4:], **kw)        # carries over bit-exactly
    for b in range(B):
        assert batch[b].steps == single[b].steps == T
        joined = type(got[b])(y=np.concatenate([got[b].y, rest[b].y]),
                              e=np.concatenate([got[b].e, rest[b].e]),
                              flags=np.concatenate([got[b].flags, rest[b].flags]),
                              G=None if got[b].G is None else np.concatenate([got[b].G, rest[b].G]))
        assert (joined.G is None) == (want[b].G is None)
        assert_same_words(single[b], batch[b], [want[b]], [joined])


def test_the_batches_exercise_what_they_claim():
    """Worth something only if the batches mix both activations, stochastic and other
    update roundings, both paths of exact RTRL, and the members saturate."""
    seen: set[str] = set()
    for seed in range(12):
        rng = np.random.default_rng(7000 + seed)
        cfgs = batch_configs(rng, "exact" if seed % 2 else "snap1")
        args = [random_model_args(rng, cfg, T) for cfg in cfgs]
        ms = [FixedRTRL(cfg, *a[0], blas=b % 2 == 0) for b, (cfg, a) in enumerate(zip(cfgs, args))]
        run_batch(ms, np.stack([a[2] for a in args]), np.stack([a[3] for a in args]))
        seen |= {c.activation for c in cfgs} | {"upd-" + c.r_upd for c in cfgs}
        seen |= {"blas" for m in ms if m._K.blas} | {"sat" for m in ms if m.sat.any()}
    assert seen >= {"tanh", "hardtanh", "upd-stochastic", "upd-half_even", "blas", "sat"}


def test_one_stream_for_all_and_refusals():
    rng = np.random.default_rng(1)
    cfgs = batch_configs(rng, "exact")
    params, _, xs, ds = random_model_args(rng, cfgs[0], T)
    ms = [FixedRTRL(c, *random_model_args(rng, c, T)[0]) for c in cfgs[:2]]
    xs0 = np.clip(xs, cfgs[1].formats.X.min, cfgs[1].formats.X.max)
    xs0 = np.clip(xs0, cfgs[0].formats.X.min, cfgs[0].formats.X.max)
    ds0 = np.clip(np.clip(ds, cfgs[1].formats.Y.min, cfgs[1].formats.Y.max),
                  cfgs[0].formats.Y.min, cfgs[0].formats.Y.max)
    solo = [FixedRTRL(m.cfg, m.theta, m.V, m.c) for m in ms]
    shared = run_batch(ms, xs0, ds0)
    for m, s, r in zip(ms, solo, shared):
        assert np.array_equal(s.run(xs0, ds0).y, r.y)
    with pytest.raises(ValueError, match="empty batch"):
        run_batch([], xs0, ds0)
    other = FixedRTRL(cfgs[0].replace(approx="snap1"), *params)
    with pytest.raises(ValueError, match="member 1 has"):
        run_batch([ms[0], other], xs0, ds0)
    with pytest.raises(ValueError, match=r"xs: expected shape \(B, T, k\) with B = 2"):
        run_batch(ms, np.stack([xs0] * 3), ds0)
