"""End to end through the simulated device (bridge + core in Amaranth's simulator, in a
child process): the C driver and the Python driver run a few hundred learning steps,
read back Θ, V, c, h, S and the counters, and everything matches the integer model bit
for bit. Also: garbage on the link changes nothing, and a silent device is a clear timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtrledit.boards import protocol as P
from rtrledit.firmware import Device, DeviceTimeout, FdTransport, RegisterModel, SimTransport, export
from rtrledit.hdl.regmap import ID_MAGIC, register_map
from rtrledit.model.config import SAT_NAMES
from rtrledit.model.fixed import FixedRTRL

from .cbuild import SAN, C, build, compiler
from .common import CFG_EXACT, CFG_SNAP1, int_params, stream


def _check_state(cfg, model: FixedRTRL, st: dict) -> None:
    ms = model.state()
    for k in ("theta", "V", "c", "h", "S"):
        np.testing.assert_array_equal(np.asarray(st[k]).reshape(ms[k].shape), ms[k], err_msg=k)
    assert int(st["lfsr"]) == ms["lfsr"]
    assert [int(v) for v in st["sat"]] == [int(v) & 0xFFFFFFFF for v in ms["sat"]]
    assert int(st["steps"]) == ms["steps"]


def test_c_driver_through_simulated_device(tmp_path):
    """e2e_host.c (the C driver, built with ASan/UBSan) ↔ pipes ↔ simdevice."""
    cc = compiler("gcc")
    cfg, T = CFG_EXACT, 200
    export.write(tmp_path / "inc", cfg)
    exe = build(cc, tmp_path / "e2e", [C / "src" / "rtrledit.c", C / "tests" / "e2e_host.c"],
                [tmp_path / "inc", C / "include"], SAN)
    theta, V, c = int_params(cfg, seed=3)
    xs, ds = stream(cfg, T, seed=4)
    n = cfg.n
    job = [T, *theta[:, :n].ravel(), *theta[:, n:].ravel(), *V.ravel(), *c.ravel()]
    job += list(np.concatenate([xs, ds], axis=1).ravel())
    (tmp_path / "job.txt").write_text(" ".join(map(str, job)))
    # cross-connected pipes: host stdout -> device stdin, device stdout -> host stdin
    h2d_r, h2d_w = os.pipe()
    d2h_r, d2h_w = os.pipe()
    dev = subprocess.Popen([sys.executable, "-m", "rtrledit.firmware.simdevice", "--config",
                            cfg.to_json(), "--lanes", "2"], stdin=h2d_r, stdout=d2h_w,
                           stderr=subprocess.PIPE)
    host = subprocess.Popen([str(exe), str(tmp_path / "job.txt"), str(tmp_path / "out.txt")],
                            stdin=d2h_r, stdout=h2d_w, stderr=subprocess.PIPE)
    for fd in (h2d_r, h2d_w, d2h_r, d2h_w):
        os.close(fd)
    try:
        _, herr = host.communicate(timeout=180)
    finally:
        if host.poll() is None:
            host.kill()
        dev.wait(timeout=30)
    assert host.returncode == 0, herr.decode() + dev.stderr.read().decode()
    lines = (tmp_path / "out.txt").read_text().splitlines()
    model = FixedRTRL(cfg, theta, V, c)
    r = model.run(xs, ds)
    ys = np.array([[int(v) for v in ln.split()[2:2 + cfg.p]] for ln in lines if ln[0] == "Y"])
    fl = np.array([int(ln.split()[-1]) for ln in lines if ln[0] == "Y"])
    np.testing.assert_array_equal(ys, r.y)
    np.testing.assert_array_equal(fl, r.flags)
    rec = {ln.split()[0]: [int(v) for v in ln.split()[1:]] for ln in lines if ln[0] != "Y"}
    rm = register_map(cfg)
    S = [rec["S"][s.addr - rm["S"].base + i] for s in RegisterModel(cfg).s_spans()
         for i in range(s.count)]
    got = {"theta": np.concatenate([np.reshape(rec["W"], (n, n)),
                                    np.reshape(rec["U"], (n, cfg.m + 1))], axis=1),
           "V": rec["V"], "c": rec["C"], "h": rec["H"], "S": S, "lfsr": rec["LFSR"][0],
           "sat": rec["SAT"], "steps": rec["STEPS"][0]}
    assert len(rec["S"]) == rm["S"].size
    _check_state(cfg, model, got)
    assert model.sat.sum() > 0 and not np.array_equal(model.theta, theta)   # it learned, saturated


@pytest.fixture(scope="module")
def snap_dev():
    cfg = CFG_SNAP1
    with Device(SimTransport(cfg, 1), cfg, timeout=60) as dev:
        yield dev


def test_python_driver_bit_exact(snap_dev):
    """Device.run_int / read_state against the integer model; learning off runs forward only."""
    dev, cfg = snap_dev, snap_dev.cfg
    theta, V, c = int_params(cfg, seed=5)
    dev.set_learning(False)
    dev.load_params(theta, V, c)
    dev.reset_state()
    dev.set_learning_rates(cfg.eta, cfg.eta_o)
    dev.set_learning(True)
    steps0, sat0 = dev.steps(), dev.saturation()
    model = FixedRTRL(cfg, theta, V, c)
    model.steps, model.sat[:] = steps0, [sat0[s] for s in SAT_NAMES]
    model.lfsr = dev.read_reg("LFSR")
    xs, ds = stream(cfg, 250, seed=6)
    ys, fl = dev.run_int(xs, ds)
    r = model.run(xs, ds)
    np.testing.assert_array_equal(ys, r.y)
    np.testing.assert_array_equal(fl, r.flags)
    _check_state(cfg, model, dev.read_state())
    # inference only: parameters stay, outputs still match the model's forward pass
    dev.set_learning(False)
    xs2, ds2 = stream(cfg, 20, seed=7)
    ys2 = dev.run(xs2 / cfg.formats.X.one, ds2 / cfg.formats.Y.one)
    r2 = model.run(xs2, ds2, learn=False, track=False)
    np.testing.assert_array_equal(ys2.y_int, r2.y)
    np.testing.assert_allclose(ys2.y, r2.y / cfg.formats.Y.one)
    _check_state(cfg, model, dev.read_state())
    assert model.sat.sum() > 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.binary(min_size=1, max_size=300))
def test_random_bytes_change_nothing(snap_dev, junk):
    """Random bytes (truncated, corrupt, oversized frames) change no state; the device
    keeps answering correctly."""
    dev = snap_dev
    before = dev.read_params()
    steps, ctrl = dev.steps(), dev.read_reg("CTRL")
    dev.transport.write(junk)
    time.sleep(0.05)                                    # the frame timeout passes (simulated)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:                  # drain any error responses
        if not dev.transport.read(4096, 0.2):
            break
    assert dev.read_reg("ID") == ID_MAGIC
    after = dev.read_params()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    assert dev.steps() == steps and dev.read_reg("CTRL") == ctrl


def test_device_error_statuses(snap_dev):
    dev = snap_dev
    from rtrledit.firmware import DeviceError
    with pytest.raises(DeviceError) as e:
        dev.request(P.Cmd.READ_WIN, P.addr_bytes(0x100) + bytes([0]))   # count 0
    assert e.value.status == P.Status.BAD_LEN
    with pytest.raises(DeviceError) as e:
        dev.request(0x7E)
    assert e.value.status == P.Status.BAD_CMD
    assert dev.read_reg("ID") == ID_MAGIC


def test_silent_device_is_a_clear_timeout():
    """A link where nobody answers: DeviceTimeout naming the command, after retries."""
    r, w = os.pipe()
    r2, w2 = os.pipe()
    try:
        dev = Device(FdTransport(r, w2), CFG_SNAP1, timeout=0.2, check=False)
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout, match="no response.*READ_REG"):
            dev.read_reg("ID")
        assert time.monotonic() - t0 < 3
    finally:
        for fd in (r, w, r2, w2):
            os.close(fd)
