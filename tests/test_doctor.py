"""``rtrledit doctor`` against what is really installed, and the same one-line message from
a command that needs a missing tool."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata

from rtrledit.toolchain import TOOLS

KEYS = set(TOOLS)


def _rtrledit(*args: str, path: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "rtrledit.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=900)


def test_doctor_reports_every_tool_as_found_independently():
    p = _rtrledit("doctor", "--json")
    rep = json.loads(p.stdout)
    tools = {t["key"]: t for t in rep["tools"]}
    assert set(tools) == KEYS
    assert p.returncode == (0 if rep["ok"] else 1)
    assert rep["ok"] == all(t["ok"] for t in tools.values())
    # independent checks of a few of them
    assert tools["iverilog"]["ok"] == (shutil.which("iverilog") is not None)
    assert tools["solver"]["ok"] == bool(shutil.which("z3") or shutil.which("boolector"))
    assert tools["cocotb"]["version"] == metadata.version("cocotb")
    assert tools["amaranth-boards"]["version"] == metadata.version("amaranth-boards")
    for t in tools.values():
        assert t["ok"] or t["install"]
    if os.environ.get("CI"):           # the README's two commands promise all of them
        assert rep["ok"], [f"{t['name']}: {t['detail']}" for t in tools.values() if not t["ok"]]


def test_a_missing_tool_gives_the_doctors_line_in_doctor_and_in_the_command(tmp_path):
    # PATH holds only this environment's scripts: Icarus Verilog (in /usr/bin) is gone
    path = sysconfig.get_path("scripts")
    assert shutil.which("iverilog", path=path) is None
    p = _rtrledit("doctor", "--json", path=path)
    assert p.returncode == 1
    ivl = next(t for t in json.loads(p.stdout)["tools"] if t["key"] == "iverilog")
    assert not ivl["ok"] and ivl["install"] == "apt-get install -y iverilog"
    line = f"{ivl['name']} {ivl['detail']}: {ivl['install']}"
    text = _rtrledit("doctor", path=path).stdout
    assert line in text
    s = _rtrledit("simulate", "--simulator", "icarus", "--hidden", "2", "--steps", "2",
                  path=path, cwd=tmp_path)
    assert s.returncode == 2
    assert s.stderr.strip() == f"rtrledit simulate: error: {line}"
