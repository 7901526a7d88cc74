"""A simulation job: what a testbench run does, saved to a file the simulator process reads.

The cocotb test module runs inside the simulator's Python; it learns what to do from a
:class:`Job` written by :func:`~rtrledit.sim.runner.simulate` and writes its report back
as JSON (and, on request, the outputs and final parameters as .npz).

A job also carries its :class:`Stalls`: the random valid gaps on the sample stream and the
ready-low runs on the result stream, drawn from a seed, so a failing job replays with the
same stalls on every simulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..model.config import Config

__all__ = ["Job", "Segment", "StallGenerators", "Stalls"]


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


@dataclass(frozen=True)
class Stalls:
    """Random stalls on the core's streams, as cocotbext-axi's idle and back-pressure
    generators make them, but one draw per transfer instead of one per clock cycle (a
    Python call per cycle would cost most of the simulation's speed).

    * idle: before sample t, with probability ``idle``, ``valid`` stays low for 1 to
      ``idle_max`` cycles after the core is ready for it (the core waits idle);
      otherwise the sample is offered at once (``valid`` high while the core is busy).
    * back-pressure: for result t, with probability ``backpressure``, ``ready`` is low
      from the previous handshake until 1 to ``backpressure_max`` cycles after ``valid``
      rose (the core must hold the result, and the next sample waits); otherwise
      ``ready`` is high before ``valid`` rises.

    Both sequences come from ``seed`` one transfer at a time, so transfer t gets the same
    stall whatever the job's length and whichever simulator runs it. ``Stalls()`` stalls
    nothing.
    """

    seed: int = 0
    idle: float = 0.0
    idle_max: int = 8
    backpressure: float = 0.0
    backpressure_max: int = 8

    def __post_init__(self) -> None:
        for p, top in ((self.idle, self.idle_max), (self.backpressure, self.backpressure_max)):
            if not 0.0 <= p <= 1.0 or top < 1:
                raise ValueError(f"stalls: probability {p} not in [0, 1] or longest run {top} < 1")

    @property
    def any(self) -> bool:
        return self.idle > 0 or self.backpressure > 0

    def _runs(self, stream: int, p: float, top: int) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, stream])
        while True:
            yield int(rng.integers(1, top + 1)) if p and rng.random() < p else 0

    def idle_generator(self) -> Iterator[int]:
        """Cycles of ``valid`` low before each sample (0: none), endless."""
        return self._runs(0, self.idle, self.idle_max)

    def backpressure_generator(self) -> Iterator[int]:
        """Cycles of ``ready`` low after each result's ``valid`` rises (0: ready high), endless."""
        return self._runs(1, self.backpressure, self.backpressure_max)

    def apply(self, driver: StallGenerators) -> None:
        """Give ``driver`` fresh generators for these stalls (None for a stream that has none)."""
        driver.set_idle_generator(self.idle_generator() if self.idle else None)
        driver.set_backpressure_generator(
            self.backpressure_generator() if self.backpressure else None)


class StallGenerators:
    """The stall generators of a stream driver, set with cocotbext-axi's method names;
    what a run of stall cycles means is the driver's to say. A stream without a
    generator does not stall. Stream-protocol violations seen while stalling go to
    :attr:`protocol_errors`."""

    _idle: Iterator[int] | None = None
    _backpressure: Iterator[int] | None = None

    def set_idle_generator(self, generator: Iterator[int] | None) -> None:
        """Cycles of ``valid`` low before each transfer sent (see
        :meth:`Stalls.idle_generator`); None: no gaps."""
        self._idle = generator

    def set_backpressure_generator(self, generator: Iterator[int] | None) -> None:
        """Cycles of ``ready`` low for each transfer received (see
        :meth:`Stalls.backpressure_generator`); None: ready high."""
        self._backpressure = generator

    @staticmethod
    def draw(generator: Iterator[int] | None) -> int:
        """The next run length of ``generator`` (0 without one)."""
        return next(generator) if generator is not None else 0


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
    stalls: Stalls = field(default_factory=Stalls)

    def __post_init__(self) -> None:
        if not self.segments:
            self.segments = [Segment(len(self.xs))]
        total = sum(s.steps for s in self.segments)
        if total != len(self.xs) or len(self.xs) != len(self.ds):
            raise ValueError(f"job: segments cover {total} steps, the stream has {len(self.xs)}")

    def save(self, path: str | Path) -> None:
        meta = {"cfg": self.cfg.to_dict(), "lanes": self.lanes, "check_bus": self.check_bus,
                "spram": self.spram, "stalls": asdict(self.stalls),
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
            spram=meta.get("spram"), stalls=Stalls(**meta.get("stalls", {})), **arr)
