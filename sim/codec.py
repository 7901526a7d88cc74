"""Bits in, bits out: the core's stream payloads (samples in, results out), from the Config.

The layouts come from :func:`rtrledit.hdl.core.sample_layout` and
:func:`~rtrledit.hdl.core.result_layout`, so a testbench packs exactly what the HDL
expects without restating a width.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.lib import data

from ..hdl.core import result_layout, sample_layout
from ..hdl.regmap import to_signed
from ..model.config import Config

__all__ = ["Codec"]


def _pack_array(field: data.Field, values: Sequence[int]) -> int:
    layout = field.shape
    w = data.Layout.cast(layout).elem_shape.width
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & ((1 << w) - 1)) << (field.offset + i * w)
    return out


def _unpack_array(field: data.Field, word: int) -> list[int]:
    layout = data.Layout.cast(field.shape)
    w = layout.elem_shape.width
    return [to_signed(word >> (field.offset + i * w), w) for i in range(layout.length)]


class Codec:
    """Pack samples into, and unpack results from, the core's stream payload words."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sample = sample_layout(cfg)
        self.result = result_layout(cfg)

    def pack_sample(self, x: Sequence[int], d: Sequence[int]) -> int:
        """x (m integers of format X) and d (p integers of format Y) as one payload word."""
        return _pack_array(self.sample["x"], x) | _pack_array(self.sample["d"], d)

    def unpack_result(self, word: int) -> tuple[list[int], int]:
        """A result payload word as (y, flags)."""
        f = self.result["flags"]
        return (_unpack_array(self.result["y"], word),
                (word >> f.offset) & ((1 << f.shape.width) - 1))
