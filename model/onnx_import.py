"""Read a trained Elman RNN from an ONNX file into the parameters Θ, V, c of docs/design.md §2.

Accepted: exactly one forward ``RNN`` node with the tanh activation, started from h = 0
(no ``initial_h``, or a zero one), and a linear readout (``Gemm``, or ``MatMul`` with an
optional ``Add``) applied to its output at every step, with only layout nodes (Transpose,
Squeeze, Unsqueeze, Reshape, Identity) in between. That is what the TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``) writes for ``nn.RNN`` + ``nn.Linear``.
The ONNX RNN computes h_t = tanh(W x_t + R h_{t-1} + Wb + Rb), so Θ = [R | W | Wb + Rb].
Anything else is refused with a ValueError naming the node or the reason.
The ``onnx`` package is imported lazily (the ``onnx`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Imported", "load_onnx", "from_model"]

_LAYOUT = ("Transpose", "Squeeze", "Unsqueeze", "Reshape", "Identity")


@dataclass(frozen=True)
class Imported:
    """Float parameters read from an ONNX graph: Θ (n, n + m + 1), V (p, n), c (p,)."""

    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(n, m, p): hidden units, inputs, outputs."""
        n = self.theta.shape[0]
        return n, self.theta.shape[1] - n - 1, self.V.shape[0]


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ValueError('reading ONNX needs the onnx package: pip install "rtrledit[onnx]"') from None
    return onnx


def load_onnx(path: str | Path) -> Imported:
    """Read ``path`` (an ONNX model file) and import it; ValueError if it is not one we accept."""
    onnx = _onnx()
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except Exception as e:  # protobuf DecodeError, checker ValidationError
        raise ValueError(f"{path} is not an ONNX model: {str(e).splitlines()[0]}") from None
    return from_model(model)


def from_model(model) -> Imported:
    """Import an ``onnx.ModelProto`` (see the module docstring for what is accepted)."""
    onnx = _onnx()
    from onnx import numpy_helper
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for nd in g.node:
        if nd.op_type == "Constant":
            for a in nd.attribute:
                if a.name == "value":
                    consts[nd.output[0]] = numpy_helper.to_array(a.t)
    producer = {o: nd for nd in g.node for o in nd.output}
    consumers: dict[str, list] = {}
    for nd in g.node:
        for i in nd.input:
            consumers.setdefault(i, []).append(nd)

    def attr(nd, name, default=None):
        for a in nd.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    for nd in g.node:
        if nd.op_type in ("LSTM", "GRU"):
            raise ValueError(f"node '{nd.name}' is {'an' if nd.op_type == 'LSTM' else 'a'} "
                             f"{nd.op_type}: rtrledit learns an Elman "
                             "RNN (one ONNX RNN node, tanh)")
    rnns = [nd for nd in g.node if nd.op_type == "RNN"]
    if not rnns:
        raise ValueError("the graph has no RNN node (an unrolled export? use "
                         "torch.onnx.export(..., dynamo=False))")
    if len(rnns) > 1:
        raise ValueError(f"the graph has {len(rnns)} RNN nodes "
                         f"({', '.join(repr(r.name) for r in rnns)}): only one recurrent layer")
    rnn = rnns[0]
    where = f"RNN node '{rnn.name}'"
    direction = attr(rnn, "direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction != "forward":
        raise ValueError(f"{where}: direction {direction!r} (only forward)")
    acts = [a.decode() if isinstance(a, bytes) else a for a in attr(rnn, "activations", [b"Tanh"])]
    if acts != ["Tanh"]:
        raise ValueError(f"{where}: activation {', '.join(acts)} (only Tanh)")
    if attr(rnn, "clip") is not None:
        raise ValueError(f"{where}: clip = {attr(rnn, 'clip')} is not supported")
    ins = list(rnn.input) + [""] * (6 - len(rnn.input))
    if ins[4]:
        raise ValueError(f"{where}: a sequence_lens input ({ins[4]!r}) is not supported")
    allowed = {id(rnn)}
    if ins[5]:
        _check_zero_start(ins[5], consts, producer, allowed, where)

    def const(name: str, what: str) -> np.ndarray:
        if name not in consts:
            raise ValueError(f"{where}: {what} ({name!r}) is not a constant")
        mark(name)
        return np.asarray(consts[name], dtype=np.float64)

    def mark(name: str) -> None:
        if name in producer:
            allowed.add(id(producer[name]))

    W, R = const(ins[1], "weight W"), const(ins[2], "weight R")
    if W.ndim != 3 or W.shape[0] != 1 or R.shape != (1, W.shape[1], W.shape[1]):
        raise ValueError(f"{where}: W {W.shape} and R {R.shape} are not [1, n, m] and [1, n, n]")
    n, m = W.shape[1], W.shape[2]
    B = const(ins[3], "bias B") if ins[3] else np.zeros((1, 2 * n))
    if B.shape != (1, 2 * n):
        raise ValueError(f"{where}: bias B has shape {B.shape}, not [1, {2 * n}]")
    # the input: a graph input, through layout nodes only
    x = ins[0]
    graph_inputs = {i.name for i in g.input}
    while x not in graph_inputs:
        nd = producer.get(x)
        if nd is None or nd.op_type not in ("Transpose", "Identity"):
            raise ValueError(f"node '{nd.name if nd else x}' ({nd.op_type if nd else 'missing'}) "
                             f"between the graph input and the RNN is not supported")
        allowed.add(id(nd))
        x = nd.input[0]
    # the output: layout nodes, then the linear readout, then layout nodes, to the graph output
    V = c = None
    cur, rank, feat = rnn.output[0], 4, 3
    outputs = [o.name for o in g.output]
    if len(outputs) != 1:
        raise ValueError(f"the graph has {len(outputs)} outputs ({', '.join(outputs)}): "
                         "expected one, the readout's")
    while cur != outputs[0]:
        nxt = consumers.get(cur, [])
        if len(nxt) != 1:
            raise ValueError(f"'{cur}' feeds {len(nxt)} nodes: expected one chain from the RNN "
                             "to the readout")
        nd = nxt[0]
        allowed.add(id(nd))
        op = nd.op_type
        if op in _LAYOUT and V is None:
            rank, feat = _layout(nd, rank, feat, n, consts, attr, mark)
        elif op in _LAYOUT:
            pass
        elif op == "MatMul" and V is None and nd.input[0] == cur and feat == rank - 1:
            Vt = const(nd.input[1], "readout MatMul weight")
            if Vt.ndim != 2 or Vt.shape[0] != n:
                raise ValueError(f"node '{nd.name}': readout weight {Vt.shape}, not [{n}, p]")
            V, c = Vt.T, np.zeros(Vt.shape[1])
        elif op == "Add" and V is not None and not c.any() and nd.op_type == "Add":
            other = nd.input[1] if nd.input[0] == cur else nd.input[0]
            c = _bias(const(other, "readout bias"), V.shape[0], nd)
        elif op == "Gemm" and V is None and nd.input[0] == cur and rank == 2 and feat == 1:
            if attr(nd, "transA", 0):
                raise ValueError(f"node '{nd.name}': Gemm with transA is not a readout")
            Bm = const(nd.input[1], "readout Gemm weight")
            Bm = Bm.T if attr(nd, "transB", 0) else Bm
            if Bm.ndim != 2 or Bm.shape[0] != n:
                raise ValueError(f"node '{nd.name}': readout weight {Bm.shape}, not [{n}, p]")
            V = attr(nd, "alpha", 1.0) * Bm.T
            c = np.zeros(V.shape[0])
            if len(nd.input) > 2 and nd.input[2]:
                c = attr(nd, "beta", 1.0) * _bias(const(nd.input[2], "readout bias"), V.shape[0], nd)
        else:
            raise ValueError(f"node '{nd.name}' ({op}) after the RNN: the readout must be "
                             "linear (Gemm, or MatMul + Add) at every step")
        cur = nd.output[0]
    if V is None:
        raise ValueError(f"no linear readout (Gemm, or MatMul + Add) after {where}")
    for nd in g.node:
        if id(nd) not in allowed and not (nd.op_type == "Constant" and nd.output[0] in consts):
            raise ValueError(f"node '{nd.name}' ({nd.op_type}) is not part of the RNN or its "
                             "linear readout")
    theta = np.concatenate([R[0], W[0], (B[0, :n] + B[0, n:])[:, None]], axis=1)
    return Imported(theta, np.ascontiguousarray(V, dtype=np.float64), c.astype(np.float64))


def _bias(b: np.ndarray, p: int, nd) -> np.ndarray:
    if b.size not in (1, p) or (b.ndim and b.shape[-1] not in (1, p)):
        raise ValueError(f"node '{nd.name}': readout bias of shape {b.shape} does not fit {p} outputs")
    return np.broadcast_to(b.reshape(-1), (p,)).astype(np.float64)


def _layout(nd, rank, feat, n, consts, attr, mark):
    """Rank and feature axis after a layout node; ValueError if it moves h's axis wrongly."""
    op = nd.op_type
    if op == "Identity":
        return rank, feat
    if op == "Transpose":
        perm = list(attr(nd, "perm", list(range(rank))[::-1]))
        return rank, perm.index(feat)
    if op in ("Squeeze", "Unsqueeze"):
        axes = attr(nd, "axes")
        if axes is None and len(nd.input) > 1 and nd.input[1] in consts:
            mark(nd.input[1])
            axes = consts[nd.input[1]].tolist()
        if axes is None:
            raise ValueError(f"node '{nd.name}' ({op}) without constant axes is not supported")
        axes = [int(a) for a in np.atleast_1d(axes)]
        if op == "Squeeze":
            axes = [a % rank for a in axes]
            if feat in axes:
                raise ValueError(f"node '{nd.name}' squeezes away the hidden axis")
            return rank - len(axes), feat - sum(a < feat for a in axes)
        new = rank + len(axes)
        axes = sorted(a % new for a in axes)
        for a in axes:
            feat += a <= feat
        return new, feat
    shape = consts.get(nd.input[1]) if len(nd.input) > 1 else None
    if shape is None or feat != rank - 1 or int(np.asarray(shape).ravel()[-1]) != n:
        raise ValueError(f"node '{nd.name}' (Reshape) must keep the {n} hidden units as the last axis")
    mark(nd.input[1])
    return int(np.asarray(shape).size), int(np.asarray(shape).size) - 1


def _check_zero_start(name, consts, producer, allowed, where) -> None:
    """initial_h must be a zero constant, or Expand/ConstantOfShape of zero (its shape
    computation is then allowed)."""
    if name in consts:
        zero = not np.any(consts[name])
    else:
        nd = producer.get(name)
        if nd is not None and nd.op_type == "Expand" and nd.input[0] in consts:
            zero = not np.any(consts[nd.input[0]])
        elif nd is not None and nd.op_type == "ConstantOfShape":
            zero = all(not np.any(a.t.float_data) and not np.any(a.t.raw_data)
                       for a in nd.attribute)
        else:
            zero = False
        if zero:
            stack = [nd]
            while stack:
                cur = stack.pop()
                allowed.add(id(cur))
                stack += [producer[i] for i in cur.input if i in producer]
    if not zero:
        raise ValueError(f"{where}: initial_h ({name!r}) must be absent or zero "
                         "(the core starts from h = 0)")
