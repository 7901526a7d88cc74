"""``rtrledit run``: stream a task to a device (a board on a serial port, or the simulated
device with ``--port sim``), print its predictions and running error, load initial weights
and save the adapted ones."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rtrledit.options import add_config_arguments, config_from_args

__all__ = ["add_arguments", "main"]

#: Default hidden units (the default of ``rtrledit build`` too).
DEFAULT_HIDDEN = 4
#: Default steps: a board (or the virtual board) streams a whole task, the frame-level
#: Amaranth simulation a short one.
DEFAULT_STEPS = {"board": 5000, "amaranth": 300}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="the board's serial port (/dev/ttyUSB0, COM3, "
                   "/dev/pts/N of rtrledit board-sim) or 'sim' for the virtual board (no "
                   "hardware: the board top under Verilator; 'sim:byte', 'sim:uart': the "
                   "frame-level Amaranth simulation, slow)")
    p.add_argument("--baud", type=int, help="serial baud rate (default 115200; with --port sim "
                   "the fastest the virtual board's UART makes)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", default="sine", help="sine | narma10 | mackey-glass (default sine)")
    src.add_argument("--input", type=Path, metavar="FILE", help="a .csv/.npz of inputs and targets")
    p.add_argument("--steps", type=int, help=f"samples to stream (default {DEFAULT_STEPS['board']}"
                   f", {DEFAULT_STEPS['amaranth']} with --port sim:byte or sim:uart; a file: all "
                   "of it)")
    p.add_argument("--learn", action=argparse.BooleanOptionalAction, default=True,
                   help="learn online (default) or run inference only (--no-learn)")
    p.add_argument("--init", type=Path, metavar="NPZ", help="load these weights first "
                   "(a checkpoint of train, run or simulate); default: seeded random weights")
    p.add_argument("--save", type=Path, metavar="NPZ", help="save the adapted weights and state "
                   "at the end (also on Ctrl-C; written atomically)")
    p.add_argument("--save-every", type=int, metavar="T", help="also save every T steps")
    add_config_arguments(p, sizes=False)
    p.add_argument("--lanes", type=int, default=1, help="PEs of the simulated device (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the task and initial weights")
    p.add_argument("--timeout", type=float, help="seconds to wait for a response (default 1 + "
                   "frame time for a serial port, 10 for the virtual board, 60 for sim:byte/uart)")
    p.add_argument("--output", type=Path, metavar="CSV", help="write every prediction here")
    p.add_argument("--print-every", type=int, metavar="T", help="print a prediction every T "
                   "steps (default: 10 lines per run; 0: none)")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")


def _setup(args):
    from rtrledit.model import init_params, load_checkpoint
    from rtrledit.model.fixed import FixedRTRL
    from rtrledit.model.tasks import get_task

    amaranth = args.port.startswith("sim:")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.save_every is not None and args.save_every < 1:
        raise ValueError(f"--save-every must be >= 1, got {args.save_every}")
    if args.input is not None:
        task = get_task(str(args.input), steps=args.steps, seed=args.seed)
    else:
        if args.task not in ("sine", "narma10", "mackey-glass"):
            raise ValueError(f"unknown task {args.task!r}: choose sine, narma10 or mackey-glass "
                             "(or --input FILE)")
        steps = args.steps or DEFAULT_STEPS["amaranth" if amaranth else "board"]
        task = get_task(args.task, steps=steps, seed=args.seed)
    ckpt = load_checkpoint(args.init) if args.init else None
    if ckpt is not None and not args.config and args.hidden is None:
        over = {k: getattr(args, k) for k in ("approx", "activation") if getattr(args, k)}
        cfg = ckpt.cfg.replace(**over)
        if (cfg.m, cfg.p) != (task.inputs, task.outputs):
            raise ValueError(f"--init {args.init}: the network has {cfg.m} inputs and {cfg.p} "
                             f"outputs, the task {task.inputs} and {task.outputs}")
    else:
        if args.hidden is None and not args.config:
            args.hidden = DEFAULT_HIDDEN
        cfg = config_from_args(args, task.inputs, task.outputs)
    if ckpt is not None:
        if (ckpt.cfg.n, ckpt.cfg.m, ckpt.cfg.p) != (cfg.n, cfg.m, cfg.p):
            raise ValueError(f"--init {args.init}: sizes (n, m, p) = "
                             f"{(ckpt.cfg.n, ckpt.cfg.m, ckpt.cfg.p)} do not match the "
                             f"config's {(cfg.n, cfg.m, cfg.p)}")
        ckpt.cfg = cfg
        state = ckpt.arrays.get("fixed") or ckpt.fixed_params()
        state = {k: state[k] for k in ("theta", "V", "c", "h", "S") if k in state}
    else:
        th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=args.seed)
        state = FixedRTRL.from_float(cfg, th, V, c).params()
    FixedRTRL(cfg, state["theta"], state["V"], state["c"])      # validates shapes and ranges
    return task, cfg, state


def main(args: argparse.Namespace) -> int:
    from rtrledit.boards.protocol import ProtocolError
    from rtrledit.firmware import Device, open_transport
    from rtrledit.model.checkpoint import save_checkpoint
    from rtrledit.train import Progress

    task, cfg, state = _setup(args)
    if args.lanes < 1:
        raise ValueError(f"--lanes must be >= 1, got {args.lanes}")
    out_csv = None
    T = task.steps
    every = args.print_every if args.print_every is not None else max(1, T // 10)
    quiet = args.json
    fm = cfg.formats
    ys = np.zeros((T, cfg.p))
    flags = np.zeros(T, np.int64)
    done = 0
    saved = []
    interrupted = False
    bar = None
    dev = None
    transport = None

    def say(msg: str) -> None:
        if not quiet:
            (bar._bar.write(msg, file=sys.stdout) if bar is not None else print(msg))

    def save(reason: str) -> None:
        ck = dev.checkpoint()
        save_checkpoint(args.save, ck)
        saved.append({"step": done, "why": reason})

    try:
        try:
            transport = open_transport(args.port, cfg, args.lanes, args.baud)
            dev = Device(transport, cfg, timeout=args.timeout)
        except (TimeoutError, ConnectionError, ProtocolError, RuntimeError) as e:
            baud = getattr(transport, "baud", None)
            at = f" at {baud} baud" if baud else ""
            print(f"rtrledit run: error: cannot reach the device on {args.port}{at}: {e}",
                  file=sys.stderr)
            if transport is not None:
                transport.close()
            return 1
        if args.output:
            out_csv = open(args.output, "w")
            out_csv.write(",".join([f"y{o}" for o in range(cfg.p)]
                                   + [f"d{o}" for o in range(cfg.p)] + ["flags"]) + "\n")
        dev.set_learning(False)
        dev.load_state(state)
        if "h" not in state:
            dev.reset_state()
        dev.set_learning_rates(cfg.eta, cfg.eta_o)
        dev.set_learning(args.learn)
        steps0 = dev.steps()
        bar = Progress(T, disable=quiet, desc=f"run {task.name} on {args.port}")
        sq_run = [0.0, 0]
        chunk = args.save_every or T

        def on_results(t_done, y_int, fl):
            nonlocal done
            y = np.asarray(y_int) / fm.Y.one
            for k in range(len(y)):
                t = t_done - len(y) + k
                ys[t], flags[t] = y[k], fl[k]
                err = float(((y[k] - task.ds[t]) ** 2).mean())
                sq_run[0] = err if sq_run[1] == 0 else 0.99 * sq_run[0] + 0.01 * err
                sq_run[1] += 1
                if out_csv is not None:
                    out_csv.write(",".join(f"{v:.6g}" for v in (*y[k], *task.ds[t]))
                                  + f",{int(fl[k])}\n")
                if every and (t + 1) % every == 0:
                    say(f"step {t + 1:>7}: y = {', '.join(f'{v:+.4f}' for v in y[k])}  "
                        f"d = {', '.join(f'{v:+.4f}' for v in task.ds[t])}  "
                        f"running MSE {sq_run[0]:.4g}")
            done = t_done
            bar._bar.set_postfix_str(f"mse {sq_run[0]:.3g}", refresh=False)
            bar.update(len(y))

        started = time.perf_counter()
        try:
            for t0 in range(0, T, chunk):
                k = min(chunk, T - t0)
                base = done
                dev.run(task.xs[t0:t0 + k], task.ds[t0:t0 + k],
                        callback=lambda td, y, f: on_results(base + td, y, f))
                if args.save and args.save_every and t0 + k < T:
                    save("periodic")
        except KeyboardInterrupt:
            interrupted = True
            say(f"interrupted after {done} of {T} steps")
            try:
                dev.drain()
            except KeyboardInterrupt:
                pass
            done = max(done, 0)
        seconds = time.perf_counter() - started
        bar.close()
        bar = None
        if args.save:
            save("interrupted" if interrupted else "end")
        sat = dev.saturation()
        dev_steps = (dev.steps() - steps0) & 0xFFFFFFFF
    except (TimeoutError, ConnectionError, ProtocolError) as e:
        if bar is not None:
            bar.close()
        last = f"; the last save (step {saved[-1]['step']}) in {args.save} is intact" if saved \
            else ("; nothing was saved" if args.save else "")
        print(f"rtrledit run: error: after {done} of {T} steps: {e}{last}", file=sys.stderr)
        return 1
    finally:
        if out_csv is not None:
            out_csv.close()
        if dev is not None:
            dev.close()
    err = (ys[:done] - task.ds[:done]) ** 2
    k = max(1, done // 10)
    result = {"port": args.port, "task": task.name, "steps": done, "requested_steps": T,
              "hidden": cfg.n, "inputs": cfg.m, "outputs": cfg.p, "approx": cfg.approx,
              "learn": bool(args.learn), "interrupted": interrupted,
              "mse_first": float(err[:k].mean()) if done else None,
              "mse_last": float(err[done - k:done].mean()) if done else None,
              "device_steps": int(dev_steps), "seconds": seconds,
              "steps_per_s": done / seconds if seconds else None, "saturation": sat,
              "saved": str(args.save) if args.save else None}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{task.name} on {args.port}: {done} steps in {seconds:.1f} s, n = {cfg.n}, "
              f"{cfg.approx} RTRL, learning {'on' if args.learn else 'off'}")
        if done:
            print(f"MSE first 10%: {result['mse_first']:.5g}   last 10%: {result['mse_last']:.5g}")
        hot = {k: v for k, v in sat.items() if v}
        print("saturations: " + (", ".join(f"{k} {v}" for k, v in hot.items()) or "none"))
        if args.save:
            print(f"saved the adapted weights to {args.save}")
    return 130 if interrupted else 0
