"""``rtrledit import``: the files it writes are accepted by train, simulate, build and run
and carry the network onnxruntime runs; its refusals; the rule for a trained start."""

import contextlib
import io
import json
import shutil
import sys

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rtrledit.cli import main
from rtrledit.model import Config, FixedRTRL, Formats, FloatRTRL, load_checkpoint, tasks
from rtrledit.model.profile import check_config
from rtrledit.model.requant import dequantise
from tests.model.test_onnx_import import DATA, _graph

ONNX = DATA / "torch_rnn_n4.onnx"          # torch.onnx.export of nn.RNN(1, 4) + nn.Linear(4, 1)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("import")
    rc, out, _ = _cli(["import", str(ONNX), "--steps", "1000", "-o", str(d / "net.toml"),
                       "--checkpoint", str(d / "net.npz"), "--json"])
    return d, rc, json.loads(out)


def test_import_writes_the_network_onnxruntime_runs(imported):
    d, rc, r = imported
    assert rc == 0 and r["check"]["learns"]
    assert r["wrote"] == {"config": str(d / "net.toml"), "checkpoint": str(d / "net.npz")}
    cfg = Config.load(d / "net.toml")
    assert (cfg.n, cfg.m, cfg.p, cfg.activation) == (4, 1, 1, "tanh")
    ck = load_checkpoint(d / "net.npz")
    assert ck.cfg == cfg
    ref = np.load(DATA / "torch_rnn_n4.npz")           # a fixed input x (1, 10, 1)
    x = ref["x"]
    y_ort = ort.InferenceSession(str(ONNX)).run(None, {"x": x})[0][0]
    zeros = np.zeros((x.shape[1], 1))
    fl = FloatRTRL(**ck.float_params(), activation="tanh")
    np.testing.assert_allclose(fl.run(x[0].astype(np.float64), zeros, learn=False).y, y_ort,
                               rtol=1e-5, atol=1e-6)
    # the integer model of the written Config: onnxruntime's outputs to within a step of
    # the tanh table (2^tanh_bits entries over |a| < 4) through the readout, twice over
    # for the recurrence
    fx = FixedRTRL(cfg, **ck.fixed_params())
    xs, ds = fx.quantise_inputs(x[0].astype(np.float64), zeros)
    y_fx = dequantise(fx.run(xs, ds, learn=False).y, cfg.formats.Y)
    step = 8 / 2 ** cfg.tanh_bits
    np.testing.assert_allclose(y_fx, y_ort, atol=2 * step * np.abs(ck.float_params()["V"]).sum())


def test_train_starts_from_the_imported_network(imported):
    d, _, _ = imported
    rc, out, _ = _cli(["train", "--init", str(d / "net.npz"), "--model", "float", "--steps",
                       "10", "--json"])
    r = json.loads(out)
    assert rc == 0 and (r["hidden"], r["activation"]) == (4, "tanh")
    # the first of 10 steps predicts before any update: onnxruntime's prediction at t = 0
    task = tasks.sine(steps=10, seed=0)
    x = task.xs[None].astype(np.float32)
    y0 = ort.InferenceSession(str(ONNX)).run(None, {"x": x})[0][0, 0]
    assert r["mse_first_float"] == pytest.approx(float(((y0 - task.ds[0]) ** 2).mean()),
                                                 rel=1e-5)


def test_build_reads_the_config(imported):
    d, _, _ = imported
    est = []
    for how in (["--config", str(d / "net.toml")],
                ["--hidden", "4", "--inputs", "1", "--activation", "tanh"]):
        rc, out, _ = _cli(["build", "--board", "icebreaker", "--estimate", "--json", *how])
        assert rc == 0
        est.append(json.loads(out))
    assert est[0]["fits"] and est[0]["cycles_per_step"] == est[1]["cycles_per_step"]


def test_simulate_runs_the_checkpoint_bit_exactly(imported, tmp_path):
    d, _, _ = imported
    rc, out, _ = _cli(["simulate", "--init", str(d / "net.npz"), "--steps", "3",
                       "--build-dir", str(tmp_path), "--json"])
    r = json.loads(out)
    assert rc == 0 and r["bitexact"] and r["hidden"] == 4


def test_run_on_the_simulated_device_learns_like_the_integer_model(imported, tmp_path):
    """The frame-level device (sim:byte, no Verilator build); tests/test_deploy.py runs the
    documented walk on the virtual board (--port sim)."""
    d, _, _ = imported
    T = 8
    rc, out, _ = _cli(["run", "--port", "sim:byte", "--init", str(d / "net.npz"), "--steps",
                       str(T), "--save", str(tmp_path / "after.npz"), "--json"])
    assert rc == 0 and json.loads(out)["device_steps"] == T
    ck = load_checkpoint(d / "net.npz")
    fx = FixedRTRL(ck.cfg, **ck.fixed_params())
    task = tasks.sine(steps=T, seed=0)
    fx.run(*fx.quantise_inputs(task.xs, task.ds), learn=True)
    after = load_checkpoint(tmp_path / "after.npz").fixed_params()
    for k in ("theta", "V", "c"):
        np.testing.assert_array_equal(after[k], getattr(fx, k))


def test_a_format_that_does_not_learn_is_refused(tmp_path):
    cfg, ck = tmp_path / "net.toml", tmp_path / "net.npz"
    rc, out, _ = _cli(["import", str(ONNX), "--steps", "1000", "--budget", "4", "-o", str(cfg),
                       "--checkpoint", str(ck), "--json"])
    r = json.loads(out)["check"]
    assert rc == 1 and not r["learns"] and r["mse_last_fixed"] > 1.5 * r["mse_last_float"]
    assert list(tmp_path.iterdir()) == []


def test_the_trained_start_rule():
    """A network trained (online, float) on the sine no longer halves its error; the
    random-start rule refuses every format for it, the trained-start rule does not."""
    cfg = Config(hidden=4, activation="tanh")
    rng = np.random.default_rng(0)
    fl = FloatRTRL.from_config(cfg, rng.normal(0, 0.3, (4, 6)), rng.normal(0, 0.3, (1, 4)),
                               np.zeros(1))
    train = tasks.sine(steps=20000, seed=1)
    fl.run(train.xs, train.ds, learn=True)
    params = (fl.theta, fl.V, fl.c)
    task = tasks.sine(steps=2000, seed=0)
    assert not check_config(cfg, task, params=params)["learns"]
    good = check_config(cfg, task, params=params, trained=True)
    assert good["learns"] and good["mse_last_fixed"] < 0.05
    # every format 4 bits wide (2 fraction bits): 10x the float model's error
    bad = check_config(cfg.replace(formats=Formats.uniform(4, 2)), task, params=params,
                       trained=True)
    assert not bad["learns"] and bad["mse_last_fixed"] > 5 * bad["mse_last_float"]


# ---------------------------------------------------------------------------- refusals
def _with(model, op=None, inputs=None, extra=()):
    """``model`` (from _graph) with its RNN node changed: op type, inputs, initialisers."""
    rnn = next(nd for nd in model.graph.node if nd.op_type == "RNN")
    if op:
        gates = {"LSTM": 4, "GRU": 3}[op]
        rnn.op_type = op
        init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for name, rows in (("W", gates), ("R", gates), ("B", 2 * gates)):
            a = init[name]
            t = numpy_helper.from_array(np.tile(a, (1, rows, 1) if a.ndim == 3 else (1, gates)),
                                        name)
            next(x for x in model.graph.initializer if x.name == name).CopyFrom(t)
    if inputs:
        del rnn.input[:]
        rnn.input.extend(inputs)
    model.graph.initializer.extend(extra)
    return model


def _model(kind: str):
    m = _graph(3, 1, 1, 8, np.random.default_rng(0))
    if kind in ("LSTM", "GRU"):
        return _with(m, op=kind)
    if kind == "seq":
        lens = numpy_helper.from_array(np.array([8], np.int32), "lens")
        return _with(m, inputs=["x", "W", "R", "B", "lens"], extra=[lens])
    h0 = numpy_helper.from_array(np.full((1, 1, 3), 0.5, np.float32), "h0")
    return _with(m, inputs=["x", "W", "R", "B", "", "h0"], extra=[h0])


@pytest.mark.parametrize("kind, words", [
    ("LSTM", "node 'rnn' is an LSTM"), ("GRU", "node 'rnn' is a GRU"),
    ("seq", "a sequence_lens input ('lens')"), ("h0", "initial_h ('h0') must be absent or zero"),
])
def test_refusals_name_the_node_and_write_nothing(kind, words, tmp_path):
    import onnx
    model = _model(kind)
    onnx.checker.check_model(model)                  # a valid ONNX graph, refused by rtrledit
    src = tmp_path / "in" / "m.onnx"
    src.parent.mkdir()
    onnx.save(model, str(src))
    _refused(["import", str(src)], words, tmp_path)


def test_not_onnx_and_missing_file(tmp_path):
    src = tmp_path / "in" / "m.onnx"
    src.parent.mkdir()
    src.write_bytes(b"\x00not a protobuf at all\xff" * 8)
    _refused(["import", str(src)], "is not an ONNX model", tmp_path)
    _refused(["import", str(tmp_path / "in" / "none.onnx")], "cannot read", tmp_path)


def test_missing_onnx_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)      # import onnx raises ImportError
    _refused(["import", str(ONNX)], 'pip install "rtrledit[onnx]"', tmp_path)


def test_bad_options_are_refused_before_any_work(tmp_path):
    _refused(["import", str(ONNX), "--checkpoint", str(tmp_path / "out" / "n.txt")],
             "use a .npz file name", tmp_path)
    _refused(["import", str(ONNX), "-o", str(tmp_path / "nodir" / "n.toml")],
             "does not exist", tmp_path)
    two = tmp_path / "in" / "two.csv"
    two.parent.mkdir()
    two.write_text("x0,x1,d0\n" + "0.1,0.2,0.3\n" * 20)
    _refused(["import", str(ONNX), "--task", str(two)],
             "the network has 1 input and 1 output, the task", tmp_path)


def _refused(argv, words, tmp_path):
    """``argv`` (import MODEL ...) with -o and --checkpoint into an empty folder (options
    in ``argv`` come later and win) exits 2 with one line naming ``words``, writes nothing."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    outs = ["-o", str(out_dir / "net.toml"), "--checkpoint", str(out_dir / "net.npz")]
    rc, out, err = _cli(argv[:2] + outs + argv[2:])
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rtrledit import: error: ") and words in err, err
    assert list(out_dir.iterdir()) == []
    shutil.rmtree(out_dir)
