"""Register-level access to the core, independent of the simulator (or board).

:class:`CoreAccess` moves the words of the host register model
(:class:`~rtrledit.firmware.regmodel.RegisterModel`: registers, windows, parameters, the
whole state) over two primitives a subclass provides: ``read(addr) -> int`` (the unsigned
32-bit word) and ``write(addr, value)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..firmware.regmodel import RegisterModel
from ..hdl.core import BUS_LATENCY
from ..model.config import Config
from .codec import Codec

__all__ = ["CoreAccess", "ACK_TIMEOUT"]

#: Cycles a bus driver waits after the strobe for ``ack`` before it reports "no ack" (the
#: core answers in :data:`~rtrledit.hdl.core.BUS_LATENCY`; a host must not count on it).
ACK_TIMEOUT = 4 * BUS_LATENCY


class CoreAccess:
    """Named access to a core's registers and windows through ``read``/``write``."""

    def __init__(self, cfg: Config, lanes: int) -> None:
        self.cfg = cfg
        self.regs = RegisterModel(cfg, lanes)
        self.regmap = self.regs.map
        self.codec = Codec(cfg)

    async def read(self, addr: int) -> int:
        """The unsigned 32-bit word at ``addr``."""
        raise NotImplementedError

    async def write(self, addr: int, value: int) -> None:
        raise NotImplementedError

    async def reg(self, name: str) -> int:
        return await self.read(self.regmap[name].addr)

    async def set_reg(self, name: str, value: int) -> None:
        await self.write(self.regmap[name].addr, value)

    async def read_words(self, addr: int, count: int) -> list[int]:
        return [await self.read(addr + i) for i in range(count)]

    async def write_words(self, addr: int, values: Sequence[int]) -> None:
        for i, v in enumerate(values):
            await self.write(addr + i, int(v))

    async def set_mode(self, learn: bool, track: bool) -> None:
        await self.set_reg("CTRL", self.regs.mode(learn, track))

    # ---------------------------------------------------------------- parameters and state
    async def load_params(self, theta, V, c) -> None:
        for run in self.regs.params(theta, V, c):
            await self.write_words(run.addr, run.values)

    async def read_params(self) -> dict[str, np.ndarray]:
        return self.regs.decode_params([await self.read_words(s.addr, s.count)
                                        for s in self.regs.param_spans()])

    def s_addresses(self) -> list[int]:
        """Window indices of S, in the model's (row-major) order of S."""
        base = self.regmap["S"].base
        return [s.addr - base + i for s in self.regs.s_spans() for i in range(s.count)]

    async def read_state(self) -> dict:
        """Everything the scoreboard can compare at the end of a run."""
        return self.regs.decode_state([await self.read_words(s.addr, s.count)
                                       for s in self.regs.state_spans()])
