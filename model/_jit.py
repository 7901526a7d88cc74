"""``jit``: numba's ``njit(cache=True)``, with the cache in the user's cache folder.

numba writes its cache next to the module by default, which for a normal install is
site-packages; files left there outlive ``pip uninstall`` and make the leftover folder
shadow a later editable install. So the cache goes to ``$NUMBA_CACHE_DIR`` when the user
set it, else to ``<user cache folder>/rtrledit/numba`` (``~/.cache/rtrledit/numba`` on
Linux, honouring ``$XDG_CACHE_HOME``). numba picks a function's cache folder when the
function is decorated, so every jitted function of the package is decorated by ``jit``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numba
import platformdirs

__all__ = ["jit", "cache_dir", "user_cache_dir"]


def user_cache_dir() -> Path:
    """The package's user cache folder (never inside the install tree)."""
    return Path(platformdirs.user_cache_dir("rtrledit", appauthor=False))


def cache_dir() -> Path:
    """Where numba keeps the compiled kernels: ``$NUMBA_CACHE_DIR`` or the user cache."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or user_cache_dir() / "numba")


# The environment variable as well as numba's config: numba re-reads its config from the
# environment before compiling, and child processes (Dask workers, cocotb) inherit it.
os.environ["NUMBA_CACHE_DIR"] = str(cache_dir())
numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def jit(fn):
    """``numba.njit(cache=True)(fn)`` with the cache in :func:`cache_dir`."""
    return numba.njit(cache=True)(fn)
