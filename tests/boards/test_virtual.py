"""The virtual board end to end through its pty (rtrledit.boards.virtual, ``rtrledit
board-sim``): ``rtrledit run`` and the C driver's example (termios) learn bit-exact with
the integer model and save; Ctrl-C mid-run saves; a board that dies mid-run is a one-line
error with the last save intact; a host at another baud gets a clear error, not a hang.

One build (Verilator, cached under build/sim) serves every test: the config of
tests/firmware/test_run_cli.py's ``--port sim`` run, at the fastest baud.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rtrledit.boards.virtual import DEFAULT_CLOCK_HZ, VirtualBoard, build, fastest_baud
from rtrledit.cli import main
from rtrledit.firmware import export
from rtrledit.model import load_checkpoint
from rtrledit.model.config import Config
from rtrledit.model.fixed import FixedRTRL
from rtrledit.model.reference import init_params
from rtrledit.model.tasks import get_task
from rtrledit.toolchain import MissingTool
from tests.firmware.cbuild import C, build as cbuild, compiler
from tests.firmware.common import interrupted_run
from tests.tools import missing

CFG = Config(hidden=2, inputs=1, outputs=1, approx="snap1")
SIZES = ["--hidden", "2", "--approx", "snap1"]
BAUD = fastest_baud(DEFAULT_CLOCK_HZ)


@pytest.fixture(scope="module")
def built():
    try:
        build(CFG, 1, DEFAULT_CLOCK_HZ, BAUD)
    except MissingTool as e:
        missing(str(e))


@pytest.fixture
def board(built):
    """A fresh board (power-on state: step counter, LFSR) for each test."""
    with VirtualBoard(CFG, 1, DEFAULT_CLOCK_HZ, BAUD) as vb:
        yield vb


def _model(steps: int) -> tuple[FixedRTRL, np.ndarray]:
    """The integer model from run's seeded start after ``steps`` of the sine task; its y."""
    th, V, c = init_params(CFG.n, CFG.m, CFG.p, seed=0)
    model = FixedRTRL.from_float(CFG, th, V, c)
    task = get_task("sine", steps=steps, seed=0)
    return model, model.run(*model.quantise_inputs(task.xs, task.ds)).y


def _same_state(ck, model: FixedRTRL, steps: int) -> None:
    for k in ("theta", "V", "c", "h", "S"):
        np.testing.assert_array_equal(ck.arrays["fixed"][k], getattr(model, k), err_msg=k)
    assert int(ck.arrays["fixed"]["steps"]) == steps


def _run(port: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rtrledit.cli", "run", "--port", port,
                             "--baud", str(BAUD), *SIZES, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_run_learns_bit_exact_saves_and_resumes(board, tmp_path):
    w, csv = tmp_path / "w.npz", tmp_path / "y.csv"
    assert main(["run", "--port", board.port, "--baud", str(BAUD), *SIZES, "--steps", "300",
                 "--save", str(w), "--output", str(csv), "--json"]) == 0
    model, ys = _model(300)
    _same_state(load_checkpoint(w), model, 300)
    got = np.loadtxt(csv, delimiter=",", skiprows=1)[:, 0]
    np.testing.assert_array_equal(np.round(got * CFG.formats.Y.one).astype(np.int64), ys[:, 0])
    # resume from the checkpoint: the model continued from the same state agrees
    w2 = tmp_path / "w2.npz"
    assert main(["run", "--port", board.port, "--baud", str(BAUD), "--init", str(w),
                 "--steps", "100", "--save", str(w2), "--json"]) == 0
    task = get_task("sine", steps=100, seed=0)
    model.run(*model.quantise_inputs(task.xs, task.ds))
    _same_state(load_checkpoint(w2), model, 400)


def test_ctrl_c_mid_run_leaves_a_complete_checkpoint(board, tmp_path):
    w = tmp_path / "w.npz"
    rc, out, err = interrupted_run("--port", board.port, "--baud", str(BAUD), *SIZES,
                                   "--steps", "200000", "--print-every", "20", "--save", str(w))
    assert rc == 130, err
    assert "interrupted after" in out
    ck = load_checkpoint(w)
    steps = int(ck.arrays["fixed"]["steps"])
    assert 20 <= steps < 200000
    _same_state(ck, _model(steps)[0], steps)           # the state reached, bit-exact


def test_ctrl_c_at_a_terminal_saves_with_port_sim(built, tmp_path):
    """A terminal sends Ctrl-C to the whole process group: ``run --port sim`` starts the
    board in a session of its own, so the board outlives it and the state is saved."""
    w = tmp_path / "w.npz"
    rc, out, err = interrupted_run("--port", "sim", *SIZES, "--steps", "200000",
                                   "--print-every", "20", "--save", str(w), group=True)
    assert rc == 130, err
    steps = int(load_checkpoint(w).arrays["fixed"]["steps"])
    _same_state(load_checkpoint(w), _model(steps)[0], steps)


def test_killed_board_is_a_one_line_error_and_the_last_save_is_intact(board, tmp_path):
    w = tmp_path / "w.npz"
    p = _run(board.port, "--steps", "200000", "--print-every", "100", "--save", str(w),
             "--save-every", "100", "--json")
    try:
        deadline = time.monotonic() + 60
        while not w.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        os.kill(board.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and "is intact" in err, err
    ck = load_checkpoint(w)
    steps = int(ck.arrays["fixed"]["steps"])
    assert steps % 100 == 0 and steps > 0
    _same_state(ck, _model(steps)[0], steps)
    assert [f.name for f in tmp_path.iterdir()] == ["w.npz"]     # no temporary file left


def test_mismatched_baud_is_a_clear_error(board, capsys):
    t0 = time.monotonic()
    assert main(["run", "--port", board.port, "--baud", "115200", *SIZES, "--steps", "10",
                 "--json"]) == 1
    err = capsys.readouterr().err.strip()
    assert time.monotonic() - t0 < 30
    assert len(err.splitlines()) == 1 and "cannot reach the device" in err, err
    assert "at 115200 baud" in err and "baud rate?" in err
    # the garbage it received did not wedge the board: at its baud it answers
    assert main(["run", "--port", board.port, "--baud", str(BAUD), *SIZES, "--steps", "10",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["device_steps"] == 10


@pytest.fixture(scope="module")
def c_example(tmp_path_factory):
    cc = compiler("gcc")
    d = tmp_path_factory.mktemp("c")
    export.write(d / "inc", CFG)
    return cbuild(cc, d / "host_termios", [C / "src" / "rtrledit.c", C / "examples" /
                  "mcu_main.c", C / "examples" / "host_termios.c"], [d / "inc", C / "include"])


def _sensor(tmp_path, T: int) -> np.ndarray:
    """T + 1 format-X samples of a sine, written to tmp_path/x.txt for the example."""
    xs = np.round(0.5 * CFG.formats.X.one * np.sin(0.3 * np.arange(T + 1))).astype(np.int64)
    (tmp_path / "x.txt").write_text("\n".join(map(str, xs)))
    return xs


def _example_model(xs: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The model of the example on a fresh board (power-on state: zero weights, the
    config's rates) after T steps of x_t → d_t = x_{t+1} (the same integer, as the example
    sets it): its predictions and the weights the example saves (windows W, U, V, C)."""
    n, q = CFG.n, CFG.q
    model = FixedRTRL(CFG, np.zeros((n, q), np.int64), np.zeros((CFG.p, n), np.int64),
                      np.zeros(CFG.p, np.int64))
    ys = model.run(xs[:T, None], xs[1:T + 1, None]).y
    return ys[:, 0], np.concatenate([model.theta[:, :n].ravel(), model.theta[:, n:].ravel(),
                                     model.V.ravel(), model.c.ravel()])


def test_c_example_learns_through_the_pty(c_example, board, tmp_path):
    """mcu_main.c saves after 5000 steps: its predictions and weights are the model's."""
    T = 5000                                          # the example's save period
    xs = _sensor(tmp_path, T)
    out = tmp_path / "y.txt"
    r = subprocess.run([str(c_example), board.port, str(BAUD), str(tmp_path / "x.txt"),
                        str(out), "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ys, words = _example_model(xs, T)
    np.testing.assert_array_equal(np.loadtxt(out, dtype=np.int64), ys)
    np.testing.assert_array_equal(np.loadtxt(f"{out}.weights", dtype=np.int64), words)


def test_c_example_on_a_killed_board_stops_with_its_save_intact(c_example, board, tmp_path):
    xs = _sensor(tmp_path, 100_000)
    out = tmp_path / "y.txt"
    p = subprocess.Popen([str(c_example), board.port, str(BAUD), str(tmp_path / "x.txt"),
                          str(out), "0"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(f"{out}.weights") and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(board.pid, signal.SIGKILL)
        err = p.communicate(timeout=30)[1]
    finally:
        p.kill()
    assert p.returncode == 1 and err.strip() == "host_termios: transport failure", err
    np.testing.assert_array_equal(np.loadtxt(f"{out}.weights", dtype=np.int64),
                                  _example_model(xs, 5000)[1])


def test_c_example_at_another_baud_fails_clearly(c_example, board, tmp_path):
    (tmp_path / "x.txt").write_text("0 0 0")
    r = subprocess.run([str(c_example), board.port, "115200", str(tmp_path / "x.txt"),
                        str(tmp_path / "y.txt"), "1"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == "host_termios: timeout: no complete response from the device", \
        r.stderr


def test_board_sim_command_serves_until_ctrl_c(built, capsys):
    p = subprocess.Popen([sys.executable, "-m", "rtrledit.cli", "board-sim", *SIZES, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        assert info["baud"] == BAUD and info["port"].startswith("/dev/")
        assert main(["run", "--port", info["port"], "--baud", str(BAUD), *SIZES, "--steps", "20",
                     "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["device_steps"] == 20
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0 and err == "", err
    assert not os.path.exists(info["port"])                 # the pty went with the board


def test_board_sim_bad_input_is_one_line(capsys):
    assert main(["board-sim", "--baud", str(2 * BAUD)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "too fast" in err, err
