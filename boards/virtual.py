"""The virtual board: the board top that ``rtrledit build`` synthesises (UART, frame
bridge, core; no PLL, LEDs as ports), compiled by Verilator with a C++ harness
(``virtual_harness.cpp``) that connects its UART pins to a pseudo-terminal at the real bit
timing of the clock and baud. Hosts open the pty as a serial port (pyserial, termios).

:func:`build` compiles it (cached per design: Config, lanes, clock, baud and the sources
it is generated from); :class:`VirtualBoard` runs it in a child process and knows its pty.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..model.config import Config
from ..toolchain import require
from .protocol import TIMEOUT_BYTES
from .target import Target, board
from .uart import MIN_DIVISOR, divisor_for

__all__ = ["TOP", "DEFAULT_CLOCK_HZ", "fastest_baud", "idle_cycles", "build", "VirtualBoard"]

TOP = "rtrl_board"
HARNESS = Path(__file__).with_name("virtual_harness.cpp")
#: The core clock of the virtual board unless told: the iCEBreaker's.
DEFAULT_CLOCK_HZ = board("icebreaker").default_mhz * 1e6
_PACKAGES = ("hdl", "boards", "model")   # what the top is generated from


def fastest_baud(clock_hz: float) -> int:
    """The highest baud the board's UART makes from ``clock_hz`` (its smallest divisor)."""
    return int(clock_hz // MIN_DIVISOR)


def idle_cycles(top) -> int:
    """Cycles the harness simulates after the last byte before it sleeps: a truncated
    frame's timeout, and a full result FIFO's steps."""
    from ..hdl.core import cycles_per_step
    steps = top.bridge.layout.fifo_depth * cycles_per_step(top.cfg, top.lanes)
    return TIMEOUT_BYTES * 10 * top.divisor + steps


def _sources_key() -> str:
    """A digest of the sources the top is generated from and of the Amaranth version."""
    import amaranth
    h = hashlib.sha256(amaranth.__version__.encode())
    root = Path(__file__).resolve().parents[1]
    for pkg in _PACKAGES:
        for f in sorted((root / pkg).glob("*.py")):
            h.update(f"{pkg}/{f.name}".encode() + f.read_bytes())
    return h.hexdigest()


def build(cfg: Config, lanes: int = 1, clock_hz: float = DEFAULT_CLOCK_HZ,
          baud: int = 115200, build_root: str | Path | None = None,
          announce: Callable[[str], None] | None = None) -> tuple[Path, int]:
    """The virtual board's executable and its idle cycles, built once per design under
    ``build_root`` (default ``build/sim``; ``announce`` is told before a build starts).
    ValueError when the clock cannot make the baud."""
    from amaranth.back import verilog

    from ..sim.native import verilator_build
    from ..sim.runner import VERILATOR_ARGS
    from .top import BoardTop
    divisor_for(clock_hz, baud)                     # the UART's own check, before any work
    require("verilator")
    source = HARNESS.read_text()
    spec = json.dumps([cfg.to_dict(), lanes, clock_hz, baud, VERILATOR_ARGS], sort_keys=True)
    key = hashlib.sha256((spec + source + _sources_key()).encode()).hexdigest()[:16]
    bdir = Path(build_root or "build/sim").resolve() / f"board-{key}"
    exe, idle = bdir / "obj" / TOP, bdir / "idle_cycles"
    if exe.exists() and idle.exists():
        return exe, int(idle.read_text())
    if announce is not None:
        announce(f"building the virtual board in {bdir} (Verilator, once per design: "
                 "about a minute)")
    bdir.mkdir(parents=True, exist_ok=True)
    top = BoardTop(cfg, Target(lanes=lanes, clock_mhz=clock_hz / 1e6, baud=baud))
    ports = [top.rx, top.tx, top.led_alive, top.led_learn, top.led_sat]
    (bdir / f"{TOP}.v").write_text(verilog.convert(top, ports=ports, name=TOP, emit_src=False))
    idle.write_text(str(idle_cycles(top)))
    return verilator_build(bdir, TOP, TOP, [bdir / f"{TOP}.v", HARNESS]), int(idle.read_text())


class VirtualBoard:
    """The virtual board in a child process; :attr:`port` is its pty (``/dev/pts/N``).

    It stops with :meth:`stop` or :meth:`close` (SIGTERM), and when this process dies."""

    def __init__(self, cfg: Config, lanes: int = 1, clock_hz: float = DEFAULT_CLOCK_HZ,
                 baud: int = 115200, build_root: str | Path | None = None,
                 announce: Callable[[str], None] | None = None) -> None:
        self.cfg, self.lanes, self.clock_hz, self.baud = cfg, lanes, clock_hz, baud
        exe, idle = build(cfg, lanes, clock_hz, baud, build_root, announce)
        # its own session: a Ctrl-C at the terminal reaches the host only, which may still
        # want to save the board's state
        self.proc = subprocess.Popen([str(exe), f"{clock_hz:.0f}", str(baud), str(idle)],
                                     stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.port = self.proc.stdout.readline().strip()
        if not self.port:
            self.proc.wait()
            raise RuntimeError(f"the virtual board did not start (exit {self.proc.returncode})")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self) -> int:
        """Wait until it stops (a signal); its exit status."""
        return self.proc.wait()

    def stop(self) -> None:
        """Ask it to stop (SIGTERM; safe in a signal handler)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stop()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> "VirtualBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
