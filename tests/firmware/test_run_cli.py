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
from tests.firmware.common import interrupted_run


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


def test_device_that_stops_answering_keeps_the_last_save(tmp_path, monkeypatch, capsys):
    """Mid-run the device goes silent: one-line timeout error, exit 1, and the periodic
    checkpoint written before is intact and loadable."""
    import rtrledit.firmware as fw
    from rtrledit.firmware.transport import SimTransport

    class Dying(SimTransport):
        """The simulated device, silent once the host has written ``budget`` bytes."""
        budget = 2500

        def write(self, data: bytes) -> None:
            Dying.budget -= len(data)
            if Dying.budget > 0:
                super().write(data)

    monkeypatch.setattr(fw, "open_transport",
                        lambda port, cfg=None, lanes=1, baud=0: Dying(cfg, lanes))
    out = tmp_path / "w.npz"
    rc = main(["run", "--port", "sim", "--hidden", "2", "--approx", "snap1", "--steps", "400",
               "--save", str(out), "--save-every", "20", "--timeout", "2", "--json"])
    err = capsys.readouterr().err
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and "is intact" in err, err
    ck = load_checkpoint(out)                      # complete and loadable
    assert ck.cfg.n == 2 and "theta" in ck.arrays["fixed"]
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]   # no temporary file left


def test_ctrl_c_saves_the_adapted_weights(tmp_path):
    """SIGINT mid-run: exit status 130 and a complete checkpoint of the state reached."""
    out = tmp_path / "w.npz"
    rc, stdout, stderr = interrupted_run("--port", "sim", "--hidden", "2", "--approx", "snap1",
                                         "--steps", "5000", "--print-every", "10",
                                         "--save", str(out))
    assert rc == 130, stderr
    assert "interrupted after" in stdout
    ck = load_checkpoint(out)
    steps = int(ck.arrays["fixed"]["steps"])
    assert 10 <= steps < 5000                     # the state reached, not the start or the end
