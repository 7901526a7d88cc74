"""The sweep's seed and activation axes and its batches (rtrledit.model.explore): every
record of a batched sweep equals the point run by hand with FixedRTRL and FloatRTRL,
each seed drawing its own initial weights and stream."""

import numpy as np
import pytest

from rtrledit.model import FixedRTRL
from rtrledit.model.explore import Grid, point_config, run_exploration
from rtrledit.model.reference import FloatRTRL, init_params
from rtrledit.model.requant import dequantise
from rtrledit.model.tasks import get_task

GRID = {"tasks": ["sine"], "hidden": [3], "activation": ["hardtanh", "tanh"],
        "approx": ["exact"], "r_upd": ["half_even", "stochastic"], "seed": [0, 3],
        "widths": {"S": [10, 16], "P": [16]}, "steps": 300, "grad_steps": 50}


def by_hand(spec: dict) -> tuple[float, float]:
    """(integer final MSE, float final MSE) of a point, from the models directly."""
    task = get_task(spec["task"], steps=spec["steps"], seed=spec["seed"])
    cfg = point_config(spec)
    th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=spec["seed"])
    fx = FixedRTRL.from_float(cfg, th, V, c)
    e = dequantise(fx.run(*fx.quantise_inputs(task.xs, task.ds)).e, cfg.formats.Y)
    fl = FloatRTRL.from_config(cfg, th, V, c).run(task.xs, task.ds, learn=True)
    k = spec["steps"] // 10
    return float(np.mean(e[-k:] ** 2)), float(np.mean(2 * fl.loss[-k:] / cfg.p))


def test_seeded_batched_sweep_equals_each_point_by_hand(tmp_path, monkeypatch):
    from rtrledit.model import explore
    monkeypatch.setattr(explore, "BATCH", 3)   # batches of 3 and a remainder of 1
    grid = Grid.from_dict(GRID)
    res = run_exploration(grid, tmp_path, workers=1, plots=False)
    assert len(res.records) == 2 * 2 * 2 * 2 and res.computed == 16
    assert {(r["activation"], r["seed"]) for r in res.records} == \
        {(a, s) for a in ("hardtanh", "tanh") for s in (0, 3)}
    for r in res.records:
        fixed, flt = by_hand(r["spec"])
        assert r["status"] == "ok"
        assert r["mse_last"] == pytest.approx(fixed, rel=1e-12)
        assert r["mse_last_float"] == pytest.approx(flt, rel=1e-9)
    floats = {(r["activation"], r["seed"]): r["mse_last_float"] for r in res.records}
    assert len(set(floats.values())) == 4      # each seed and activation its own run


@pytest.mark.parametrize("bad, msg", [
    ({"seed": [1, 1]}, "distinct"), ({"seed": [-1]}, "distinct integers >= 0"),
    ({"seed": []}, "empty list"), ({"activation": ["relu"]}, "unknown 'relu'"),
    ({"activation": ["tanh"], "base": {"activation": "tanh"}}, "not both"),
])
def test_bad_seed_and_activation_axes(bad, msg):
    with pytest.raises(ValueError, match=msg):
        Grid.from_dict({**GRID, **bad})


def test_base_activation_is_the_axis_when_alone():
    g = Grid.from_dict({k: v for k, v in GRID.items() if k != "activation"}
                       | {"base": {"activation": "tanh"}})
    assert g.activation == ["tanh"]
    assert all(p.cfg.activation == "tanh" for p in g.points())


def _rec(seed: int, rel, s_bits: int, mem: int) -> dict:
    spec = {"task": "sine", "hidden": 4, "activation": "hardtanh", "approx": "exact",
            "r_upd": "stochastic", "widths": {"S": s_bits, "P": 16}, "seed": seed}
    return {"status": "ok" if rel is not None else "failed", "rel_err": rel, "spec": spec,
            "mem_bits": mem, **{k: v for k, v in spec.items() if k != "seed"}}


def test_sweep_summary_judges_a_point_on_its_median_seed():
    """One good seed does not make a point: S = 8 has seeds 1.05, 1.4, 1.5 (median 1.4);
    S = 12 has 1.0, 1.08, 2.0 (median 1.08, worst 2.0); S = 10 lost a seed."""
    from rtrledit.model.explore import seed_spreads
    from rtrledit.sweep import _best
    recs = ([_rec(s, r, 8, 100) for s, r in enumerate([1.05, 1.4, 1.5])]
            + [_rec(s, r, 12, 150) for s, r in enumerate([1.0, 1.08, 2.0])]
            + [_rec(s, r, 10, 120) for s, r in enumerate([1.0, None, 1.0])])
    spreads = seed_spreads(recs)
    assert sorted(len(sp.recs) for sp in spreads.values()) == [3, 3, 3]
    (best,) = _best(recs)
    assert best["widths"] == {"S": 12, "P": 16} and best["seeds"] == 3
    assert best["rel_err"] == 1.08 and best["rel_err_worst"] == 2.0
