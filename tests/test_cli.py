"""The rtrledit command line: train, errors, files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rtrledit.cli import main
from rtrledit.model import Config, load_checkpoint


def run_json(capsys, *argv) -> dict:
    assert main(["train", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_default_train_learns(capsys):
    r = run_json(capsys, "--steps", "3000")
    assert r["task"] == "sine" and r["model"] == "both" and r["steps"] == 3000
    assert r["mse_last_float"] < 0.2 * r["mse_first_float"]
    assert r["mse_last_fixed"] < 0.2 * r["mse_first_fixed"]
    assert set(r["saturation"]) >= {"s", "theta"}


@pytest.mark.parametrize("task", ["narma10", "mackey-glass"])
@pytest.mark.parametrize("approx", ["exact", "snap1"])
def test_tasks_and_approximations(capsys, task, approx):
    r = run_json(capsys, "--task", task, "--approx", approx, "--steps", "1500", "--hidden", "8",
                 "--model", "fixed")
    assert r["approx"] == approx and r["hidden"] == 8 and r["mse_last"] < r["mse_first"]
    assert "mse_last_float" not in r


def test_save_init_plot(tmp_path, capsys):
    ck, png = tmp_path / "w.npz", tmp_path / "curve.png"
    r1 = run_json(capsys, "--steps", "1000", "--hidden", "6", "--save", str(ck), "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = load_checkpoint(ck)
    assert saved.cfg.n == 6 and set(saved.arrays) == {"float", "fixed"}
    r2 = run_json(capsys, "--steps", "1000", "--init", str(ck), "--seed", "0")
    assert r2["hidden"] == 6
    assert r2["mse_first_fixed"] < r1["mse_first_fixed"]  # it starts from the learned weights


def test_config_file_is_used(tmp_path, capsys):
    p = tmp_path / "c.toml"
    Config(hidden=3, approx="snap1", eta=6).save(p)
    r = run_json(capsys, "--config", str(p), "--steps", "500")
    assert r["hidden"] == 3 and r["approx"] == "snap1"


def test_interrupted_run_writes_nothing(tmp_path, capsys, monkeypatch):
    from rtrledit.model.fixed import FixedRTRL
    calls = {"n": 0}
    real = FixedRTRL.run

    def flaky(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(FixedRTRL, "run", flaky)
    ck = tmp_path / "w.npz"
    assert main(["train", "--model", "fixed", "--steps", "2000", "--save", str(ck)]) == 130
    assert not ck.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,msg", [
    (["--hidden", "0"], "config field 'hidden'"),
    (["--task", "nosuchtask"], "unknown task 'nosuchtask'"),
    (["--steps", "0"], "--steps"),
    (["--init", "missing.npz"], "cannot read checkpoint"),
])
def test_bad_input_one_line_exit_2(argv, msg, tmp_path):
    p = subprocess.run([sys.executable, "-m", "rtrledit.cli", "train", *argv], cwd=tmp_path,
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_bad_task_file_names_the_line(tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("x0,d0\n0.1,0.2\n0.3,abc\n")
    p = subprocess.run([sys.executable, "-m", "rtrledit.cli", "train", "--task", str(f)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "line 3" in p.stderr and "Traceback" not in p.stderr


def test_task_file_trains(tmp_path, capsys):
    t = np.arange(800)
    np.savez(tmp_path / "d.npz", x=np.sin(0.1 * t)[:, None], d=np.sin(0.1 * (t + 1))[:, None])
    r = run_json(capsys, "--task", str(tmp_path / "d.npz"), "--hidden", "4")
    assert r["steps"] == 800 and r["mse_last"] < r["mse_first"]
