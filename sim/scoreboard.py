"""The scoreboard: the integer model run alongside a design under test, word by word.

:class:`Scoreboard` owns a :class:`~rtrledit.model.FixedRTRL` with the same Config and
initial parameters as the hardware. Feed it each sample as the design accepts it
(:meth:`Scoreboard.expect`), hand it each result the design produces
(:meth:`Scoreboard.check_result`), and at the end the state read back from the design
(:meth:`Scoreboard.check_state`), which also checks that every accepted sample gave
exactly one result: results are matched to samples in acceptance order, so a lost
result, a duplicated one or two swapped ones each leave a mismatch. Every difference is recorded as a :class:`Mismatch`
that names the step, the quantity and the index. Nothing here depends on the simulator:
the same scoreboard checks Amaranth-simulator runs, cocotb runs and board runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..model.config import SAT_NAMES, Config
from ..model.fixed import FixedRTRL

__all__ = ["Mismatch", "Scoreboard", "protocol_checked"]


@dataclass(frozen=True)
class Mismatch:
    """One word that differs. ``step`` is the 0-based time step (None for final state)."""

    step: int | None
    quantity: str
    index: tuple[int, ...]
    expected: int
    got: int

    def __str__(self) -> str:
        where = "final state" if self.step is None else f"step {self.step}"
        return (f"{where}: {self.quantity}{list(self.index)} expected {self.expected}, "
                f"got {self.got}")

    def to_dict(self) -> dict:
        return {"step": self.step, "quantity": self.quantity, "index": list(self.index),
                "expected": self.expected, "got": self.got}


class Scoreboard:
    """The integer model as the reference for a design under test.

    Parameters
    ----------
    cfg : Config
    theta, V, c : integer arrays
        The initial parameters loaded into the design.
    """

    def __init__(self, cfg: Config, theta, V, c) -> None:
        self.model = FixedRTRL(cfg, theta, V, c)
        FixedRTRL(cfg, theta, V, c).run(np.zeros((1, cfg.m), np.int64),
                                        np.zeros((1, cfg.p), np.int64))  # compile/load now
        self.mismatches: list[Mismatch] = []
        self.pending: deque[tuple[int, np.ndarray, int]] = deque()
        self.step = 0
        self.results = 0

    @property
    def cfg(self) -> Config:
        return self.model.cfg

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def first_mismatch(self) -> Mismatch | None:
        return self.mismatches[0] if self.mismatches else None

    def set_learning_rates(self, eta: int, eta_o: int) -> None:
        """Mirror a write of the design's learning-rate register."""
        state = self.model.state()
        self.model = FixedRTRL(self.cfg.replace(eta=eta, eta_o=eta_o), state["theta"],
                               state["V"], state["c"])
        self.model.load_state(state)

    def reset_state(self, h: bool = True) -> None:
        """Mirror a reset of S (and of h when ``h``)."""
        self.model.S[...] = 0
        if h:
            self.model.h[...] = 0

    def clear_saturation(self) -> None:
        """Mirror CTRL.CLEAR_SAT (the step counter is not cleared)."""
        self.model.sat[...] = 0

    def expect(self, x, d, learn: bool, track: bool) -> tuple[np.ndarray, int]:
        """Run the model on the sample the design just accepted; queue and return (y, flags)."""
        r = self.model.run(np.asarray(x, np.int64).reshape(1, -1),
                           np.asarray(d, np.int64).reshape(1, -1),
                           learn=learn, track=track or learn)
        self.pending.append((self.step, r.y[0], int(r.flags[0])))
        self.step += 1
        return r.y[0], int(r.flags[0])

    def check_result(self, y, flags: int) -> bool:
        """Compare the design's next result with the oldest expectation (a result with no
        accepted sample left to answer is a mismatch: ``result (unexpected)``)."""
        if not self.pending:
            self.mismatches.append(Mismatch(self.results, "result (unexpected)", (), 0, 1))
            self.results += 1
            return False
        step, ey, ef = self.pending.popleft()
        self.results += 1
        ok = True
        for o, (a, b) in enumerate(zip(ey, y)):
            if int(a) != int(b):
                self.mismatches.append(Mismatch(step, "y", (o,), int(a), int(b)))
                ok = False
        for i, name in enumerate(SAT_NAMES):
            a, b = (ef >> i) & 1, (int(flags) >> i) & 1
            if a != b:
                self.mismatches.append(Mismatch(step, f"flags.{name}", (), a, b))
                ok = False
        return ok

    def check_complete(self) -> bool:
        """Every accepted sample has had its result: each one still waiting is a
        ``result (missing)`` mismatch (expected 1 result, got 0)."""
        for step, _, _ in self.pending:
            self.mismatches.append(Mismatch(step, "result (missing)", (), 1, 0))
        missing = bool(self.pending)
        self.pending.clear()
        return not missing

    def check_state(self, got: dict) -> bool:
        """At the end of a run: :meth:`check_complete`, then compare the state read back
        from the design: any of theta, V, c, h, S (arrays), sat (counts by name), lfsr,
        steps. Returns True when all results came and all given words agree."""
        m, before = self.model, len(self.mismatches)
        self.check_complete()
        expected = {"theta": m.theta, "V": m.V, "c": m.c, "h": m.h, "S": m.S}
        for name, exp in expected.items():
            if name in got:
                g = np.asarray(got[name], np.int64).reshape(exp.shape)
                for idx in zip(*np.nonzero(g != exp)):
                    self.mismatches.append(Mismatch(None, name, tuple(int(i) for i in idx),
                                                    int(exp[idx]), int(g[idx])))
        if "sat" in got:
            for i, name in enumerate(SAT_NAMES):
                if int(got["sat"][name]) != int(m.sat[i]) & 0xFFFFFFFF:
                    self.mismatches.append(Mismatch(None, f"sat.{name}", (), int(m.sat[i]),
                                                    int(got["sat"][name])))
        for name, exp in (("lfsr", m.lfsr), ("steps", m.steps & 0xFFFFFFFF)):
            if name in got and int(got[name]) != exp:
                self.mismatches.append(Mismatch(None, name, (), exp, int(got[name])))
        return len(self.mismatches) == before


def protocol_checked(result: tuple[dict, dict], errors: list[str]) -> tuple[dict, dict]:
    """:func:`~rtrledit.sim.execute.execute`'s (report, dump) with a driver's
    stream-protocol errors (a result that changed or dropped while held back) added: any
    makes the run not bit-exact. Sets ``report["protocol_errors"]`` (their count)."""
    report, dump = result
    if errors:
        report["bitexact"] = False
        report["mismatches"] += len(errors)
        report["mismatch_list"] = (report["mismatch_list"] + errors)[:20]
    report["protocol_errors"] = len(errors)
    return report, dump
