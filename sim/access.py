"""Register-level access to the core, independent of the simulator (or board).

:class:`CoreAccess` turns the register map into named operations — registers, windows,
parameters, the whole state — on top of two primitives a subclass provides:
``read(addr) -> int`` (the unsigned 32-bit word) and ``write(addr, value)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..hdl.regmap import CTRL, register_map, s_index_bits
from ..model.config import SAT_NAMES, Config
from .codec import Codec, to_signed

__all__ = ["CoreAccess"]


class CoreAccess:
    """Named access to a core's registers and windows through ``read``/``write``."""

    def __init__(self, cfg: Config, lanes: int) -> None:
        self.cfg = cfg
        self.regmap = register_map(cfg, lanes)
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

    async def write_window(self, name: str, values: Sequence[int]) -> None:
        base = self.regmap[name].base
        for i, v in enumerate(values):
            await self.write(base + i, int(v))

    async def read_window(self, name: str, count: int | None = None,
                          indices: Sequence[int] | None = None) -> list[int]:
        """Signed words of a window (all of it, or ``indices``)."""
        w = self.regmap[name]
        idx = range(count if count is not None else w.size) if indices is None else indices
        return [to_signed(await self.read(w.base + i), 32) for i in idx]

    async def set_mode(self, learn: bool, track: bool) -> None:
        await self.set_reg("CTRL", (learn << CTRL["LEARN"][0]) | (track << CTRL["TRACK"][0]))

    # ---------------------------------------------------------------- parameters and state
    async def load_params(self, theta, V, c) -> None:
        n = self.cfg.n
        theta = np.asarray(theta)
        await self.write_window("W", theta[:, :n].ravel())
        await self.write_window("U", theta[:, n:].ravel())
        await self.write_window("V", np.asarray(V).ravel())
        await self.write_window("C", np.asarray(c).ravel())

    async def read_params(self) -> dict[str, np.ndarray]:
        cfg = self.cfg
        n, m, p = cfg.n, cfg.m, cfg.p
        W = np.array(await self.read_window("W")).reshape(n, n)
        U = np.array(await self.read_window("U")).reshape(n, m + 1)
        return {"theta": np.concatenate([W, U], axis=1),
                "V": np.array(await self.read_window("V")).reshape(p, n),
                "c": np.array(await self.read_window("C"))}

    def s_addresses(self) -> list[int]:
        """Window indices of S, in the model's (row-major) order of S."""
        cfg = self.cfg
        nq = cfg.n * cfg.q
        if cfg.approx == "snap1":
            return list(range(nq))
        _, cbits = s_index_bits(cfg)
        return [(k << cbits) + col for k in range(cfg.n) for col in range(nq)]

    async def read_state(self) -> dict:
        """Everything the scoreboard can compare at the end of a run."""
        cfg = self.cfg
        st = await self.read_params()
        st["h"] = np.array(await self.read_window("H"))
        st["S"] = np.array(await self.read_window("S", indices=self.s_addresses())
                           ).reshape(cfg.s_shape)
        st["sat"] = {name: await self.reg(f"SAT_{name.upper()}") for name in SAT_NAMES}
        st["lfsr"] = await self.reg("LFSR")
        st["steps"] = await self.reg("STEPS")
        return st

