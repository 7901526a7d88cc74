"""Tests of rtrledit.model.tasks: the built-in task streams and user task files.

The reference values are recomputed here independently (NARMA-10 by its own
loop, Mackey-Glass by the delay equation's residual, the sine by its local
frequency), never copied from the code under test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rtrledit.model import tasks
from rtrledit.model.tasks import TASKS, Task, get_task, load_file, mackey_glass, narma10, sine

MAKERS = {"sine": sine, "narma10": narma10, "mackey-glass": mackey_glass}
seeds = st.integers(min_value=0, max_value=2**32 - 1)


# ---------------------------------------------------------------- Task

def test_task_properties_and_read_only():
    task = Task("t", np.zeros((7, 3), dtype=np.float32), np.ones((7, 2)))
    assert (task.steps, task.inputs, task.outputs) == (7, 3, 2)
    assert task.xs.dtype == task.ds.dtype == np.float64
    with pytest.raises(ValueError):
        task.xs[0, 0] = 1.0
    with pytest.raises(AttributeError):
        task.name = "u"  # frozen


@pytest.mark.parametrize("xs, ds", [
    (np.zeros(5), np.zeros((5, 1))),        # 1-D inputs
    (np.zeros((5, 1)), np.zeros((4, 1))),   # mismatched T
    (np.zeros((0, 1)), np.zeros((0, 1))),   # empty
])
def test_task_rejects_bad_arrays(xs, ds):
    with pytest.raises(ValueError):
        Task("t", xs, ds)


# ---------------------------------------------------------------- all built-in tasks

@pytest.mark.parametrize("name", TASKS)
def test_determinism_shapes_dtypes(name):
    make = MAKERS[name]
    a, b, c = make(700, seed=3), make(700, seed=3), make(700, seed=4)
    assert a.name == name
    assert a.xs.shape == a.ds.shape == (700, 1)
    assert a.xs.dtype == a.ds.dtype == np.float64
    assert (a.steps, a.inputs, a.outputs) == (700, 1, 1)
    np.testing.assert_array_equal(a.xs, b.xs)
    np.testing.assert_array_equal(a.ds, b.ds)
    assert not np.array_equal(a.xs, c.xs)
    assert not np.array_equal(a.ds, c.ds)
    assert np.isfinite(a.xs).all() and np.isfinite(a.ds).all()


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("steps", [0, -5])
def test_steps_below_one_rejected(name, steps):
    with pytest.raises(ValueError, match="steps"):
        MAKERS[name](steps)


# ---------------------------------------------------------------- NARMA-10

def narma10_reference(u: np.ndarray) -> np.ndarray:
    """y(1..T) of NARMA-10 by the textbook loop, y(0..9) = 0."""
    T = len(u)
    y = np.zeros(T + 1)
    for t in range(9, T):
        acc = 0.0
        for i in range(10):
            acc += y[t - i]
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * acc + 1.5 * u[t - 9] * u[t] + 0.1
    return y[1:]


@settings(max_examples=15, deadline=None)
@given(seed=seeds, steps=st.integers(1, 600))
def test_narma10_matches_independent_loop(seed, steps):
    task = narma10(steps, seed=seed)
    u = task.xs[:, 0]
    assert ((u >= 0.0) & (u <= 0.5)).all()
    np.testing.assert_allclose(task.ds[:, 0], narma10_reference(u), rtol=0, atol=1e-12)
    assert (task.ds[:9] == 0.0).all()  # y(1..9) = 0


def test_narma10_default_is_uniform_inputs_and_bounded():
    task = narma10()
    u, y = task.xs[:, 0], task.ds[:, 0]
    assert task.steps == 5000
    assert abs(u.mean() - 0.25) < 0.01 and abs(u.std() - 0.5 / np.sqrt(12)) < 0.01
    assert u.min() < 0.01 and u.max() > 0.49
    assert 0.0 <= y.min() and y[9:].min() >= 0.1 and y.max() < 2.0
    np.testing.assert_allclose(y, narma10_reference(u), rtol=0, atol=1e-12)


def test_narma10_regenerates_a_diverging_seed():
    # Seed 75's first input draw makes NARMA-10 blow up within 5000 steps ...
    first = np.random.default_rng(75).uniform(0.0, 0.5, size=5000)
    with np.errstate(all="ignore"):
        assert not (np.abs(narma10_reference(first)) <= 1e3).all()
    # ... so the task must come from another, bounded, deterministic draw.
    task = narma10(5000, seed=75)
    u, y = task.xs[:, 0], task.ds[:, 0]
    assert not np.array_equal(u, first)
    assert (np.abs(y) <= 1e3).all()
    np.testing.assert_allclose(y, narma10_reference(u), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(u, narma10(5000, seed=75).xs[:, 0])


def test_narma10_gives_up_when_every_draw_diverges(monkeypatch):
    monkeypatch.setattr(tasks, "NARMA_LIMIT", 0.05)  # every run passes 0.1 at t = 10
    with pytest.raises(RuntimeError, match="diverged"):
        narma10(50, seed=1)


# ---------------------------------------------------------------- Mackey-Glass

def delay_ode_residual(x: np.ndarray, tau: int, a=0.2, b=0.1, power=10) -> tuple[float, float]:
    """RMS of (dx/dt - right-hand side) and RMS of dx/dt, dx/dt by 4th-order central differences."""
    t = np.arange(tau + 2, len(x) - 2)
    dxdt = (x[t - 2] - 8.0 * x[t - 1] + 8.0 * x[t + 1] - x[t + 2]) / 12.0
    xd = x[t - tau]
    rhs = a * xd / (1.0 + xd**power) - b * x[t]
    return float(np.sqrt(np.mean((dxdt - rhs) ** 2))), float(np.sqrt(np.mean(dxdt**2)))


@pytest.mark.parametrize("tau", [17, 30])
def test_mackey_glass_satisfies_delay_equation(tau):
    z = mackey_glass(3000, seed=1, tau=tau).xs[:, 0]
    x = 0.5 * z + 0.9  # undo the documented map (x - 0.9) / 0.5
    residual, scale = delay_ode_residual(x, tau)
    # About 0.1% here; a delay off by one sub-step (0.1 time unit) gives over 2%.
    assert residual < 0.005 * scale
    for wrong in (tau - 1, tau + 1):  # the check can tell the delay apart
        assert delay_ode_residual(x, wrong)[0] > 0.1 * scale


def test_mackey_glass_is_chaotic_and_bounded():
    z0 = mackey_glass(3000, seed=0).xs[:, 0]
    z1 = mackey_glass(3000, seed=1).xs[:, 0]
    x = 0.5 * z0 + 0.9
    assert 0.3 < x.min() < 0.6 and 1.2 < x.max() < 1.4  # the tau=17 attractor
    assert -1.2 < z0.min() and z0.max() < 1.2 and z0.std() > 0.3
    # Not a limit cycle: the heights of the local maxima keep varying.
    peaks = x[1:-1][(x[1:-1] > x[:-2]) & (x[1:-1] > x[2:])]
    assert len(peaks) > 50 and peaks.std() > 0.05
    # Sensitive dependence: a 0.01 change of the initial history ends up of order 1.
    assert np.abs(z0 - z1).max() > 0.5


@pytest.mark.parametrize("horizon", [1, 3, 10])
def test_mackey_glass_target_is_input_shifted(horizon):
    task = mackey_glass(400, seed=2, horizon=horizon)
    np.testing.assert_array_equal(task.ds[:-horizon], task.xs[horizon:])
    longer = mackey_glass(400 + horizon, seed=2)  # same series, more of it
    np.testing.assert_array_equal(task.xs, longer.xs[:400])
    np.testing.assert_array_equal(task.ds[:, 0], longer.xs[horizon:, 0])


@pytest.mark.parametrize("kwargs", [dict(tau=17.05), dict(dt_sub=0), dict(horizon=0), dict(tau=0)])
def test_mackey_glass_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        mackey_glass(10, **kwargs)


# ---------------------------------------------------------------- sine

def local_frequency(s: np.ndarray) -> np.ndarray:
    """Cycles/step of a clean sinusoid from s[t+1] + s[t-1] = 2 cos(w) s[t], where |s[t]| > 0.4."""
    mid = s[1:-1]
    keep = np.abs(mid) > 0.4
    ratio = (s[2:][keep] + s[:-2][keep]) / (2.0 * mid[keep])
    return np.arccos(np.clip(ratio, -1.0, 1.0)) / (2.0 * np.pi)


def window_frequency(s: np.ndarray, width: int = 250) -> np.ndarray:
    """Cycles/step from the sign changes in each window."""
    changes = np.diff(np.signbit(s).astype(int)) != 0
    return np.array([changes[i:i + width].sum() / (2.0 * width)
                     for i in range(0, len(changes) - width + 1, width)])


@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_sine_target_is_next_clean_value_with_drifting_frequency(seed):
    task = sine(5000, seed=seed)
    x, d = task.xs[:, 0], task.ds[:, 0]
    assert np.abs(x).max() <= 0.9 and np.abs(d).max() <= 0.9
    assert np.abs(d).max() > 0.8  # amplitude 0.85
    # The input is the clean signal plus small noise, and the target runs one step ahead.
    noise = x[1:] - d[:-1]
    assert np.abs(noise).max() <= 0.025 + 1e-12
    assert 0.01 < noise.std() < 0.02
    # The target is a clean sinusoid of 0.02..0.08 cycles/step; the noisy input is not.
    f = local_frequency(d)
    assert f.min() > 0.015 and f.max() < 0.085
    g = local_frequency(x)
    assert g.min() < 0.015 or g.max() > 0.085
    # The frequency drifts across the band, and both estimators agree on that.
    assert f.min() < 0.025 and f.max() > 0.075
    w = window_frequency(d)
    assert w.min() > 0.015 and w.max() < 0.085 and w.max() - w.min() > 0.04


def test_sine_default_steps():
    assert sine().steps == 5000


# ---------------------------------------------------------------- files

def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_header_round_trip(tmp_path):
    xs = np.array([[0.1, -2.5], [3.0, 1e-7], [-0.3, 4.25]])
    ds = np.array([[1.5], [-0.75], [2.0]])
    lines = ["x0,x1,d0"] + [",".join(repr(float(v)) for v in row) for row in np.hstack([xs, ds])]
    task = load_file(write(tmp_path / "my.csv", "\n".join(lines) + "\n"))
    assert task.name == "my.csv"
    np.testing.assert_array_equal(task.xs, xs)
    np.testing.assert_array_equal(task.ds, ds)


def test_csv_header_in_any_order_with_several_targets(tmp_path):
    text = "# comment\n\nd_a, x0 ,d_b,x1\n1,2,3,4\n  \n5,6,7,8\n# end\n"
    task = load_file(write(tmp_path / "t.CSV", text))
    np.testing.assert_array_equal(task.xs, [[2, 4], [6, 8]])
    np.testing.assert_array_equal(task.ds, [[1, 3], [5, 7]])


def test_csv_without_header_last_column_is_target(tmp_path):
    text = "# x0, x1, d\n1, 2, 3\n\n4,5,6.5e-1\n-1,-2,-3\n"
    task = load_file(write(tmp_path / "t.csv", text))
    np.testing.assert_array_equal(task.xs, [[1, 2], [4, 5], [-1, -2]])
    np.testing.assert_array_equal(task.ds, [[3], [0.65], [-3]])


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None)
@given(data=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 4)), elements=finite),
       header=st.booleans())
def test_csv_round_trip_property(data, header):
    m = data.shape[1] - 1
    lines = [",".join([f"x{i}" for i in range(m)] + ["d"])] if header else []
    lines += [",".join(repr(float(v)) for v in row) for row in data]
    with tempfile.TemporaryDirectory() as tmp:
        task = load_file(write(Path(tmp) / "p.csv", "\n".join(lines)))
    np.testing.assert_array_equal(task.xs, data[:, :m])
    np.testing.assert_array_equal(task.ds, data[:, m:])


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), m=st.integers(0, 3), p=st.integers(0, 2), data=st.data())
def test_npz_round_trip_property(T, m, p, data):
    # m or p == 0 stands for a 1-D array of shape (T,).
    x = data.draw(hnp.arrays(np.float64, (T, m) if m else (T,), elements=finite))
    d = data.draw(hnp.arrays(np.float32, (T, p) if p else (T,), elements=st.floats(-1e3, 1e3, width=32)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.npz"
        np.savez(path, x=x, d=d, extra=np.arange(3))
        task = load_file(path)
    np.testing.assert_array_equal(task.xs, x.reshape(T, -1))
    np.testing.assert_array_equal(task.ds, d.astype(np.float64).reshape(T, -1))
    assert (task.inputs, task.outputs) == (m or 1, p or 1)


@pytest.mark.parametrize("text, expected", [
    ("x0,d0\n1,2\n3,abc\n", ["line 3", "non-numeric", "'abc'"]),
    ("1,2\n\n# c\n3,\n", ["line 4", "non-numeric", "''"]),
    ("1,2\nnan,2\n", ["line 2", "NaN or infinite", "'nan'"]),
    ("1,2\n3,-inf\n", ["line 2", "NaN or infinite", "'-inf'"]),
    ("1,2,3\n1,2,3\n1,2,3\n1,2\n", ["line 4", "columns", "expected 3, got 2"]),
    ("x0,x1,d0\n1,2,3,4\n", ["line 2", "columns", "expected 3, got 4"]),
    ("# only one column\n1\n2\n", ["line 2", "at least 2 columns"]),
    ("x0,y0\n1,2\n", ["line 1", "'y0'"]),
    ("x0,x1\n1,2\n", ["line 1", "'d'"]),
    ("", ["no data rows"]),
    ("# nothing\n\n", ["no data rows"]),
    ("x0,d0\n", ["no data rows"]),
])
def test_bad_csv(tmp_path, text, expected):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError) as info:
        load_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for part in expected:
        assert part in message


def test_csv_not_text(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ValueError, match="cannot read"):
        load_file(path)


@pytest.mark.parametrize("arrays, expected", [
    (dict(d=np.zeros(3)), "missing array 'x'"),
    (dict(x=np.zeros(3)), "missing array 'd'"),
    (dict(x=np.zeros((3, 1, 1)), d=np.zeros(3)), "1-D or 2-D"),
    (dict(x=np.zeros(3), d=np.float64(1.0)), "1-D or 2-D"),
    (dict(x=np.zeros(3), d=np.zeros(4)), "different lengths 3 and 4"),
    (dict(x=np.zeros((0, 2)), d=np.zeros(0)), "empty"),
    (dict(x=np.zeros((3, 0)), d=np.zeros(3)), "empty"),
    (dict(x=np.array(["a", "b"]), d=np.zeros(2)), "numeric"),
    (dict(x=np.zeros(8), d=np.where(np.arange(8) == 5, np.nan, 0.0)), "row 5"),
    (dict(x=np.where(np.arange(8)[:, None] == 2, np.inf, np.zeros((8, 2))), d=np.zeros(8)), "row 2"),
])
def test_bad_npz(tmp_path, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as info:
        load_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and expected in message
    if "row" in expected:
        assert "NaN or infinite" in message


def test_unreadable_files(tmp_path):
    npy = tmp_path / "bare.npz"
    np.save(tmp_path / "bare.npy", np.zeros(3))
    (tmp_path / "bare.npy").rename(npy)
    (tmp_path / "text.npz").write_text("not a zip")
    for path in (npy, tmp_path / "text.npz", tmp_path / "missing.npz", tmp_path / "missing.csv"):
        with pytest.raises(ValueError, match="cannot read") as info:
            load_file(path)
        assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="unknown extension"):
        load_file(write(tmp_path / "data.txt", "1,2\n"))


# ---------------------------------------------------------------- get_task

def test_get_task_names():
    assert TASKS == ("sine", "narma10", "mackey-glass")
    for name, make in MAKERS.items():
        task, direct = get_task(name, steps=300, seed=7), make(300, seed=7)
        assert task.name == name
        np.testing.assert_array_equal(task.xs, direct.xs)
        np.testing.assert_array_equal(task.ds, direct.ds)
    assert get_task("narma10").steps == 5000


def test_get_task_file_and_truncation(tmp_path):
    path = write(tmp_path / "f.csv", "".join(f"{i},{2 * i}\n" for i in range(10)))
    full = get_task(str(path))
    assert full.steps == 10
    part = get_task(str(path), steps=4, seed=123)
    np.testing.assert_array_equal(part.xs[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(part.ds[:, 0], [0, 2, 4, 6])
    assert get_task(str(path), steps=10).steps == 10
    with pytest.raises(ValueError, match="only 10"):
        get_task(str(path), steps=11)
    with pytest.raises(ValueError, match="steps"):
        get_task(str(path), steps=0)


@pytest.mark.parametrize("name", TASKS)
def test_get_task_rejects_nonpositive_steps(name):
    with pytest.raises(ValueError, match="steps"):
        get_task(name, steps=0)


def test_get_task_unknown_name(tmp_path):
    with pytest.raises(ValueError) as info:
        get_task("foo")
    assert str(info.value) == "unknown task 'foo': choose sine, narma10, mackey-glass or a .csv/.npz file"
    with pytest.raises(ValueError, match="unknown task 'Sine'"):
        get_task("Sine")
    missing = tmp_path / "nope.csv"
    with pytest.raises(ValueError, match="cannot read") as info:
        get_task(str(missing))
    assert str(missing) in str(info.value)
