"""The ONNX import against onnxruntime: random RNN graphs built with onnx.helper, the
graph torch.onnx.export wrote (tests/data), and every refusal."""

import numpy as np
import pytest

import onnxruntime as ort                # the test extra installs onnx and onnxruntime
from onnx import TensorProto, helper, numpy_helper

from rtrledit.model import FloatRTRL
from rtrledit.model.onnx_import import from_model, load_onnx

DATA = __import__("pathlib").Path(__file__).parent.parent / "data"


def _graph(n, m, p, T, rng, readout="matmul", rnn_attrs=None, extra_rnn=False, act=None):
    init = [numpy_helper.from_array(rng.normal(0, 0.6, (1, n, m)).astype(np.float32), "W"),
            numpy_helper.from_array(rng.normal(0, 0.4, (1, n, n)).astype(np.float32), "R"),
            numpy_helper.from_array(rng.normal(0, 0.3, (1, 2 * n)).astype(np.float32), "B"),
            numpy_helper.from_array(np.array([1], np.int64), "ax1")]
    attrs = {"hidden_size": n, **(rnn_attrs or {})}
    nodes = [helper.make_node("RNN", ["x", "W", "R", "B"], ["Y", "Yh"], name="rnn", **attrs),
             helper.make_node("Squeeze", ["Y", "ax1"], ["hs"], name="sq")]   # [T, 1, n]
    if readout == "matmul":
        init += [numpy_helper.from_array(rng.normal(0, 0.5, (n, p)).astype(np.float32), "Vt"),
                 numpy_helper.from_array(rng.normal(0, 0.5, (p,)).astype(np.float32), "c")]
        nodes += [helper.make_node("MatMul", ["hs", "Vt"], ["u"], name="mm"),
                  helper.make_node("Add", ["c", "u"], ["y" if act is None else "u2"], name="add")]
    else:
        init += [numpy_helper.from_array(rng.normal(0, 0.5, (p, n)).astype(np.float32), "V"),
                 numpy_helper.from_array(rng.normal(0, 0.5, (p,)).astype(np.float32), "c"),
                 numpy_helper.from_array(np.array([-1, n], np.int64), "shp")]
        nodes += [helper.make_node("Reshape", ["hs", "shp"], ["h2"], name="rs"),
                  helper.make_node("Gemm", ["h2", "V", "c"], ["y" if act is None else "u2"],
                                   name="gemm", transB=1, alpha=0.75, beta=1.5)]
    if act:
        nodes.append(helper.make_node(act, ["u2"], ["y"], name="act"))
    if extra_rnn:
        nodes.append(helper.make_node("RNN", ["x", "W", "R", "B"], ["Y9", "Yh9"], name="rnn2",
                                      hidden_size=n))
    out_shape = [T, 1, p] if readout == "matmul" else [T, p]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, 1, m])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], init)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _check_against_ort(model, path, T, m, rng):
    x = rng.normal(0, 1, (T, 1, m)).astype(np.float32)
    y = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0].reshape(T, -1)
    imp = from_model(model)
    fl = FloatRTRL(imp.theta, imp.V, imp.c, activation="tanh")
    r = fl.run(x[:, 0].astype(np.float64), np.zeros((T, imp.sizes[2])), learn=False)
    np.testing.assert_allclose(r.y, y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("readout", ["matmul", "gemm"])
def test_random_graphs_match_onnxruntime(seed, readout, tmp_path):
    rng = np.random.default_rng(seed)
    n, m, p = (int(v) for v in rng.integers(1, 9, 3))
    T = int(rng.integers(5, 40))
    _check_against_ort(_graph(n, m, p, T, rng, readout), tmp_path, T, m, rng)


def test_torch_export_matches_onnxruntime_and_torch():
    path = DATA / "torch_rnn_n4.onnx"        # written by tests/data/make_torch_rnn.py
    imp = load_onnx(path)
    assert imp.sizes == (4, 1, 1)
    ref = np.load(DATA / "torch_rnn_n4.npz")   # torch's own output on a fixed input
    x = ref["x"]
    y_ort = ort.InferenceSession(str(path)).run(None, {"x": x})[0][0]
    r = FloatRTRL(imp.theta, imp.V, imp.c, activation="tanh").run(
        x[0].astype(np.float64), np.zeros((x.shape[1], 1)), learn=False)
    np.testing.assert_allclose(r.y, y_ort, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.y, ref["y"][0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw, words", [
    ({"rnn_attrs": {"activations": ["Relu"]}}, "activation Relu"),
    ({"rnn_attrs": {"direction": "reverse"}}, "direction 'reverse'"),
    ({"rnn_attrs": {"clip": 3.0}}, "clip"),
    ({"extra_rnn": True}, "2 RNN nodes"),
    ({"act": "Sigmoid"}, "node 'act' (Sigmoid)"),
])
def test_refusals(kw, words):
    model = _graph(3, 1, 1, 8, np.random.default_rng(0), **kw)
    with pytest.raises(ValueError, match=r"^[^\n]*" + __import__("re").escape(words)):
        from_model(model)


def test_not_onnx(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="is not an ONNX model"):
        load_onnx(bad)
