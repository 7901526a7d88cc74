"""``rtrledit verify``: a CI-sized run on both simulators, resuming, a fault injected into
the native harness's answers (verify stops with the replay command, exit 1), the replay
with waveforms, and bad input."""

import contextlib
import dataclasses
import io
import json
import os
import shlex

import pytest

import rtrledit.sim.native as native
import rtrledit.verify as verify
from rtrledit.cli import main
from rtrledit.hdl.core import cycles_per_step
from rtrledit.sim.random_jobs import random_job

#: 2 configs of 150 steps, at most 3 hidden units, Verilator unoptimised: quick builds
SMALL = ["--configs", "2", "--steps", "150", "--max-hidden", "3", "--no-optimise"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    return tmp_path_factory.mktemp("builds")


@pytest.fixture(scope="module")
def ci_run(builds, tmp_path_factory):
    """Both simulators, the configs spread over a local Dask cluster of two workers."""
    out = tmp_path_factory.mktemp("verify")
    argv = ["verify", *SMALL, "--simulator", "both", "-o", str(out), "--build-dir", str(builds)]
    return out, argv, _run(argv + ["--workers", "2"])


def _run(argv) -> tuple[int, str]:
    """``rtrledit ARGV``'s exit status and standard output."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue()


def _log(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_ci_run_is_bit_exact_on_both_simulators(ci_run):
    out, argv, (rc, text) = ci_run
    assert rc == 0, text
    recs = _log(out)
    assert sorted((r["simulator"], r["seed"]) for r in recs) == [
        ("icarus", 0), ("icarus", 1), ("verilator", 0), ("verilator", 1)]
    for r in recs:
        job = random_job(r["seed"], steps=150, max_hidden=3)
        assert r["status"] == "ok" and r["mismatches"] == 0 and r["steps"] == 150
        assert (r["hidden"], r["lanes"]) == (job.cfg.n, job.lanes) and job.cfg.n <= 3
        # the simulator ran every step: at least the core's cycles for each mode segment
        assert r["cycles"] >= sum(s.steps * cycles_per_step(
            job.cfg, job.lanes, s.learn, s.track, spram=bool(r["spram"])) for s in job.segments)
    table = (out / "verify.csv").read_text().splitlines()
    assert table[0].split(",") == list(verify.COLUMNS) and len(table) == 5
    assert "verilator: 2 configs bit-exact, 300 steps" in text
    assert "icarus: 2 configs bit-exact, 300 steps" in text


def test_rerun_skips_what_passed(ci_run, monkeypatch):
    out, argv, (rc, _) = ci_run
    assert rc == 0
    recs = _log(out)
    with open(out / "results.jsonl", "a") as fh:           # an interrupted write
        fh.write('{"id": "verilator-seed1')
    ran = []
    monkeypatch.setattr(verify, "run_case", lambda case, *a, **k: ran.append(case) or {})
    rc, text = _run(argv + ["--json"])
    assert rc == 0 and ran == []
    s = json.loads(text)
    assert s["reused"] == s["configs"] == s["passed"] == 4
    assert _log(out) == recs                              # the torn line is gone
    # a config missing from the log is run again, and only it
    last = recs[-1]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:-1]))
    monkeypatch.setattr(verify, "run_case", lambda case, *a, **k: ran.append(case) or last)
    rc, text = _run(argv + ["--json"])
    assert rc == 0 and [c.id for c in ran] == [last["id"]]
    assert json.loads(text)["reused"] == 3 and len(_log(out)) == 4


def test_injected_fault_stops_with_replay_command(ci_run, builds, tmp_path, monkeypatch):
    run_program = native.run_program
    at = 5

    def corrupted(exe, prog):                      # bit 0 of the result of step `at`
        run = run_program(exe, prog)
        streams, t0 = [], 0
        for s in run.streams:
            k = at - t0
            if 0 <= k < len(s.payload):
                s = dataclasses.replace(s, payload=[p ^ (i == k) for i, p in enumerate(s.payload)])
            streams.append(s)
            t0 += len(s.payload)
        return dataclasses.replace(run, streams=streams)
    monkeypatch.setattr(native, "run_program", corrupted)
    out = tmp_path / "v"
    rc, text = _run(["verify", *SMALL, "--simulator", "verilator", "-o", str(out),
                     "--build-dir", str(builds)])
    assert rc == 1
    recs = _log(out)
    assert [r["status"] for r in recs] == ["mismatch"]        # stopped at the first config
    assert recs[0]["first_mismatch"]["step"] == at
    assert "verify: MISMATCH on verilator, seed 0" in text and f"step {at}," in text
    assert '"hidden": ' in text                               # the config is printed
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("replay: "))
    cmd = shlex.split(line.split("replay: ", 1)[1])
    assert cmd[:4] == ["rtrledit", "verify", "--replay", "0"] and "--waves" in cmd
    assert cmd[cmd.index("--until") + 1] == str(at + 1)
    # the replay runs that case alone and finds the same difference (without --waves: the
    # native harness, whose build is cached)
    replay = cmd[1:cmd.index("--waves")] + ["--build-dir", str(builds), "--no-optimise",
                                            "--json"]
    rc, text = _run(replay)
    assert rc == 1 and json.loads(text)["first_mismatch"]["step"] == at
    monkeypatch.setattr(native, "run_program", run_program)
    assert _run(replay)[0] == 0


def test_replay_writes_waveforms(tmp_path):
    rc, text = _run(["verify", "--replay", "1", "--steps", "20", "--max-hidden", "3",
                     "--simulator", "icarus", "--waves", str(tmp_path), "--json"])
    rec = json.loads(text)
    assert rc == 0 and rec["status"] == "ok" and rec["steps"] == 20
    assert rec["waves"] and all(os.path.getsize(w) > 0 for w in rec["waves"])


@pytest.mark.parametrize("args,msg", [
    (["--steps", "2"], "--steps must be >= 4"),
    (["--configs", "0"], "--configs must be >= 1"),
    (["--until", "3"], "--until and --waves go with --replay"),
    (["--replay", "1", "--steps", "10", "--until", "11"], "--until 11 is past"),
])
def test_bad_input(args, msg, tmp_path, capsys):
    assert main(["verify", *args, "-o", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()


def test_missing_simulator_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import rtrledit.toolchain as toolchain

    def require(key):
        if key == "iverilog":
            raise toolchain.MissingTool("iverilog: not found; apt-get install iverilog")
        return key
    monkeypatch.setattr(toolchain, "require", require)
    assert main(["verify", "--simulator", "both", "-o", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "iverilog: not found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()
