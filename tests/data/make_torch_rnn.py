"""Make tests/data/torch_rnn_n4.onnx and torch_rnn_n4.npz with real PyTorch (torch 2.15, CPU).

nn.RNN(1, 4, batch_first=True) + nn.Linear(4, 1), seeded, exported by the TorchScript
exporter (dynamo=False: the dynamo exporter unrolls the RNN into per-step MatMul/Tanh
nodes, which rtrledit refuses). The .npz holds a fixed input x (1, 10, 1) and torch's own
output y for it. Run: python tests/data/make_torch_rnn.py (in a venv with torch, onnx).
"""

from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(1, 4, batch_first=True)
        self.fc = torch.nn.Linear(4, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out)


torch.manual_seed(0)
net = Net().eval()
x = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (1, 10, 1)).astype(np.float32))
torch.onnx.export(net, (x,), str(HERE / "torch_rnn_n4.onnx"), dynamo=False,
                  input_names=["x"], output_names=["y"])
with torch.no_grad():
    np.savez(HERE / "torch_rnn_n4.npz", x=x.numpy(), y=net(x).numpy())
