"""The package on a fresh machine: every import declared, optional extras fail in one line,
and installs in either order leave a working ``rtrledit`` (nothing written into site-packages).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
import venv
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
META = tomllib.loads((ROOT / "pyproject.toml").read_text())
PKGDIRS = META["tool"]["setuptools"]["package-dir"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(specs: list[str]) -> set[str]:
    """The distributions requirements name, with those their extras bring by name
    (``dask[distributed]`` -> dask, distributed)."""
    out = set()
    for s in specs:
        out.add(_norm(re.split(r"[\s<>=!~\[;(]", s.strip(), maxsplit=1)[0]))
        m = re.search(r"\[([^\]]*)\]", s)
        out |= {_norm(x) for x in m.group(1).split(",")} if m else set()
    return out


CORE = _names(META["project"]["dependencies"])
EXTRAS = {k: _names(v) for k, v in META["project"]["optional-dependencies"].items()}


def _imports() -> dict[str, set[str]]:
    """Top-level module -> the package files that import it (any import statement, also
    inside functions, and ``importlib.import_module("...")`` with a constant)."""
    found: dict[str, set[str]] = {}
    for folder in set(PKGDIRS.values()):
        for f in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
                      and node.args and isinstance(node.args[0], ast.Constant)):
                    names = [node.args[0].value]
                elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
                      and node.args and isinstance(node.args[0], ast.JoinedStr)):
                    head = node.args[0].values[0]
                    names = [head.value] if isinstance(head, ast.Constant) else []
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(f.relative_to(ROOT)))
    own = {k.split(".")[0] for k in PKGDIRS}
    return {m: fs for m, fs in found.items()
            if m and m not in sys.stdlib_module_names and m not in own and m != "__future__"}


def test_the_import_walk_sees_known_imports():
    # the walk must find what the package is known to import, or the next test proves nothing
    mods = _imports()
    assert {"numpy", "numba", "amaranth", "amaranth_boards", "platformdirs", "cocotb"} <= set(mods)
    assert "os" not in mods and "rtrledit" not in mods


def test_every_third_party_import_is_declared():
    provided = metadata.packages_distributions()
    declared = CORE.union(*EXTRAS.values())
    bad = []
    for mod, files in sorted(_imports().items()):
        dists = {_norm(d) for d in provided.get(mod, [])}
        if not dists & declared:
            bad.append(f"{mod} (imported by {', '.join(sorted(files))}; installed from "
                       f"{', '.join(sorted(dists)) or 'nothing'})")
    assert not bad, "imports that pyproject.toml does not declare:\n" + "\n".join(bad)


def test_the_sim_extra_missing_is_one_line_naming_it(tmp_path):
    # cocotb hidden, as on a machine that ran only `pip install .`
    code = ("import sys; sys.modules['cocotb'] = None; sys.modules['cocotb_tools'] = None\n"
            "from rtrledit.cli import main; sys.exit(main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", code, "simulate", "--simulator", "icarus",
                        "--hidden", "2", "--steps", "2"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert "cocotb" in lines[0] and '".[sim]"' in lines[0]


# --------------------------------------------------------------------------- install order
def _sources(dest: Path) -> Path:
    """A copy of the checkout's tracked files (building must not touch the checkout)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
    return dest


def _site(env: Path) -> Path:
    return next((env / "lib").glob("python*/site-packages"))


@pytest.fixture
def env(tmp_path):
    """A new virtual environment that sees this environment's packages (through a .pth
    file, so ``pip install --no-deps`` needs no download) but none of its rtrledit."""
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    e = tmp_path / "venv"
    venv.create(e, with_pip=True)
    outer = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (_site(e) / "_outer.pth").write_text("\n".join(outer) + "\n")
    return e


def _run(env: Path, tmp: Path, *cmd: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHON"))}
    environ.update(XDG_CACHE_HOME=str(tmp / "cache"), PATH=f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}")
    environ.pop("VIRTUAL_ENV", None)
    work = tmp / "elsewhere"            # outside the checkout, as a user runs it
    work.mkdir(exist_ok=True)
    return subprocess.run(list(cmd), capture_output=True, text=True, cwd=work, env=environ,
                          timeout=900)


def _install(env: Path, tmp: Path, src: Path, editable: bool) -> None:
    p = _run(env, tmp, str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
             *(["-e"] if editable else []), str(src))
    assert p.returncode == 0, p.stdout + p.stderr


def _works(env: Path, tmp: Path, where: Path) -> None:
    p = _run(env, tmp, str(env / "bin" / "rtrledit"), "--version")
    assert p.returncode == 0 and p.stdout.startswith("rtrledit "), p.stdout + p.stderr
    p = _run(env, tmp, str(env / "bin" / "python"), "-c",
             "import rtrledit.model.fixed as f; print(f.__file__)")
    assert p.returncode == 0, p.stderr
    assert Path(p.stdout.strip()).resolve().is_relative_to(where.resolve()), p.stdout


def _train(env: Path, tmp: Path) -> None:
    p = _run(env, tmp, str(env / "bin" / "rtrledit"), "train", "--hidden", "2", "--steps", "20",
             "--model", "fixed", "--json")
    assert p.returncode == 0, p.stderr


def _untracked(site: Path) -> set[str]:
    """Files under site-packages/rtrledit that the install's RECORD does not list."""
    pkg = site / "rtrledit"
    if not pkg.exists():
        return set()
    record = next(site.glob("rtrledit-*.dist-info")) / "RECORD"
    listed = {ln.split(",")[0] for ln in record.read_text().splitlines()}
    return {str(f.relative_to(site)) for f in pkg.rglob("*") if f.is_file()
            and str(f.relative_to(site)) not in listed and f.suffix != ".pyc"}


def _numba_cache(env: Path, tmp: Path) -> Path:
    """Where the installed package points numba's cache (no kernel compiled)."""
    p = _run(env, tmp, str(env / "bin" / "python"), "-c",
             "import numba, rtrledit.model.fixed; print(numba.config.CACHE_DIR)")
    assert p.returncode == 0, p.stderr
    return Path(p.stdout.strip())


@pytest.mark.parametrize("train", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_install_then_editable_then_install(env, tmp_path, train):
    """Installs in either order: no leftover folder shadows the editable install, each
    install is the one imported, numba's cache points into the user cache folder. With
    ``train`` (slow: the kernels compile twice) a learning run after each install, and
    the compiled files are where they belong, nothing in site-packages or the checkout."""
    src = _sources(tmp_path / "src")
    site = _site(env)
    _install(env, tmp_path, src, editable=False)
    _works(env, tmp_path, site)
    assert _numba_cache(env, tmp_path) == tmp_path / "cache" / "rtrledit" / "numba"
    if train:
        _train(env, tmp_path)                      # compiles the numba kernels
        assert not _untracked(site), "written into site-packages at run time"
        cached = list((tmp_path / "cache" / "rtrledit" / "numba").rglob("*.nbi"))
        assert cached, "the numba cache is not in the user cache folder"
    _install(env, tmp_path, src, editable=True)
    assert not (site / "rtrledit").exists(), "a leftover folder would shadow the editable install"
    _works(env, tmp_path, src)
    if train:
        _train(env, tmp_path)
        assert not list(src.rglob("*.nbi")), "numba cache written into the checkout"
    _install(env, tmp_path, src, editable=False)
    _works(env, tmp_path, site)
