"""Golden models of RTRL (docs/design.md §2, §3).

- :class:`Config` — the single source of truth: sizes, formats, rounding, learning rates;
- :class:`FloatRTRL` — the float64 reference (exact RTRL and SnAp-1), :func:`bptt_gradient`;
- :class:`FixedRTRL` — the bit-exact integer model, the hardware's specification;
- :mod:`rtrledit.model.tasks` — task streams; :mod:`rtrledit.model.checkpoint` — .npz files.
"""

from . import tasks
from .bptt import bptt_gradient, sequence_loss
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import SAT_NAMES, Config, Formats, QFormat
from .fixed import FixedRTRL, FixedRun
from .reference import FloatRTRL, FloatRun, init_params
from .requant import dequantise, quantise

__all__ = ["Config", "Formats", "QFormat", "SAT_NAMES", "FloatRTRL", "FloatRun", "init_params",
           "bptt_gradient", "sequence_loss", "FixedRTRL", "FixedRun", "quantise", "dequantise",
           "Checkpoint", "save_checkpoint", "load_checkpoint", "tasks"]
