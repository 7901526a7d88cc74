"""Cycles per step of the learning core, and simulation speed on Icarus and Verilator.

Usage: python benchmarks/core_sim.py [--cycles] [--speed] [--steps 300]

--cycles  for n in {4, 8, 16} (m = 4, p = 1, 16-bit formats) and L in {1, 4, 8}, exact
          RTRL, and SnAp-1: the cycles per learning and per inference step measured on
          Verilator (a few steps, bit-exact with the model), next to n·n·(n·q)/L and the
          ratio of the learning step to it;
--speed   simulated clock cycles per second while samples stream (n = 8, L = 4, exact,
          learning): the native Verilator harness (sim/native.py, C++ only while it runs;
          the scoreboard checks afterwards), once as it runs (one model evaluation a
          cycle) and once built to evaluate at clk = 0 as well (as before), cocotb on
          Verilator (clock in the HDL) and on Icarus (cocotb's GPI clock; the scoreboard
          running alongside), side by side; per wall-clock second and per CPU second of
          the process that simulates (the harness; the simulator with cocotb in it),
          the fairer figure on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from rtrledit.hdl.core import cycles_per_step
from rtrledit.model import Config, FixedRTRL, init_params
from rtrledit.model.tasks import sine
from rtrledit.sim.job import Job, Segment
from rtrledit.sim.native import build as native_build, check, compile_job, run_program, simulate_native
from rtrledit.sim.runner import simulate


def job_for(cfg: Config, lanes: int, steps: int, infer: int) -> Job:
    fx = FixedRTRL.from_float(cfg, *init_params(cfg.n, cfg.m, cfg.p, seed=0))
    task = sine(steps + infer, seed=0)
    xs = np.repeat(task.xs, cfg.m, axis=1) / cfg.m
    xi, di = fx.quantise_inputs(xs, task.ds)
    segs = [Segment(steps)] + ([Segment(infer, learn=False, track=False)] if infer else [])
    return Job(cfg, lanes, fx.theta, fx.V, fx.c, xi, di, segs)


def cycles_table(build: str) -> str:
    rows = ["| approx | n | L | learning step (cycles) | inference step (cycles) | "
            "n·n·(n·q)/L | learning / n·n·(n·q)/L | bit-exact |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    cases = [("exact", n, L) for n in (4, 8, 16) for L in (1, 4, 8)]
    cases += [("snap1", n, 1) for n in (4, 8, 16, 64)]
    for approx, n, L in cases:
        cfg = Config(hidden=n, inputs=4, outputs=1, approx=approx)
        rep = simulate(job_for(cfg, L, 3, 2), "verilator", build_root=build)
        c = rep["cycles_per_step"]
        ideal = n * n * n * cfg.q / L
        assert c["learn"] == cycles_per_step(cfg, L)
        rows.append(f"| {approx} | {n} | {L} | {c['learn']:,.0f} | {c['infer']:,.0f} | "
                    f"{ideal:,.0f} | {c['learn'] / ideal:.3f} | {rep['bitexact']} |")
    return "\n".join(rows)


def speed_table(build: str, steps: int) -> str:
    rows = ["| simulator | steps | cycles per step | simulated cycles/s | per CPU second "
            "| bit-exact |", "|---|---:|---:|---:|---:|---|"]
    cfg = Config(hidden=8, inputs=1, outputs=1)
    for sim in ("native", "native, clk = 0 evaluated too", "verilator", "icarus"):
        n_steps = {"verilator": 3 * steps, "icarus": max(20, steps // 10)}.get(sim, 10 * steps)
        job = job_for(cfg, 4, n_steps, 0)
        if sim == "native":
            rep = simulate_native(job, build)
        elif sim.startswith("native"):
            prog = compile_job(job)
            rep = check(job, prog, run_program(native_build(job, build, eval_low=True), prog))[0]
        else:
            rep = simulate(job, sim, build_root=build)
        rows.append(f"| {sim} | {n_steps} | {rep['cycles_per_step']['learn']:,.0f} | "
                    f"{rep['sim_cycles_per_second']:,.0f} | "
                    f"{rep['stream_cycles'] / rep['stream_cpu_seconds']:,.0f} | {rep['bitexact']} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", action="store_true")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as build:
        if args.cycles or not args.speed:
            print(cycles_table(build))
            print()
        if args.speed or not args.cycles:
            before = os.getloadavg()[0]
            print(speed_table(build, args.steps))
            print(f"\nload average (1 min) {before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
