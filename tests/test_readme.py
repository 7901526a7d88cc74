"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "fixed MSE" in out and (tmp_path / "state.npz").exists()
    assert (tmp_path / "my.toml").exists()


def test_readme_commands_are_what_ci_runs_in_a_new_venv():
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    text = README.read_text()
    setup = re.search(r"```sh\n(pip install \. && rtrledit train)\n```", text).group(1)
    tests = re.search(r"```sh\n(apt-get update.*?)\n```", text, re.S).group(1).strip()
    assert setup in ci and tests in ci and ci.index(setup) < ci.index(tests)
    venv = next(i for i, ln in enumerate(ci) if "-m venv" in ln)
    activate = next(i for i, ln in enumerate(ci) if "/bin/activate" in ln)
    assert venv < activate < ci.index(setup)
    assert "mktemp" in "\n".join(ci[:venv + 1])      # a new environment every run
