"""What a host reads and writes to use the core, with no I/O: the words of the modes,
learning rates and pulses, and the word runs that load and read back the parameters and
the whole state, all from the register map (:mod:`rtrledit.hdl.regmap`).

One model for every host: the Python driver (:class:`~.host.Device`, frames), the
simulators' access layer (:class:`~rtrledit.sim.access.CoreAccess`, bus words) and the
board tests. Each moves the words its own way::

    rm = RegisterModel(cfg)
    for run in rm.params(theta, V, c):            # runs of words to write
        write_words(run.addr, run.values)
    st = rm.decode_state([read_words(s.addr, s.count) for s in rm.state_spans()])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..hdl.regmap import DATA_WIDTH, register_map, s_index_bits, to_signed, unpack
from ..model.config import SAT_NAMES, Config

__all__ = ["RegisterModel", "Words", "Span"]

_MASK = (1 << DATA_WIDTH) - 1


@dataclass(frozen=True)
class Words:
    """Words to write at ``addr``, ``addr + 1``, …"""

    addr: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class Span:
    """``count`` words to read from ``addr`` on."""

    addr: int
    count: int


class RegisterModel:
    """The host's view of a core built from ``cfg`` (``lanes``: see
    :func:`~rtrledit.hdl.regmap.register_map`)."""

    def __init__(self, cfg: Config, lanes: int | None = None) -> None:
        self.cfg = cfg
        self.map = register_map(cfg, lanes)
        self._sat = [self.map[f"SAT_{s.upper()}"].addr for s in SAT_NAMES]
        if self._sat != list(range(self._sat[0], self._sat[0] + len(SAT_NAMES))):
            raise AssertionError("the saturation counters are not one run of registers")

    # ---------------------------------------------------------------- register words
    def mode(self, learn: bool, track: bool | None = None, pulses: Sequence[str] = ()) -> int:
        """The CTRL word: LEARN, TRACK (follows LEARN when None) and pulses by name
        ("reset_state", "reset_sens", "clear_sat", "clear_err")."""
        track = learn if track is None else track
        return self.map["CTRL"].pack(learn=bool(learn), track=bool(track),
                                     **{p: 1 for p in pulses})

    def learning(self, ctrl: int) -> tuple[bool, bool]:
        """(LEARN, TRACK) of a CTRL word."""
        f = unpack("CTRL", ctrl)
        return bool(f["learn"]), bool(f["track"])

    def learning_rates(self, eta: int, eta_o: int) -> int:
        """The ETA word of the shifts (rates 2^-eta, 2^-eta_o); ValueError when one does
        not fit its field."""
        return self.map["ETA"].pack(eta=eta, eta_o=eta_o)

    @staticmethod
    def busy(status: int) -> bool:
        return bool(unpack("STATUS", status)["busy"])

    @staticmethod
    def error(status: int) -> bool:
        return bool(unpack("STATUS", status)["err"])

    def check_shape(self, word: int) -> None:
        """ValueError unless a SHAPE word is that of this Config (every field)."""
        want = self.map["SHAPE"].value
        if int(word) != want:
            got, exp = unpack("SHAPE", word), unpack("SHAPE", want)
            diff = "".join(f", {k} = {got[k]} (the config: {exp[k]})"
                           for k in exp if got[k] != exp[k])
            raise ValueError(f"the device was built for another network: SHAPE reads "
                             f"0x{int(word):08X}, the config's is 0x{want:08X}{diff}")

    # ---------------------------------------------------------------- writes
    def window(self, name: str, values, start: int = 0) -> Words:
        """Words of window ``name`` from index ``start``, checked against its size and
        number format."""
        w = self.map[name]
        values = np.asarray(values, np.int64).ravel()
        if start < 0 or start + len(values) > w.size:
            raise ValueError(f"window {name}: {len(values)} words from {start} do not fit "
                             f"its {w.size}")
        lo, hi = -(1 << (w.fmt[0] - 1)), (1 << (w.fmt[0] - 1)) - 1
        if len(values) and (values.min() < lo or values.max() > hi):
            raise ValueError(f"window {name}: values outside Q{w.fmt} ({lo}..{hi})")
        return Words(w.base + start, tuple(int(v) for v in values))

    def params(self, theta, V, c) -> list[Words]:
        """Θ (n, q) in format P, V (p, n) and c (p,) in format O."""
        cfg = self.cfg
        theta = np.asarray(theta).reshape(cfg.n, cfg.q)
        return [self.window("W", theta[:, :cfg.n]), self.window("U", theta[:, cfg.n:]),
                self.window("V", np.asarray(V).reshape(cfg.p, cfg.n)),
                self.window("C", np.asarray(c).reshape(cfg.p))]

    def state(self, st: dict) -> list[Words]:
        """The parameters, and h, S and the LFSR when ``st`` has them (counters stay)."""
        out = self.params(st["theta"], st["V"], st["c"])
        if "h" in st:
            out.append(self.window("H", st["h"]))
            S = np.asarray(st["S"]).ravel()
            o = 0
            for s in self.s_spans():
                out.append(self.window("S", S[o:o + s.count], s.addr - self.map["S"].base))
                o += s.count
        if int(st.get("lfsr", 0)):
            out.append(Words(self.map["LFSR"].addr, (int(st["lfsr"]),)))
        return out

    # ---------------------------------------------------------------- reads
    def s_spans(self) -> list[Span]:
        """Where S lies, in the model's (row-major) order: one run of n·q words per k
        (exact), or one run (SnAp-1)."""
        cfg = self.cfg
        base, nq = self.map["S"].base, cfg.n * cfg.q
        if cfg.approx == "snap1":
            return [Span(base, nq)]
        _, cbits = s_index_bits(cfg)
        return [Span(base + (k << cbits), nq) for k in range(cfg.n)]

    def sat_span(self) -> Span:
        """The saturation counters (one run of registers, in SAT_NAMES order)."""
        return Span(self._sat[0], len(SAT_NAMES))

    def decode_sat(self, words: Sequence[int]) -> dict[str, int]:
        """The counters read at :meth:`sat_span`, by name."""
        return {s: int(v) & _MASK for s, v in zip(SAT_NAMES, words, strict=True)}

    def param_spans(self) -> list[Span]:
        return [Span(w.base, w.size) for w in (self.map[n] for n in ("W", "U", "V", "C"))]

    def state_spans(self) -> list[Span]:
        """Parameters, h, S, then the LFSR, STEPS and the saturation counters."""
        return (self.param_spans() + [Span(self.map["H"].base, self.map["H"].size)]
                + self.s_spans() + [Span(self.map["LFSR"].addr, 1),
                                    Span(self.map["STEPS"].addr, 1), self.sat_span()])

    def decode_params(self, words: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
        """The words read at :meth:`param_spans`, as theta, V, c."""
        return self._params(iter(words))

    def _params(self, runs: Iterator[Sequence[int]]) -> dict[str, np.ndarray]:
        cfg = self.cfg
        n, m, p = cfg.n, cfg.m, cfg.p

        def win(shape):
            return np.array([to_signed(v) for v in next(runs)], np.int64).reshape(shape)

        W, U = win((n, n)), win((n, m + 1))
        return {"theta": np.concatenate([W, U], axis=1), "V": win((p, n)), "c": win((p,))}

    def decode_state(self, words: Sequence[Sequence[int]]) -> dict:
        """The words read at :meth:`state_spans`: theta, V, c, h, S (integers), lfsr,
        steps (unsigned) and sat (the counters, by name)."""
        runs = iter(words)
        st = self._params(runs)
        st["h"] = np.array([to_signed(v) for v in next(runs)], np.int64)
        S = [to_signed(v) for _ in self.s_spans() for v in next(runs)]
        st["S"] = np.array(S, np.int64).reshape(self.cfg.s_shape)
        st["lfsr"], st["steps"] = (int(next(runs)[0]) & _MASK for _ in range(2))
        st["sat"] = self.decode_sat(next(runs))
        return st
