"""Long runs (opt in: ``pytest -m slow tests/sim/test_long.py``): 100,000 learning steps in
all on Verilator, every output word compared with the integer model. Results are in
docs/core.md."""

import pytest

from rtrledit.model import Config, FixedRTRL, Formats, QFormat, init_params
from rtrledit.model.tasks import get_task
from rtrledit.sim.job import Job, Segment
from rtrledit.sim.runner import simulate

CASES = [  # (task, config, lanes)
    ("sine", Config(hidden=4, r_upd="stochastic"), 2),
    ("narma10", Config(hidden=3, activation="tanh", formats=Formats.uniform(12, S=QFormat(12, 8))), 3),
    ("mackey-glass", Config(hidden=8, approx="snap1", overflow="wrap"), 1),
    ("sine", Config(hidden=2, formats=Formats.uniform(10), r_fwd="floor", r_sens="half_up"), 7),
]


@pytest.mark.slow
@pytest.mark.parametrize("task,cfg,lanes", CASES)
def test_25000_steps_bit_exact(task, cfg, lanes, tmp_path, capsys):
    t = get_task(task, steps=25_000, seed=1)
    fx = FixedRTRL.from_float(cfg, *init_params(cfg.n, cfg.m, cfg.p, seed=1))
    xs, ds = fx.quantise_inputs(t.xs, t.ds)
    job = Job(cfg, lanes, fx.theta, fx.V, fx.c, xs, ds,
              [Segment(20_000), Segment(2_000, learn=False, track=False),
               Segment(3_000, reset="sens")])
    report = simulate(job, "verilator", build_root=tmp_path)
    with capsys.disabled():
        print(f"\n{task} n={cfg.n} {cfg.approx} L={lanes}: {report['steps']} steps, "
              f"bitexact={report['bitexact']}, {report['sim_cycles']:,} cycles, "
              f"{report['sim_cycles_per_second']:,.0f} cycles/s, saturation "
              f"{sum(report['saturation'].values())}")
    assert report["bitexact"], report["mismatch_list"]
    assert report["results"] == 25_000
