"""docs/deploy.md runs as written: the walk on the simulated device, command for command, on
the ONNX file its training script wrote (tests/data/torch_rnn_sine.onnx); the board walk's
commands as far as they run without a board; the script (with PyTorch, if installed)."""

import contextlib
import io
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtrledit.cli import _parser, main
from rtrledit.model import Config, load_checkpoint, tasks

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy.md"
ONNX = ROOT / "tests" / "data" / "torch_rnn_sine.onnx"


def _walk(name: str) -> list[list[str]]:
    """The commands of the ```sh block after <!-- walk: name -->, each without 'rtrledit'."""
    block = re.search(rf"<!-- walk: {name} -->\n```sh\n(.*?)```", DEPLOY.read_text(), re.S)
    lines = [shlex.split(ln) for ln in block.group(1).splitlines() if ln.strip()]
    assert all(ln[0] == "rtrledit" for ln in lines)
    return [ln[1:] for ln in lines]


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """The folder where the walk on the simulated device ran, and what it printed."""
    d = tmp_path_factory.mktemp("walk")
    shutil.copy(ONNX, d / "net.onnx")
    cmds = _walk("sim")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.chdir(d)
        rcs = [main(argv) for argv in cmds]
    return d, cmds, rcs, out.getvalue()


def test_the_walk_on_the_simulated_device(walked):
    d, cmds, rcs, out = walked
    assert [c[0] for c in cmds] == ["import", "build", "run"]
    assert cmds[2][cmds[2].index("--port") + 1] == "sim"
    assert rcs == [0, 0, 0] and "estimate fits" in out
    cfg = Config.load(d / "net.toml")
    before, after = load_checkpoint(d / "net.npz"), load_checkpoint(d / "adapted.npz")
    assert before.cfg == cfg and after.cfg == cfg
    assert not np.array_equal(after.fixed_params()["V"], before.fixed_params()["V"])  # learnt
    # trained offline: the device's error is a small part of the target's variance from the
    # first steps on, and it is the integer model's in import's check (the same 5000 steps)
    var = float(np.var(tasks.sine(seed=0).ds))
    first, last = map(float, re.search(r"MSE first 10%: (\S+) +last 10%: (\S+)", out).groups())
    assert first < 0.1 * var and last < 0.1 * var
    fx_last, fx_first = map(float, re.search(r"final MSE (\S+) \(first 10%: (\S+)\)", out).groups())
    assert (first, last) == (pytest.approx(fx_first, rel=1e-3), pytest.approx(fx_last, rel=1e-3))


def test_the_board_walk(walked, monkeypatch, capsys):
    """The same import as the walk above; build (as an estimate) and program (as a dry run)
    run; run's line parses and reads the imported checkpoint (there is no board here)."""
    d, sim, _, _ = walked
    monkeypatch.chdir(d)
    cmds = _walk("board")
    assert [c[0] for c in cmds] == ["import", "build", "program", "run"]
    assert cmds[0] == sim[0]
    assert main(cmds[1] + ["--estimate"]) == 0
    assert main(cmds[2] + ["--dry-run"]) == 0
    assert "openFPGALoader" in capsys.readouterr().out
    args = _parser().parse_args(cmds[3])
    assert args.init == Path("net.npz") and args.init.exists() and not args.port.startswith("sim")


def test_the_training_script(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", DEPLOY.read_text(), re.S).group(1)
    compile(code, str(DEPLOY), "exec")
    assert "dynamo=False" in code and "nn.RNN(" in code and "nn.Linear(" in code
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DEPLOY), "exec"), {})
    assert main(["import", "net.onnx", "--task", "sine", "--steps", "2000"]) == 0
