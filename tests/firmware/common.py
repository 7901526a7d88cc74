"""Shared pieces of the firmware tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np

from rtrledit.model.config import Config
from rtrledit.model.fixed import FixedRTRL
from rtrledit.model.reference import init_params

#: Small configs so a simulated run of a few hundred steps takes seconds.
CFG_EXACT = Config(hidden=3, inputs=2, eta=3, eta_o=4)
CFG_SNAP1 = Config(hidden=2, inputs=1, approx="snap1", eta=3, eta_o=4)


def int_params(cfg: Config, seed: int = 0):
    th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=seed)
    fx = FixedRTRL.from_float(cfg, th, V, c)
    return fx.theta.copy(), fx.V.copy(), fx.c.copy()


def stream(cfg: Config, T: int, seed: int, gain: int = 3):
    """A delay task in integers (d_t = 2^gain x_{t-1}[0], clipped): learns and saturates."""
    rng = np.random.default_rng(seed)
    fx, fy = cfg.formats.X, cfg.formats.Y
    xs = rng.integers(-fx.one, fx.one, (T, cfg.m))
    ds = np.zeros((T, cfg.p), np.int64)
    shift = fy.f - fx.f + gain
    ds[1:, 0] = (xs[:-1, 0] << shift) if shift >= 0 else (xs[:-1, 0] >> -shift)
    return xs, np.clip(ds, fy.min, fy.max)


def interrupted_run(*args: str, group: bool = False) -> tuple[int, str, str]:
    """``rtrledit run ARGS`` in a child process, sent SIGINT once it prints its first
    prediction (a line starting "step"), as a terminal delivers Ctrl-C, also when the suite
    runs as a background job (which inherits SIGINT ignored): (status, stdout, stderr).
    ``group``: to its whole process group, as a terminal sends it, children included."""
    p = subprocess.Popen([sys.executable, "-m", "rtrledit.cli", "run", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=group,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = p.stdout.readline()
        assert line.startswith("step"), line + p.stderr.read()
        if group:
            os.killpg(p.pid, signal.SIGINT)
        else:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    return p.returncode, line + out, err
