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

Two levels:

- frames and registers: :meth:`Device.info`, :meth:`~Device.read_reg`,
  :meth:`~Device.write_reg`, :meth:`~Device.read_words`, :meth:`~Device.write_words`,
  :meth:`~Device.push`, :meth:`~Device.read_out` (integers, as on the wire);
- the network: :meth:`~Device.run` (floats, converted with the Config's formats X, Y),
  :meth:`~Device.set_learning`, :meth:`~Device.load_params`, :meth:`~Device.read_params`,
  :meth:`~Device.read_state`, :meth:`~Device.saturation`, :meth:`~Device.checkpoint`.

Errors: :class:`DeviceTimeout` (no or incomplete response in time), :class:`FrameError`
(a response that is corrupt, truncated or answers another request), :class:`DeviceError`
(the device answered with an error status; ``.status``). All are
:class:`~rtrledit.boards.protocol.ProtocolError`. Idempotent requests (INFO, register and
window reads and writes) are retried after a transmission error; PUSH and READ_OUT are not
(a lost response would lose or repeat samples), they raise.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..boards import protocol as P
from ..boards.protocol import Cmd, ProtocolError, Status
from ..hdl.regmap import CTRL, ID_MAGIC, register_map, s_index_bits
from ..model.checkpoint import Checkpoint
from ..model.config import SAT_NAMES, Config
from ..model.requant import dequantise, quantise

__all__ = ["Device", "DeviceInfo", "RunResult", "DeviceError", "DeviceTimeout", "FrameError"]


class DeviceError(ProtocolError):
    """The device answered with a non-OK status (``.status``, a :class:`Status` code)."""


class DeviceTimeout(ProtocolError, TimeoutError):
    """No complete response within the timeout."""


class FrameError(ProtocolError):
    """A response that is corrupt (CRC), malformed, or answers another request."""


#: Statuses that mean "the request did not arrive intact": safe to send again.
_TRANSIENT = (Status.BAD_CRC, Status.TIMEOUT)
_IDEMPOTENT = (Cmd.INFO, Cmd.READ_REG, Cmd.WRITE_REG, Cmd.READ_WIN, Cmd.WRITE_WIN)


@dataclass(frozen=True)
class DeviceInfo:
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
        self.retries = retries
        self.regmap = register_map(cfg, 1)
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

    # ------------------------------------------------------------------ frames
    @staticmethod
    @contextlib.contextmanager
    def _whole():
        """Hold Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt: a frame
        exchange and the bookkeeping after it are never cut in half, so the next command
        after an interrupt gets its own response. Only in the main thread, and only when
        Python's default handler is installed (nested blocks and other handlers pass)."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield
            return
        held = []
        signal.signal(signal.SIGINT, lambda sig, frame: held.append(sig))
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if held:
            raise KeyboardInterrupt

    def _resync(self) -> None:
        """After an error: let the device's frame timeout pass, drop what it sent."""
        time.sleep(0.01)
        self.transport.flush_input()

    def _response(self, cmd_name: str) -> tuple[int, int, bytes]:
        tr = self.transport
        deadline = time.monotonic() + self.timeout

        def get(n: int) -> bytes:
            data = tr.read(n, max(0.0, deadline - time.monotonic()))
            if len(data) < n:
                raise DeviceTimeout(f"no response from the device within {self.timeout:g} s "
                                    f"({cmd_name}); is it connected, programmed for this "
                                    "config and at this baud rate?")
            return data

        skipped = 0
        while get(1)[0] != P.SYNC_RSP:          # garbage before a response: skip it
            skipped += 1
            if skipped > 2 * (P.MAX_PAYLOAD + 6):
                raise FrameError(f"no response sync byte in {skipped} bytes ({cmd_name})")
        head = get(3)
        frame = bytes([P.SYNC_RSP]) + head + get(head[2] + 2)
        try:
            cmd, status, payload, _ = P.decode_response(frame)
        except ProtocolError as e:
            raise FrameError(f"{e} ({cmd_name})") from None
        return cmd, status, payload

    def request(self, cmd: int, payload: bytes = b"") -> bytes:
        """Send one request frame; the payload of its OK response. Raises DeviceError,
        DeviceTimeout or FrameError (after retries, for idempotent commands). A Ctrl-C
        waits for the response."""
        with self._whole():
            return self._request(cmd, payload)

    def _request(self, cmd: int, payload: bytes) -> bytes:
        frame = P.encode_request(cmd, payload)
        name = Cmd.NAMES.get(cmd, f"0x{cmd:02x}")
        attempts = 1 + (self.retries if cmd in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self.transport.write(frame)
            try:
                rcmd, status, rpayload = self._response(name)
            except (FrameError, DeviceTimeout):
                self._resync()
                if last:
                    raise
                continue
            if rcmd != cmd:
                self._resync()
                if last:
                    raise FrameError(f"out-of-sequence response: to command 0x{rcmd:02x}, "
                                     f"expected {name}")
                continue
            if status == Status.OK:
                return rpayload
            if status in _TRANSIENT and not last:
                self._resync()
                continue
            raise DeviceError(f"device answered {name} with "
                              f"{Status.NAMES.get(status, f'status 0x{status:02x}')}", status)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ commands
    def info(self) -> DeviceInfo:
        pl = self.request(Cmd.INFO)
        if len(pl) != 5:
            raise FrameError(f"INFO answered with {len(pl)} bytes, expected 5")
        return DeviceInfo(*pl)

    def _addr(self, reg) -> int:
        return self.regmap[reg].addr if isinstance(reg, str) else int(reg)

    def read_reg(self, reg: str | int) -> int:
        """The unsigned 32-bit value of a register (name or address)."""
        pl = self.request(Cmd.READ_REG, P.addr_bytes(self._addr(reg)))
        if len(pl) != 4:
            raise FrameError(f"READ_REG answered with {len(pl)} bytes, expected 4")
        return int.from_bytes(pl, "little")

    def write_reg(self, reg: str | int, value: int) -> None:
        self.request(Cmd.WRITE_REG, P.addr_bytes(self._addr(reg))
                     + (int(value) & 0xFFFFFFFF).to_bytes(4, "little"))

    def read_words(self, addr: int, count: int) -> np.ndarray:
        """``count`` signed 32-bit words from ``addr`` on (READ_WIN frames of ≤ 63)."""
        out = []
        for k in range(0, count, P.MAX_WORDS):
            c = min(P.MAX_WORDS, count - k)
            pl = self.request(Cmd.READ_WIN, P.addr_bytes(addr + k) + bytes([c]))
            if len(pl) != 4 * c:
                raise FrameError(f"READ_WIN of {c} words answered with {len(pl)} bytes")
            out += [int.from_bytes(pl[4 * i:4 * i + 4], "little", signed=True) for i in range(c)]
        return np.array(out, np.int64)

    def write_words(self, addr: int, values) -> None:
        values = [int(v) for v in np.asarray(values).ravel()]
        for k in range(0, len(values), P.MAX_WORDS):
            chunk = values[k:k + P.MAX_WORDS]
            self.request(Cmd.WRITE_WIN, P.addr_bytes(addr + k) + b"".join(
                (v & 0xFFFFFFFF).to_bytes(4, "little") for v in chunk))

    def read_window(self, name: str, start: int = 0, count: int | None = None) -> np.ndarray:
        w = self.regmap[name]
        count = w.size - start if count is None else count
        if start < 0 or start + count > w.size:
            raise ValueError(f"window {name}: words {start}..{start + count - 1} outside 0..{w.size - 1}")
        return self.read_words(w.base + start, count)

    def write_window(self, name: str, values, start: int = 0) -> None:
        w = self.regmap[name]
        values = np.asarray(values).ravel()
        lo, hi = -(1 << (w.fmt[0] - 1)), (1 << (w.fmt[0] - 1)) - 1
        if start < 0 or start + len(values) > w.size:
            raise ValueError(f"window {name}: {len(values)} words from {start} do not fit {w.size}")
        if len(values) and (values.min() < lo or values.max() > hi):
            raise ValueError(f"window {name}: values outside Q{w.fmt} ({lo}..{hi})")
        self.write_words(w.base + start, values)

    def push(self, xs, ds) -> None:
        """PUSH integer samples (format X) and targets (format Y), at most
        ``layout.max_push`` per frame."""
        xs, ds = np.asarray(xs).reshape(-1, self.cfg.m), np.asarray(ds).reshape(-1, self.cfg.p)
        if len(xs) != len(ds):
            raise ValueError(f"{len(xs)} samples but {len(ds)} targets")
        payload = b"".join(self.layout.pack_sample(x, d) for x, d in zip(xs, ds))
        with self._whole():
            self.request(Cmd.PUSH, payload)
            self._pending += len(xs)

    def read_out(self, maximum: int | None = None) -> list[tuple[list[int], int]]:
        """Up to ``maximum`` results waiting on the device: (y integers, flags) each."""
        maximum = self.layout.max_out if maximum is None else maximum
        if not 1 <= maximum <= 255:
            raise ValueError(f"READ_OUT of {maximum} results outside 1..255")
        with self._whole():
            pl = self.request(Cmd.READ_OUT, bytes([maximum]))
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
        shape = self.read_reg("SHAPE")
        f = self.regmap["SHAPE"].fields
        got = {k: (shape >> f[k][0]) & ((1 << f[k][1]) - 1) for k in ("N", "M", "P")}
        want = {"N": self.cfg.n & 0xFF, "M": self.cfg.m & 0xFF, "P": self.cfg.p & 0xF}
        if got != want:
            raise ValueError(f"the device was built for n, m, p = {got['N']}, {got['M']}, "
                             f"{got['P']}, the config has {self.cfg.n}, {self.cfg.m}, {self.cfg.p}")
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
        track = learn if track is None else track
        self.write_reg("CTRL", (int(bool(learn)) << CTRL["LEARN"][0])
                       | (int(bool(track)) << CTRL["TRACK"][0]))

    def learning(self) -> bool:
        return bool(self.read_reg("CTRL") >> CTRL["LEARN"][0] & 1)

    def _pulse(self, *names: str) -> None:
        ctrl = self.read_reg("CTRL") & 0x3
        for n in names:
            ctrl |= 1 << CTRL[n][0]
        self.write_reg("CTRL", ctrl)
        self.wait_idle()

    def reset_state(self) -> None:
        """h and S to zero (CTRL.RESET_STATE)."""
        self._pulse("RESET_STATE")

    def clear_saturation(self) -> None:
        self._pulse("CLEAR_SAT")

    def wait_idle(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.read_reg("STATUS") & 1:
            if time.monotonic() > deadline:
                raise DeviceTimeout("the device stayed busy")
            time.sleep(0.001)

    def set_learning_rates(self, eta: int, eta_o: int) -> None:
        if not (0 <= eta <= 31 and 0 <= eta_o <= 31):
            raise ValueError("learning-rate shifts must be in 0..31")
        self.write_reg("ETA", eta | (eta_o << 8))

    def saturation(self) -> dict[str, int]:
        """The saturation counters, by name (SAT_NAMES)."""
        return {s: self.read_reg(f"SAT_{s.upper()}") for s in SAT_NAMES}

    def steps(self) -> int:
        return self.read_reg("STEPS")

    def load_params(self, theta, V, c) -> None:
        """Write Θ (n, q) in format P, V (p, n) and c (p,) in format O (integers)."""
        cfg = self.cfg
        n, q = cfg.n, cfg.q
        theta = np.asarray(theta).reshape(n, q)
        self.write_window("W", theta[:, :n])
        self.write_window("U", theta[:, n:])
        self.write_window("V", np.asarray(V).reshape(cfg.p, n))
        self.write_window("C", np.asarray(c).reshape(cfg.p))

    def load_float_params(self, theta, V, c) -> None:
        fm = self.cfg.formats
        self.load_params(quantise(theta, fm.P), quantise(V, fm.O), quantise(c, fm.O))

    def read_params(self) -> dict[str, np.ndarray]:
        cfg = self.cfg
        n, m, p = cfg.n, cfg.m, cfg.p
        W = self.read_window("W").reshape(n, n)
        U = self.read_window("U").reshape(n, m + 1)
        return {"theta": np.concatenate([W, U], axis=1),
                "V": self.read_window("V").reshape(p, n), "c": self.read_window("C")}

    def _s_runs(self) -> list[tuple[int, int]]:
        cfg = self.cfg
        nq = cfg.n * cfg.q
        if cfg.approx == "snap1":
            return [(0, nq)]
        _, cbits = s_index_bits(cfg)
        return [(k << cbits, nq) for k in range(cfg.n)]

    def read_state(self) -> dict:
        """Everything to resume bit-exactly, as :meth:`FixedRTRL.state` has it: theta, V, c,
        h, S, lfsr, sat, steps. Read between steps (after every result was read)."""
        self.wait_idle()
        st = self.read_params()
        st["h"] = self.read_window("H")
        S = np.concatenate([self.read_window("S", a, k) for a, k in self._s_runs()])
        st["S"] = S.reshape(self.cfg.s_shape)
        st["lfsr"] = self.read_reg("LFSR")
        st["sat"] = np.array([self.read_reg(f"SAT_{s.upper()}") for s in SAT_NAMES], np.int64)
        st["steps"] = self.read_reg("STEPS")
        return st

    def load_state(self, st: dict) -> None:
        """Parameters, and h, S and the LFSR when ``st`` has them (counters stay)."""
        self.load_params(st["theta"], st["V"], st["c"])
        if "h" in st:
            self.write_window("H", st["h"])
            S = np.asarray(st["S"]).ravel()
            o = 0
            for a, k in self._s_runs():
                self.write_window("S", S[o:o + k], a)
                o += k
        if "lfsr" in st and int(st["lfsr"]):
            self.write_reg("LFSR", int(st["lfsr"]))

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
            with self._whole():                # results read are always handed over
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
