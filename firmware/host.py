"""The host driver: every command of the board's frame protocol
(:mod:`rtrledit.boards.protocol`) as a Python API, over any byte transport
(:mod:`.transport`: a serial port or the simulated device).

>>> from rtrledit.firmware import Device, SimTransport
>>> from rtrledit.model import Config
>>> cfg = Config(hidden=4)
>>> with Device(SimTransport(cfg), cfg) as dev:                    # doctest: +SKIP
...     dev.load_params(**init)            # integers (formats P, O) or load_float_params
...     ys = dev.run(xs, ds).y             # floats in, floats out, learning on
...     ckpt = dev.checkpoint()            # parameters and state, as a Checkpoint

Three layers: frames and retries (:class:`~.frames.FrameLink`, over the transport), what
the registers mean (:class:`~.regmodel.RegisterModel`, no I/O), and this class, which
joins them:

- frames and registers: :meth:`Device.info`, :meth:`~Device.read_reg`,
  :meth:`~Device.write_reg`, :meth:`~Device.read_words`, :meth:`~Device.write_words`,
  :meth:`~Device.push`, :meth:`~Device.read_out` (integers, as on the wire);
- the network: :meth:`~Device.run` (floats, converted with the Config's formats X, Y),
  :meth:`~Device.set_learning`, :meth:`~Device.load_params`, :meth:`~Device.read_params`,
  :meth:`~Device.read_state`, :meth:`~Device.saturation`, :meth:`~Device.checkpoint`.

Errors are those of :mod:`.frames`: :class:`~.frames.DeviceTimeout`,
:class:`~.frames.FrameError`, :class:`~.frames.DeviceError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..boards import protocol as P
from ..boards.protocol import Cmd, ProtocolError
from ..hdl.regmap import ID_MAGIC
from ..model.checkpoint import Checkpoint
from ..model.config import SAT_NAMES, Config
from ..model.requant import dequantise, quantise
from .frames import DeviceError, DeviceTimeout, FrameError, FrameLink, uninterrupted
from .regmodel import RegisterModel

__all__ = ["Device", "DeviceInfo", "RunResult"]


@dataclass(frozen=True)
class DeviceInfo:
    """The INFO response (:data:`~rtrledit.boards.protocol.INFO_FIELDS`)."""

    version: int
    sample_bytes: int
    result_bytes: int
    fifo_depth: int
    max_payload: int


@dataclass
class RunResult:
    """Outputs of :meth:`Device.run`: ``y`` (T, p) floats, ``y_int`` (T, p) integers of
    format Y, ``flags`` (T,) saturation flags per step (bit i = SAT_NAMES[i])."""

    y: np.ndarray
    y_int: np.ndarray
    flags: np.ndarray


class Device:
    """A learning core behind a frame bridge, reached through ``transport``.

    Parameters
    ----------
    transport : Transport
    cfg : Config
        The configuration the device was built with (it sets the sample and result
        layout and the fixed-point formats). Checked against the device's ID, SHAPE and
        INFO registers unless ``check=False``.
    timeout : float, optional
        Seconds a response may take (default: the transport's ``default_timeout``).
    retries : int
        Extra attempts of an idempotent request after a transmission error.
    """

    def __init__(self, transport, cfg: Config, timeout: float | None = None,
                 retries: int = 2, check: bool = True) -> None:
        self.transport, self.cfg = transport, cfg
        self.timeout = transport.default_timeout if timeout is None else timeout
        self.link = FrameLink(transport, self.timeout, retries)
        self.regs = RegisterModel(cfg)
        self.regmap = self.regs.map
        self.layout = P.Layout.from_config(cfg)
        self._pending = 0                # samples pushed whose results were not read yet
        if check:
            self.check()

    # ------------------------------------------------------------------ context manager
    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ commands
    def request(self, cmd: int, payload: bytes = b"") -> bytes:
        """One request; the payload of its OK response (:meth:`.FrameLink.exchange`)."""
        return self.link.exchange(P.encode_request(cmd, payload))

    def info(self) -> DeviceInfo:
        pl = self.request(Cmd.INFO)
        if len(pl) != len(P.INFO_FIELDS):
            raise FrameError(f"INFO answered with {len(pl)} bytes, expected {len(P.INFO_FIELDS)}")
        return DeviceInfo(**dict(zip(P.INFO_FIELDS, pl)))

    def _addr(self, reg) -> int:
        return self.regmap[reg].addr if isinstance(reg, str) else int(reg)

    def read_reg(self, reg: str | int) -> int:
        """The unsigned 32-bit value of a register (name or address)."""
        pl = self.link.exchange(P.req_read_reg(self._addr(reg)))
        if len(pl) != P.WORD_BYTES:
            raise FrameError(f"READ_REG answered with {len(pl)} bytes, expected {P.WORD_BYTES}")
        return int.from_bytes(pl, "little")

    def write_reg(self, reg: str | int, value: int) -> None:
        self.link.exchange(P.req_write_reg(self._addr(reg), int(value)))

    def read_words(self, addr: int, count: int) -> np.ndarray:
        """``count`` signed 32-bit words from ``addr`` on (READ_WIN frames of ≤ 63)."""
        out = []
        for k in range(0, count, P.MAX_WORDS):
            c = min(P.MAX_WORDS, count - k)
            pl = self.link.exchange(P.req_read_win(addr + k, c))
            if len(pl) != P.WORD_BYTES * c:
                raise FrameError(f"READ_WIN of {c} words answered with {len(pl)} bytes")
            out += P.unpack_words(pl)
        return np.array(out, np.int64)

    def write_words(self, addr: int, values) -> None:
        values = [int(v) for v in np.asarray(values).ravel()]
        for k in range(0, len(values), P.MAX_WORDS):
            self.link.exchange(P.req_write_win(addr + k, values[k:k + P.MAX_WORDS]))

    def _write(self, runs) -> None:
        for run in runs:
            self.write_words(run.addr, run.values)

    def _read(self, spans) -> list[np.ndarray]:
        return [self.read_words(s.addr, s.count) for s in spans]

    def read_window(self, name: str, start: int = 0, count: int | None = None) -> np.ndarray:
        w = self.regmap[name]
        count = w.size - start if count is None else count
        if start < 0 or start + count > w.size:
            raise ValueError(f"window {name}: words {start}..{start + count - 1} outside 0..{w.size - 1}")
        return self.read_words(w.base + start, count)

    def write_window(self, name: str, values, start: int = 0) -> None:
        """Words of a window, checked against its size and format."""
        self._write([self.regs.window(name, values, start)])

    def push(self, xs, ds) -> None:
        """PUSH integer samples (format X) and targets (format Y), at most
        ``layout.max_push`` per frame."""
        xs, ds = np.asarray(xs).reshape(-1, self.cfg.m), np.asarray(ds).reshape(-1, self.cfg.p)
        if len(xs) != len(ds):
            raise ValueError(f"{len(xs)} samples but {len(ds)} targets")
        frame = P.req_push(self.layout, xs, ds)
        with uninterrupted():
            self.link.exchange(frame)
            self._pending += len(xs)

    def read_out(self, maximum: int | None = None) -> list[tuple[list[int], int]]:
        """Up to ``maximum`` results waiting on the device: (y integers, flags) each."""
        maximum = self.layout.max_out if maximum is None else maximum
        if not 1 <= maximum <= 255:
            raise ValueError(f"READ_OUT of {maximum} results outside 1..255")
        with uninterrupted():
            pl = self.link.exchange(P.req_read_out(maximum))
            try:
                res = self.layout.unpack_results(pl)
            except ProtocolError as e:
                raise FrameError(str(e)) from None
            if len(res) > maximum:
                raise FrameError(f"READ_OUT answered {len(res)} results, at most {maximum} "
                                 "asked")
            self._pending = max(0, self._pending - len(res))
            return res

    # ------------------------------------------------------------------ device checks
    def check(self) -> DeviceInfo:
        """The device is an rtrledit core built for this Config: ID, SHAPE, INFO; then
        wait until it is idle."""
        ident = self.read_reg("ID")
        if ident != ID_MAGIC:
            raise DeviceError(f"the device's ID register reads 0x{ident:08x}, not an rtrledit "
                              f"core (0x{ID_MAGIC:08x})")
        self.regs.check_shape(self.read_reg("SHAPE"))
        info = self.info()
        if (info.version, info.sample_bytes, info.result_bytes) != (
                P.PROTOCOL_VERSION, self.layout.sample_bytes, self.layout.result_bytes):
            raise ValueError(f"the device speaks protocol {info.version} with {info.sample_bytes}"
                             f"-byte samples and {info.result_bytes}-byte results; this config "
                             f"needs {P.PROTOCOL_VERSION}, {self.layout.sample_bytes}, "
                             f"{self.layout.result_bytes} (other number formats?)")
        self.layout = P.Layout.from_config(self.cfg, info.fifo_depth)
        self.lanes = self.read_reg("LANES")
        self.wait_idle()          # a core with S in SPRAM clears it after reset (BUSY)
        return info

    # ------------------------------------------------------------------ the network
    def set_learning(self, learn: bool, track: bool | None = None) -> None:
        """CTRL.LEARN (and TRACK, which follows LEARN by default): learning on or off."""
        self.write_reg("CTRL", self.regs.mode(learn, track))

    def learning(self) -> bool:
        return self.regs.learning(self.read_reg("CTRL"))[0]

    def _pulse(self, *names: str) -> None:
        self.write_reg("CTRL", self.regs.mode(*self.regs.learning(self.read_reg("CTRL")),
                                              pulses=names))
        self.wait_idle()

    def reset_state(self) -> None:
        """h and S to zero (CTRL.RESET_STATE)."""
        self._pulse("reset_state")

    def clear_saturation(self) -> None:
        self._pulse("clear_sat")

    def wait_idle(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.regs.busy(self.read_reg("STATUS")):
            if time.monotonic() > deadline:
                raise DeviceTimeout("the device stayed busy")
            time.sleep(0.001)

    def set_learning_rates(self, eta: int, eta_o: int) -> None:
        self.write_reg("ETA", self.regs.learning_rates(eta, eta_o))

    def saturation(self) -> dict[str, int]:
        """The saturation counters, by name (SAT_NAMES)."""
        span = self.regs.sat_span()
        return self.regs.decode_sat(self.read_words(span.addr, span.count))

    def steps(self) -> int:
        return self.read_reg("STEPS")

    def load_params(self, theta, V, c) -> None:
        """Write Θ (n, q) in format P, V (p, n) and c (p,) in format O (integers)."""
        self._write(self.regs.params(theta, V, c))

    def load_float_params(self, theta, V, c) -> None:
        fm = self.cfg.formats
        self.load_params(quantise(theta, fm.P), quantise(V, fm.O), quantise(c, fm.O))

    def read_params(self) -> dict[str, np.ndarray]:
        return self.regs.decode_params(self._read(self.regs.param_spans()))

    def read_state(self) -> dict:
        """Everything to resume bit-exactly, as :meth:`FixedRTRL.state` has it: theta, V, c,
        h, S, lfsr, sat (in SAT_NAMES order), steps. Read between steps (after every result
        was read)."""
        self.wait_idle()
        st = self.regs.decode_state(self._read(self.regs.state_spans()))
        st["sat"] = np.array([st["sat"][s] for s in SAT_NAMES], np.int64)
        return st

    def load_state(self, st: dict) -> None:
        """Parameters, and h, S and the LFSR when ``st`` has them (counters stay)."""
        self._write(self.regs.state(st))

    def checkpoint(self) -> Checkpoint:
        """The device's parameters and state as a Checkpoint (fixed-point arrays)."""
        return Checkpoint(self.cfg, {"fixed": self.read_state()})

    # ------------------------------------------------------------------ streaming
    def drain(self) -> list[tuple[list[int], int]]:
        """Read results until every pushed sample has answered."""
        out = []
        deadline = time.monotonic() + self.timeout
        while self._pending:
            got = self.read_out(min(self._pending, self.layout.max_out))
            out += got
            if got:
                deadline = time.monotonic() + self.timeout
            elif time.monotonic() > deadline:
                raise DeviceTimeout(f"{self._pending} results never came")
        return out

    def run_int(self, xs, ds, callback=None) -> tuple[np.ndarray, np.ndarray]:
        """Stream integer samples (T, m) / targets (T, p); returns (y (T, p), flags (T,)).

        Samples are pushed in frames while results are read, keeping the device's result
        FIFO from overflowing. ``callback(t_done, y_int_rows, flags)`` is called after each
        batch of results (for progress bars). The current learning mode applies.
        """
        xs = np.asarray(xs, np.int64).reshape(-1, self.cfg.m)
        ds = np.asarray(ds, np.int64).reshape(-1, self.cfg.p)
        T = len(xs)
        ys = np.zeros((T, self.cfg.p), np.int64)
        flags = np.zeros(T, np.int64)
        if self._pending:
            self.drain()
        lay = self.layout
        sent = done = 0
        deadline = time.monotonic() + self.timeout
        while done < T:
            room = lay.fifo_depth - self._pending
            k = min(lay.max_push, room, T - sent)
            with uninterrupted():                # results read are always handed over
                if k > 0:
                    self.push(xs[sent:sent + k], ds[sent:sent + k])
                    sent += k
                res = self.read_out(min(lay.max_out, max(1, self._pending)))
                for y, f in res:
                    ys[done], flags[done] = y, f
                    done += 1
                if res:
                    deadline = time.monotonic() + self.timeout
                    if callback is not None:
                        callback(done, ys[done - len(res):done], flags[done - len(res):done])
            if not res and k <= 0 and time.monotonic() > deadline:
                raise DeviceTimeout(f"the device stopped producing results after {done} of "
                                    f"{T} samples")
        return ys, flags

    def run(self, xs, ds, callback=None) -> RunResult:
        """Stream float samples (T, m) and targets (T, p) (quantised to formats X, Y with
        saturation); the predictions come back as floats."""
        fm = self.cfg.formats
        xi = quantise(np.asarray(xs, np.float64).reshape(-1, self.cfg.m), fm.X)
        di = quantise(np.asarray(ds, np.float64).reshape(-1, self.cfg.p), fm.Y)
        yi, flags = self.run_int(xi, di, callback)
        return RunResult(dequantise(yi, fm.Y), yi, flags)

    def step(self, x, d) -> tuple[np.ndarray, int]:
        """One float sample: (y floats, flags)."""
        r = self.run(np.asarray(x).reshape(1, -1), np.asarray(d).reshape(1, -1))
        return r.y[0], int(r.flags[0])
