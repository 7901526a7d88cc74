"""Save and load parameters and state as .npz checkpoints.

A checkpoint holds the Config (as JSON) and, for each model it came from, arrays under
a prefix: ``fixed.theta`` (integers in the Config's formats), ``float.theta`` (float64),
and likewise ``V``, ``c``, ``h``, ``S`` and, for the integer model, ``lfsr``, ``sat``,
``steps``. Files are written atomically: a temporary file in the same folder, renamed
into place when complete, so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Config
from .requant import dequantise, quantise

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "atomic_write"]

KINDS = ("fixed", "float")


@dataclass
class Checkpoint:
    """A Config and per-model arrays: ``arrays["fixed"]`` / ``arrays["float"]`` dicts."""

    cfg: Config
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def fixed_params(self) -> dict[str, np.ndarray]:
        """Θ, V, c as integers: the saved integers, or the saved floats quantised."""
        fm = self.cfg.formats
        if "fixed" in self.arrays:
            return {k: self.arrays["fixed"][k] for k in ("theta", "V", "c")}
        f = self.arrays["float"]
        return {"theta": quantise(f["theta"], fm.P), "V": quantise(f["V"], fm.O),
                "c": quantise(f["c"], fm.O)}

    def float_params(self) -> dict[str, np.ndarray]:
        """Θ, V, c as floats: the saved floats, or the saved integers' values."""
        fm = self.cfg.formats
        if "float" in self.arrays:
            return {k: self.arrays["float"][k] for k in ("theta", "V", "c")}
        f = self.arrays["fixed"]
        return {"theta": dequantise(f["theta"], fm.P), "V": dequantise(f["V"], fm.O),
                "c": dequantise(f["c"], fm.O)}


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to ``path`` (.npz) atomically."""
    flat = {"config": np.array(ckpt.cfg.to_json())}
    for kind, arrs in ckpt.arrays.items():
        if kind not in KINDS:
            raise ValueError(f"checkpoint kind {kind!r} is not one of {KINDS}")
        flat.update({f"{kind}.{k}": np.asarray(v) for k, v in arrs.items()})
    atomic_write(path, lambda fh: np.savez(fh, **flat))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read checkpoint {path}: {e}") from None
    if "config" not in data:
        raise ValueError(f"checkpoint {path}: no 'config' entry (not an rtrledit checkpoint)")
    cfg = Config.from_dict(json.loads(str(data.pop("config"))))
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for key, v in data.items():
        kind, _, name = key.partition(".")
        if kind not in KINDS or not name:
            raise ValueError(f"checkpoint {path}: unexpected entry {key!r}")
        arrays.setdefault(kind, {})[name] = v
    if not arrays:
        raise ValueError(f"checkpoint {path}: holds no parameters")
    for kind, arrs in arrays.items():
        missing = {"theta", "V", "c"} - set(arrs)
        if missing:
            raise ValueError(f"checkpoint {path}: {kind} parameters lack {sorted(missing)}")
    return Checkpoint(cfg, arrays)
