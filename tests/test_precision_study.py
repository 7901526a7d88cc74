"""benchmarks/precision_study.py's reading of a multi-seed sweep: a point is within 10%
when the median over its seeds is, "every seed" when the worst one is, and a smallest
width needs every wider point on its line to pass."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "precision_study", Path(__file__).parents[1] / "benchmarks" / "precision_study.py")
ps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ps)


def recs(rel_by_width: dict[int, list[float | None]]) -> list[dict]:
    """Records of one row along S = Θ: width -> relative error per seed (None: failed)."""
    out = []
    for w, rels in rel_by_width.items():
        for seed, rel in enumerate(rels):
            out.append({"task": "sine", "hidden": 16, "activation": "tanh", "approx": "exact",
                        "r_upd": "stochastic", "widths": {"S": w, "P": w}, "seed": seed,
                        "status": "failed" if rel is None else "ok", "rel_err": rel,
                        "mem_bits": w, "grad_cos": 0.9, "mse_last_float": 0.01})
    return out


def test_median_decides_and_the_worst_seed_is_reported():
    rows = ps.group(recs({24: [1.0, 1.02, 1.05, 1.3, 0.9], 20: [1.0, 1.0, 1.0, 1.0, 1.0],
                          16: [1.2, 1.0, 1.0, 1.5, 1.0], 14: [1.2, 1.2, 1.0, 1.0, 1.3],
                          12: [1.0] * 5, 10: [1.0] * 5, 8: [1.0] * 5}))
    pts = rows[("sine", 16, "tanh", "exact", "stochastic")]
    assert pts[(24, 24)].median == 1.02 and pts[(24, 24)].worst == 1.3
    # 14 fails on its median (1.2), so 12 and below do not count although they pass
    assert ps.smallest(pts, "SP") == 16
    # every seed: 24 already fails (worst 1.3)
    assert ps.smallest(pts, "SP", every_seed=True) is None
    table = ps.table(recs({w: [1.0, 1.05, 1.2] for w in ps.WIDTHS}))
    assert "| 8 | 1.050 (1.000–1.200) | — |" in table
    assert "| stochastic | 3 | 0.01 |" in table     # seeds a point, float MSE (median)


def test_a_failed_seed_makes_the_point_fail():
    rows = ps.group(recs({w: [1.0, None, 1.0] for w in ps.WIDTHS}))
    pts = rows[("sine", 16, "tanh", "exact", "stochastic")]
    assert not pts[(24, 24)].within() and ps.smallest(pts, "SP") is None


def test_the_spread_plot_is_drawn(tmp_path):
    path = ps.plot_spread(recs({w: [1.0, 1.05, 1.2] for w in ps.WIDTHS}), "SP", tmp_path / "s.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
