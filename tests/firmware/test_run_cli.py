"""``rtrledit run --port sim``: streams a task, saves the adapted weights (a checkpoint the
integer model reproduces bit for bit), --init, --no-learn, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from rtrledit.cli import main
from rtrledit.model import load_checkpoint
from rtrledit.model.fixed import FixedRTRL
from rtrledit.model.reference import init_params
from rtrledit.model.tasks import get_task


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rtrledit.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_run_sim_sine_learns_and_saves(tmp_path):
    out = tmp_path / "w.npz"
    r = _cli("run", "--port", "sim", "--task", "sine", "--hidden", "2", "--approx", "snap1",
             "--steps", "120", "--save", str(out), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["steps"] == 120 and res["device_steps"] == 120 and res["learn"]
    ck = load_checkpoint(out)
    cfg = ck.cfg
    # the saved weights are what the integer model learns from the same start
    th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=0)
    model = FixedRTRL.from_float(cfg, th, V, c)
    task = get_task("sine", steps=120)
    xs, ds = model.quantise_inputs(task.xs, task.ds)
    model.run(xs, ds)
    for k in ("theta", "V", "c", "h", "S"):
        np.testing.assert_array_equal(ck.arrays["fixed"][k], getattr(model, k), err_msg=k)
    assert int(ck.arrays["fixed"]["steps"]) == 120
    # resume from it with learning off: weights stay as saved
    out2 = tmp_path / "w2.npz"
    assert main(["run", "--port", "sim", "--init", str(out), "--steps", "30", "--no-learn",
                 "--save", str(out2), "--json"]) == 0
    ck2 = load_checkpoint(out2)
    np.testing.assert_array_equal(ck2.arrays["fixed"]["theta"], ck.arrays["fixed"]["theta"])


def test_run_bad_input(tmp_path, capsys):
    assert main(["run", "--port", "sim", "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["run", "--port", "sim", "--input", str(tmp_path / "none.csv")]) == 2


def test_run_unreachable_port(tmp_path, capsys):
    save = tmp_path / "keep.npz"
    save.write_bytes(b"previous")
    assert main(["run", "--port", str(tmp_path / "no-such-tty"), "--save", str(save)]) == 2
    assert "cannot open serial port" in capsys.readouterr().err
    assert save.read_bytes() == b"previous"
