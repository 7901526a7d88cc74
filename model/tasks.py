"""Task streams for online training: input/target sequences one sample per step.

A :class:`Task` holds inputs ``xs`` of shape ``(T, m)`` and targets ``ds`` of
shape ``(T, p)``; at step ``t`` the network sees ``xs[t]`` and is scored against
``ds[t]``. Three synthetic tasks are built in (:data:`TASKS`) and users can
bring their own as a ``.csv`` or ``.npz`` file (:func:`load_file`).
:func:`get_task` picks one by name or path, as ``rtrledit train --task`` does.

Every synthetic task is float64, built with numpy only, and a pure function of
its arguments: the same seed gives bit-identical arrays.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Task", "TASKS", "sine", "narma10", "mackey_glass", "load_file", "get_task"]

#: Names accepted by :func:`get_task` (anything else is taken as a file path).
TASKS: tuple[str, ...] = ("sine", "narma10", "mackey-glass")

#: NARMA-10 outputs beyond this magnitude count as divergence (see :func:`narma10`).
NARMA_LIMIT = 1e3
#: Attempts :func:`narma10` makes before giving up on a seed.
NARMA_ATTEMPTS = 100
#: Fixed affine map of :func:`mackey_glass`: ``(x - MG_CENTER) / MG_SCALE``.
MG_CENTER, MG_SCALE = 0.9, 0.5
#: Time units integrated and thrown away by :func:`mackey_glass` before sampling.
MG_WARMUP = 500


@dataclass(frozen=True, eq=False)
class Task:
    """A named stream of inputs and targets.

    Parameters
    ----------
    name : str
        Task name (``"sine"``, ..., or the file name for a loaded task).
    xs : numpy.ndarray
        Inputs, shape ``(T, m)``.
    ds : numpy.ndarray
        Targets, shape ``(T, p)``; ``ds[t]`` is the desired output after ``xs[t]``.

    Notes
    -----
    The arrays are copied to read-only C-contiguous float64 on construction, so a
    task cannot change under a training run. Tasks compare by identity.
    """

    name: str
    xs: np.ndarray
    ds: np.ndarray

    def __post_init__(self) -> None:
        xs = np.array(self.xs, dtype=np.float64, order="C", copy=True)
        ds = np.array(self.ds, dtype=np.float64, order="C", copy=True)
        if xs.ndim != 2 or ds.ndim != 2:
            raise ValueError(f"task {self.name!r}: xs and ds must be 2-D, got {xs.shape} and {ds.shape}")
        if len(xs) != len(ds) or len(xs) < 1:
            raise ValueError(f"task {self.name!r}: xs and ds need the same T >= 1, "
                             f"got {len(xs)} and {len(ds)}")
        xs.setflags(write=False)
        ds.setflags(write=False)
        object.__setattr__(self, "xs", xs)
        object.__setattr__(self, "ds", ds)

    @property
    def steps(self) -> int:
        """Number of time steps ``T``."""
        return self.xs.shape[0]

    @property
    def inputs(self) -> int:
        """Input width ``m``."""
        return self.xs.shape[1]

    @property
    def outputs(self) -> int:
        """Target width ``p``."""
        return self.ds.shape[1]


def _check_steps(steps: int) -> None:
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")


def sine(steps: int = 5000, seed: int = 0) -> Task:
    """One-step-ahead prediction of a sine whose frequency drifts.

    The clean signal is ``s_t = 0.85 sin(theta_t)`` with
    ``theta_{t+1} = theta_t + 2 pi f_t`` and a frequency that moves slowly
    between 0.02 and 0.08 cycles/step::

        f_t = 0.05 + 0.03 sin(2 pi t / P + phi)

    The seed draws the initial phase ``theta_0``, the modulation phase ``phi``
    and the modulation period ``P ~ U[1500, 2500]`` steps, so any stream of a few
    thousand steps sweeps the whole frequency band.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Task
        ``xs[t] = s_t + n_t`` with observation noise ``n_t ~ U[-0.025, 0.025]``
        i.i.d.; ``ds[t] = s_{t+1}`` (clean). ``m = p = 1``; all values lie in
        ``[-0.875, 0.875]``.
    """
    _check_steps(steps)
    rng = np.random.default_rng(seed)
    theta0, phi = rng.uniform(0.0, 2.0 * np.pi, size=2)
    period = rng.uniform(1500.0, 2500.0)
    noise = rng.uniform(-0.025, 0.025, size=steps)
    t = np.arange(steps + 1)
    freq = 0.05 + 0.03 * np.sin(2.0 * np.pi * t / period + phi)
    theta = theta0 + 2.0 * np.pi * np.concatenate(([0.0], np.cumsum(freq[:-1])))
    s = 0.85 * np.sin(theta)
    return Task("sine", (s[:-1] + noise)[:, None], s[1:, None])


def _narma10_series(u: list[float]) -> np.ndarray | None:
    """NARMA-10 outputs ``y(1..T)`` driven by ``u``, or None once ``|y|`` passes the limit."""
    y = [0.0] * (len(u) + 1)
    for t in range(9, len(u)):
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * sum(y[t - 9:t + 1]) + 1.5 * u[t - 9] * u[t] + 0.1
        if abs(y[t + 1]) > NARMA_LIMIT:
            return None
    return np.array(y[1:])


def narma10(steps: int = 5000, seed: int = 0) -> Task:
    """The NARMA-10 system identification benchmark.

    ``u(t) ~ U[0, 0.5]`` i.i.d. and, with ``y(0) = ... = y(9) = 0``,

        y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0..9} y(t-i) + 1.5 u(t-9) u(t) + 0.1

    for ``t >= 9`` (so no ``u(t<0)`` is ever needed). Nothing is rescaled: the
    inputs lie in ``[0, 0.5]``, the first 9 targets are 0 and the rest typically
    lie in about ``[0.1, 1.1]``.

    NARMA-10 diverges for some input sequences (about 2% of seeds at 5000 steps).
    If ``|y|`` exceeds :data:`NARMA_LIMIT` (1e3) the inputs are redrawn from
    ``default_rng((seed, k))`` for ``k = 1, 2, ...`` (attempt 0 uses
    ``default_rng(seed)``) until a bounded run is found, so the result is still a
    pure function of ``(steps, seed)``.

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Task
        ``xs[t] = u(t)``, ``ds[t] = y(t+1)``; ``m = p = 1``.

    Raises
    ------
    RuntimeError
        If :data:`NARMA_ATTEMPTS` input sequences in a row all diverge.
    """
    _check_steps(steps)
    for attempt in range(NARMA_ATTEMPTS):
        rng = np.random.default_rng(seed if attempt == 0 else (seed, attempt))
        u = rng.uniform(0.0, 0.5, size=steps)
        y = _narma10_series(u.tolist())
        if y is not None:
            return Task("narma10", u[:, None], y[:, None])
    raise RuntimeError(f"narma10: {NARMA_ATTEMPTS} input sequences diverged for seed {seed}")


def mackey_glass(steps: int = 5000, seed: int = 0, tau: float = 17, a: float = 0.2,
                 b: float = 0.1, power: float = 10, dt_sub: int = 10,
                 horizon: int = 1) -> Task:
    """Prediction of the Mackey-Glass chaotic time series.

    Integrates ``dx/dt = a x(t-tau) / (1 + x(t-tau)^power) - b x(t)`` by
    classic RK4 with step ``h = 1/dt_sub``. The history is kept at sub-step
    resolution (``tau * dt_sub`` must be a whole number); the delayed value at a
    half step is the mean of its two neighbours. The initial history
    ``x(t), -tau <= t <= 0`` is 1.2 plus i.i.d. ``U[-0.01, 0.01]`` noise at every
    sub-step (the only use of the seed). The first :data:`MG_WARMUP` (500) time
    units are discarded whatever the seed; then the series is sampled once per
    unit time and mapped by the fixed affine map ``(x - 0.9) / 0.5``, which puts
    the ``tau = 17`` attractor (x in about [0.42, 1.32]) in about [-1, 0.85].

    Parameters
    ----------
    steps : int
        Number of samples ``T``.
    seed : int
        Seed of :func:`numpy.random.default_rng`.
    tau, a, b, power : float
        Delay and coefficients of the equation.
    dt_sub : int
        Integration sub-steps per unit time.
    horizon : int
        Prediction horizon in time units (>= 1).

    Returns
    -------
    Task
        ``xs[t] = z(t)``, ``ds[t] = z(t + horizon)`` with ``z`` the scaled
        series; ``m = p = 1``.
    """
    _check_steps(steps)
    if dt_sub < 1 or horizon < 1:
        raise ValueError(f"dt_sub and horizon must be >= 1, got {dt_sub} and {horizon}")
    delay = round(tau * dt_sub)
    if delay < 1 or not math.isclose(delay, tau * dt_sub, abs_tol=1e-9):
        raise ValueError(f"tau * dt_sub must be a positive whole number, got {tau} * {dt_sub}")
    rng = np.random.default_rng(seed)
    x = (1.2 + rng.uniform(-0.01, 0.01, size=delay + 1)).tolist()
    h = 1.0 / dt_sub

    def f(xt: float, xd: float) -> float:
        return a * xd / (1.0 + xd ** power) - b * xt

    for k in range(delay, delay + (MG_WARMUP + steps + horizon - 1) * dt_sub):
        xt, d0, d1 = x[k], x[k - delay], x[k - delay + 1]
        dm = 0.5 * (d0 + d1)
        k1 = f(xt, d0)
        k2 = f(xt + 0.5 * h * k1, dm)
        k3 = f(xt + 0.5 * h * k2, dm)
        k4 = f(xt + h * k3, d1)
        x.append(xt + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4))
    z = (np.array(x[delay + MG_WARMUP * dt_sub::dt_sub]) - MG_CENTER) / MG_SCALE
    return Task("mackey-glass", z[:steps, None], z[horizon:horizon + steps, None])


def _finite_rows(arr: np.ndarray, path: Path, what: str) -> None:
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{path}: array '{what}' has a NaN or infinite value in row {row} (0-based)")


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a bare .npy")
        with data:
            arrays = {key: data[key] for key in ("x", "d") if key in data.files}
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, zipfile.BadZipFile):  # not a zip, a bare .npy, object arrays
        raise ValueError(f"cannot read {path}: not an .npz archive of numeric arrays") from None
    out = []
    for key in ("x", "d"):
        if key not in arrays:
            raise ValueError(f"{path}: missing array '{key}'")
        arr = arrays[key]
        if arr.ndim not in (1, 2):
            raise ValueError(f"{path}: array '{key}' must be 1-D or 2-D, got shape {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array '{key}' must be numeric, got dtype {arr.dtype}")
        if arr.size == 0:
            raise ValueError(f"{path}: array '{key}' is empty (shape {arr.shape})")
        arr = arr.astype(np.float64).reshape(len(arr), -1)
        _finite_rows(arr, path, key)
        out.append(arr)
    if len(out[0]) != len(out[1]):
        lengths = f"{len(out[0])} and {len(out[1])}"
        raise ValueError(f"{path}: arrays 'x' and 'd' have different lengths {lengths}")
    return out[0], out[1]


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"cannot read {path}: not UTF-8 text") from None
    rows: list[list[float]] = []
    columns = is_input = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        where = f"{path}: line {lineno}"
        if columns is None:
            columns = len(fields)
            if not any(_is_number(field) for field in fields):  # a header
                kinds = [name[:1].lower() for name in fields]
                for name, kind in zip(fields, kinds):
                    if kind not in ("x", "d"):
                        raise ValueError(f"{where}: header column {name!r} must start with "
                                         "'x' (input) or 'd' (target)")
                if "x" not in kinds or "d" not in kinds:
                    raise ValueError(f"{where}: header needs an 'x' (input) and a 'd' (target) column")
                is_input = np.array([kind == "x" for kind in kinds])
                continue
            if columns < 2:
                raise ValueError(f"{where}: need at least 2 columns (inputs, then the target), got 1")
            is_input = np.arange(columns) < columns - 1
        if len(fields) != columns:
            raise ValueError(f"{where}: wrong number of columns: expected {columns}, got {len(fields)}")
        row = []
        for col, field in enumerate(fields, start=1):
            try:
                value = float(field)
            except ValueError:
                raise ValueError(f"{where}: non-numeric value {field!r} in column {col}") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: NaN or infinite value {field!r} in column {col}")
            row.append(value)
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    table = np.array(rows)
    return table[:, is_input], table[:, ~is_input]


def load_file(path: str | Path) -> Task:
    """Load a user's task from a ``.npz`` or ``.csv`` file.

    * ``.npz``: arrays ``x`` of shape ``(T, m)`` or ``(T,)`` and ``d`` of shape
      ``(T, p)`` or ``(T,)``, numeric, finite, with the same ``T >= 1``.
    * ``.csv``: comma-separated numbers, one sample per line; blank lines and
      lines starting with ``#`` are skipped. A first line with no numeric field
      is a header whose columns name inputs (``x...``) and targets (``d...``),
      in any order, e.g. ``x0,x1,d0``. Without a header the last column is the
      single target and the others (at least one) are the inputs.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; the extension (case-insensitive) selects the format.

    Returns
    -------
    Task
        Named after the file name.

    Raises
    ------
    ValueError
        With a one-line message naming the file (and the 1-based line number
        for CSV, the 0-based row index of a NaN/inf for npz) if the file is
        missing, unreadable, of unknown extension or malformed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        xs, ds = _load_npz(path)
    elif suffix == ".csv":
        xs, ds = _load_csv(path)
    else:
        raise ValueError(f"{path}: unknown extension {path.suffix!r}: expected .csv or .npz")
    return Task(path.name, xs, ds)


def get_task(name_or_path: str, steps: int | None = None, seed: int = 0) -> Task:
    """Make a built-in task by name, or load one from a file.

    Parameters
    ----------
    name_or_path : str
        A name from :data:`TASKS`, or the path of a ``.csv``/``.npz`` file.
    steps : int or None
        Built-in tasks: number of samples (default 5000). Files: keep only the
        first ``steps`` samples (default: all); more than the file holds is an
        error.
    seed : int
        Seed of a built-in task (unused for files).

    Returns
    -------
    Task

    Raises
    ------
    ValueError
        If ``steps < 1``, ``steps`` exceeds a file's length, the file is bad, or
        the name is neither a task nor an existing file. A missing path ending in
        ``.csv``/``.npz`` is reported as a missing file.
    """
    if steps is not None:
        _check_steps(steps)
    makers = {"sine": sine, "narma10": narma10, "mackey-glass": mackey_glass}
    if name_or_path in makers:
        return makers[name_or_path](5000 if steps is None else steps, seed=seed)
    path = Path(name_or_path)
    if not path.is_file() and path.suffix.lower() not in (".csv", ".npz"):
        raise ValueError(f"unknown task {name_or_path!r}: "
                         "choose sine, narma10, mackey-glass or a .csv/.npz file")
    task = load_file(path)
    if steps is None or steps == task.steps:
        return task
    if steps > task.steps:
        raise ValueError(f"{path}: steps={steps} but the file has only {task.steps} samples")
    return Task(task.name, task.xs[:steps], task.ds[:steps])
