"""Bit-width sweeps (rtrledit.model.explore, ``rtrledit sweep``), on a Dask LocalCluster."""

import csv
import json
import math

import numpy as np
import pytest

from rtrledit.cli import main
from rtrledit.model import Config
from rtrledit.model.explore import (Grid, evaluate_point, float_gradients,
                                  float_learning, hardware_cost, load_grid, load_results,
                                  pareto_front, run_exploration, valid_points)

TINY = {"tasks": ["sine"], "hidden": [4], "approx": ["exact", "snap1"], "r_upd": ["half_even"],
        "widths": {"S": [8, 16], "P": [16]}, "steps": 400, "grad_steps": 100}


def spec_of(grid: dict, i: int = 0) -> dict:
    return Grid.from_dict(grid).points()[i].spec


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    import logging
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


# ---------------------------------------------------------------------------- grid
def test_grid_files_and_invalid_points(tmp_path):
    toml = tmp_path / "g.toml"
    toml.write_text('tasks = ["narma10"]\nhidden = [4, 6]\napprox = "snap1"\n'
                    '[widths]\nS = [3, 12]\n[int_bits]\nS = 3\n')
    g = load_grid(toml)
    assert g.tasks == ["narma10"] and g.hidden == [4, 6] and g.approx == ["snap1"]
    pts = g.points()
    assert len(pts) == 2 * 1 * 2 * 2  # hidden x approx x r_upd(default 2) x widths of S
    bad = [p for p in pts if p.cfg is None]
    assert len(bad) == 4 and all("formats.S" in p.invalid for p in bad)
    good = [p for p in pts if p.cfg is not None]
    assert all(p.cfg.formats.S.w == 12 and p.cfg.formats.S.f == 8 for p in good)
    js = tmp_path / "g.json"
    js.write_text(json.dumps(TINY))
    assert load_grid(js).to_dict()["widths"] == TINY["widths"]
    for bad_grid in ({"widths": {"Q": [8]}}, {"colour": 1}, {"approx": ["snap2"]},
                     {"steps": 0}, {"hidden": []}):
        with pytest.raises(ValueError):
            Grid.from_dict(bad_grid)
    with pytest.raises(ValueError, match="no valid point"):
        valid_points(Grid.from_dict({"widths": {"S": [2, 3]}}))


def test_point_ids_are_stable_and_distinct():
    a, b = Grid.from_dict(TINY).points(), Grid.from_dict(TINY).points()
    assert [p.id for p in a] == [p.id for p in b]
    assert len({p.id for p in a}) == len(a)
    c = Grid.from_dict({**TINY, "steps": 401}).points()
    assert not {p.id for p in a} & {p.id for p in c}


# ---------------------------------------------------------------------------- metrics
def test_hardware_cost():
    # cycles: tests/boards/test_e2e.py measures them on the simulated board; here the
    # hand-worked figure of the README: the sweep's n(n+1)·⌈n·q/L⌉ cycles (hardtanh, one
    # multiplier a lane) plus O(n·q) for the serial forward pass and the update
    n, q = 8, 10
    ex = Config(hidden=n)
    c = hardware_cost(ex, pes=16)
    assert c["mem_S_bits"] == n * n * q * 16 and c["mem_theta_bits"] == n * q * 16
    sweep = n * (n + 1) * 5                                         # ⌈80 / 16⌉ = 5
    assert sweep < c["cycles_per_step"] <= sweep + 4 * n * q
    assert hardware_cost(ex, pes=10 ** 6)["pes"] == n * q           # one column a lane at most
    sn = hardware_cost(ex.replace(approx="snap1"), pes=32)
    assert sn["mem_S_bits"] == n * q * 16 and sn["pes"] == 1


def brute_front(cost, err):
    out = []
    for i in range(len(cost)):
        if not math.isfinite(err[i]):
            continue
        dominated = any(cost[j] <= cost[i] and err[j] <= err[i]
                        and (cost[j] < cost[i] or err[j] < err[i])
                        for j in range(len(cost)) if math.isfinite(err[j]))
        if not dominated:
            out.append(i)
    return sorted(out)


@pytest.mark.parametrize("seed", range(30))
def test_pareto_front_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 40))
    cost = rng.integers(0, 8, size=k).astype(float)   # many ties on purpose
    err = rng.integers(0, 8, size=k).astype(float)
    err[rng.random(k) < 0.1] = np.nan
    assert sorted(pareto_front(cost, err).tolist()) == brute_front(cost, err)


def test_gradient_cosine_is_one_for_a_wide_point_and_lower_for_narrow_or_snap1():
    wide = {**TINY, "widths": {"S": [28], "P": [28]}, "int_bits": {"S": 3, "P": 3},
            "base": {"formats": {L: [28, 22] for L in "XAOYC"} | {"H": [28, 24], "F": [28, 24]}}}
    s = spec_of(wide)
    rec = evaluate_point(s, float_learning(s), float_gradients(s))
    assert rec["status"] == "ok"
    assert rec["grad_cos"] == pytest.approx(1.0, abs=1e-6)
    assert rec["rel_err"] == pytest.approx(1.0, abs=0.02)
    narrow = spec_of({**TINY, "widths": {"S": [8], "P": [16]}})
    r8 = evaluate_point(narrow, float_learning(narrow), float_gradients(narrow))
    assert r8["grad_cos"] < 0.999
    snap = spec_of(wide, 1)
    assert snap["approx"] == "snap1"
    rs = evaluate_point(snap, float_learning(snap), float_gradients(snap))
    assert rs["grad_cos"] < 0.99   # compared with the float exact-RTRL gradient


def test_a_bad_point_is_recorded_as_failed():
    s = spec_of(TINY)
    rec = evaluate_point(s, {"error": "float model diverged: non-finite error at step 3"},
                         float_gradients(s))
    assert rec["status"] == "failed" and "diverged" in rec["error"]
    rec = evaluate_point({**s, "task": "no-such-task"}, {}, {})
    assert rec["status"] == "failed" and "unknown task" in rec["error"]


def _diverging_task(tmp_path):
    path = tmp_path / "huge.npz"
    np.savez(path, x=np.zeros((400, 1)), d=np.full((400, 1), 1e300))  # e^2 overflows
    return str(path)


# ---------------------------------------------------------------------------- runner
def test_dask_sweep_resumes_and_records_failures(client, tmp_path):
    out = tmp_path / "out"
    grid = Grid.from_dict({**TINY, "tasks": ["sine", _diverging_task(tmp_path)]})
    r1 = run_exploration(grid, out, client=client)
    assert r1.computed == 8 and r1.reused == 0
    by_task = {t: [r for r in r1.records if r["task"] == t] for t in grid.tasks}
    assert all(r["status"] == "ok" for r in by_task["sine"])
    assert all(r["status"] == "failed" and "float model diverged" in r["error"]
               for r in by_task[grid.tasks[1]])
    assert r1.failed == 4
    for name in ("results.csv", "results.json", "heatmap.png", "curves.png", "pareto.png"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 8 and {"rel_err", "grad_cos", "mem_bits", "cycles_per_step",
                               "sat_s", "sat_theta", "w_S", "w_P"} <= set(rows[0])
    log = (out / "results.jsonl").read_text()

    # a rerun recomputes nothing and leaves the log alone
    r2 = run_exploration(grid, out, client=client)
    assert r2.computed == 0 and r2.reused == 8
    assert (out / "results.jsonl").read_text() == log
    assert [r["id"] for r in r2.records] == [r["id"] for r in r1.records]

    # a torn last line (interrupted write) is ignored; a wider grid computes only new points
    with open(out / "results.jsonl", "a") as fh:
        fh.write('{"id": "trunc')
    grid3 = Grid.from_dict({**TINY, "tasks": grid.tasks, "widths": {"S": [8, 12, 16], "P": [16]}})
    r3 = run_exploration(grid3, out, client=client, plots=False)
    assert r3.computed == 4 and r3.reused == 8
    assert len(load_results(out)) == 12

    # failed points are recomputed only when asked
    r4 = run_exploration(grid3, out, client=client, plots=False, retry_failed=True)
    assert r4.computed == 6 and r4.failed == 6


def test_sweep_results_are_the_same_on_one_or_two_workers(client, tmp_path):
    grid = Grid.from_dict({**TINY, "r_upd": ["stochastic"]})
    a = run_exploration(grid, tmp_path / "a", client=client, plots=False)
    s = a.records[0]["spec"]
    direct = evaluate_point(s, float_learning(s), float_gradients(s))
    for k in ("mse_last", "mse_last_float", "rel_err", "grad_cos", "sat_total", "mem_bits"):
        assert a.records[0][k] == direct[k]


# ---------------------------------------------------------------------------- CLI
def test_cli_sweep_embedded_cluster(tmp_path, capsys):
    g = tmp_path / "grid.json"
    g.write_text(json.dumps(TINY))
    out = tmp_path / "o"
    assert main(["sweep", "--grid", str(g), "-o", str(out), "--workers", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["points"] == 4 and r["computed"] == 4 and r["ok"] == 4
    assert (out / "heatmap.png").exists() and len(json.loads((out / "results.json").read_text())) == 4
    assert main(["sweep", "--grid", str(g), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["computed"] == 0


@pytest.mark.parametrize("argv, msg", [
    (["--task", "nope"], "unknown task"),
    (["--grid", "GRID_NO_VALID"], "no valid point"),
    (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"], "does not answer"),
])
def test_cli_sweep_bad_input_fails_before_any_work(tmp_path, capsys, argv, msg):
    g = tmp_path / "bad.toml"
    g.write_text("[widths]\nS = [2, 3]\n")
    argv = [str(g) if a == "GRID_NO_VALID" else a for a in argv]
    out = tmp_path / "never"
    assert main(["sweep", "-o", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and err.count("\n") == 0
    assert not out.exists()


@pytest.mark.slow
def test_default_sweep_completes(tmp_path, capsys):
    # (its speed is a benchmark's to measure, docs/performance.md, not a timed test's)
    assert main(["sweep", "-o", str(tmp_path), "--workers", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["ok"] == r["points"]
