"""A simulation job: what a testbench run does, saved to a file the simulator process reads.

The cocotb test module runs inside the simulator's Python; it learns what to do from a
:class:`Job` written by :func:`~rtrledit.sim.runner.simulate` and writes its report back
as JSON (and, on request, the outputs and final parameters as .npz).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model.config import Config

__all__ = ["Job", "Segment"]


@dataclass(frozen=True)
class Segment:
    """``steps`` samples run with the given mode; before them, optionally, new learning
    rates, a reset (``"sens"``: S to 0, ``"state"``: h and S to 0) and a clear of the
    saturation counters (``clear_sat``)."""

    steps: int
    learn: bool = True
    track: bool = True
    eta: int | None = None
    eta_o: int | None = None
    reset: str | None = None
    clear_sat: bool = False


@dataclass
class Job:
    cfg: Config
    lanes: int
    theta: np.ndarray
    V: np.ndarray
    c: np.ndarray
    xs: np.ndarray
    ds: np.ndarray
    segments: list[Segment] = field(default_factory=list)
    check_bus: bool = False
    spram: bool | None = None       # single-port S banks (None: the engine's default)

    def __post_init__(self) -> None:
        if not self.segments:
            self.segments = [Segment(len(self.xs))]
        total = sum(s.steps for s in self.segments)
        if total != len(self.xs) or len(self.xs) != len(self.ds):
            raise ValueError(f"job: segments cover {total} steps, the stream has {len(self.xs)}")

    def save(self, path: str | Path) -> None:
        meta = {"cfg": self.cfg.to_dict(), "lanes": self.lanes, "check_bus": self.check_bus,
                "spram": self.spram,
                "segments": [s.__dict__ for s in self.segments]}
        np.savez(path, meta=np.array(json.dumps(meta)), theta=self.theta, V=self.V, c=self.c,
                 xs=self.xs, ds=self.ds)

    @classmethod
    def load(cls, path: str | Path) -> "Job":
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            arr = {k: z[k] for k in ("theta", "V", "c", "xs", "ds")}
        return cls(Config.from_dict(meta["cfg"]), meta["lanes"], segments=[
            Segment(**s) for s in meta["segments"]], check_bus=meta["check_bus"],
            spram=meta.get("spram"), **arr)
