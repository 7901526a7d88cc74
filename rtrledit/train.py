"""``rtrledit train``: online learning on a task with the float and/or the integer model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rtrledit.model import Config
from rtrledit.options import add_config_arguments, config_from_args
from rtrledit.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rtrledit.model.config import SAT_NAMES
from rtrledit.model.fixed import FixedRTRL
from rtrledit.model.reference import FloatRTRL, init_params
from rtrledit.model.requant import dequantise
from rtrledit.model.tasks import TASKS, get_task

__all__ = ["add_arguments", "main", "Progress"]

CHUNK = 250  # steps per progress-bar update


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default="sine",
                   help=f"{' | '.join(TASKS)} | a .csv/.npz file of inputs and targets (default sine)")
    p.add_argument("--steps", type=int, default=None, help="time steps (default 5000)")
    p.add_argument("--model", choices=("float", "fixed", "both"), default="both")
    add_config_arguments(p, sizes=False)
    p.add_argument("--seed", type=int, default=0, help="seed of the task and the initial weights")
    p.add_argument("--json", action="store_true", help="print one JSON object, no progress bar")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write the learning curve here")
    p.add_argument("--save", type=Path, metavar="NPZ", help="save the final parameters and state")
    p.add_argument("--init", type=Path, metavar="NPZ", help="start from a saved checkpoint")


class Progress:
    """A tqdm bar on stderr that appears only for runs longer than a second."""

    def __init__(self, total: int, disable: bool, desc: str = "") -> None:
        from tqdm import tqdm
        self._bar = tqdm(total=total, desc=desc, unit="step", delay=1.0, disable=disable,
                         file=sys.stderr, leave=False)

    def update(self, k: int) -> None:
        self._bar.update(k)

    def close(self) -> None:
        self._bar.close()


def _mse_ends(sq: np.ndarray) -> tuple[float, float]:
    k = max(1, len(sq) // 10)
    return float(sq[:k].mean()), float(sq[-k:].mean())


def main(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    task = get_task(args.task, steps=args.steps, seed=args.seed)
    ckpt = load_checkpoint(args.init) if args.init else None
    if ckpt and not args.config and args.hidden is None:
        over = {k: getattr(args, k) for k in ("approx", "activation") if getattr(args, k)}
        cfg = ckpt.cfg.replace(**over)
    else:
        cfg = config_from_args(args, task.inputs, task.outputs)
    if ckpt and (ckpt.cfg.n, ckpt.cfg.m, ckpt.cfg.p) != (cfg.n, cfg.m, cfg.p):
        raise ValueError(f"--init {args.init}: sizes (n, m, p) = {(ckpt.cfg.n, ckpt.cfg.m, ckpt.cfg.p)}"
                         f" do not match the config's {(cfg.n, cfg.m, cfg.p)}")
    if ckpt is None:
        th, V, c = init_params(cfg.n, cfg.m, cfg.p, seed=args.seed)
        ckpt = Checkpoint(cfg, {"float": {"theta": th, "V": V, "c": c}})
    ckpt.cfg = cfg
    run_float = args.model in ("float", "both")
    run_fixed = args.model in ("fixed", "both")
    T = task.steps
    bar = Progress(T * (run_float + run_fixed), disable=args.json, desc=f"train {task.name}")
    sq: dict[str, np.ndarray] = {}
    out = Checkpoint(cfg)
    try:
        if run_float:
            fl = FloatRTRL.from_config(cfg, **ckpt.float_params())
            sq["float"] = np.empty(T)
            for t0 in range(0, T, CHUNK):
                r = fl.run(task.xs[t0:t0 + CHUNK], task.ds[t0:t0 + CHUNK], learn=True)
                sq["float"][t0:t0 + len(r.y)] = 2 * r.loss / cfg.p
                bar.update(len(r.y))
            out.arrays["float"] = {"theta": fl.theta, "V": fl.V, "c": fl.c, "h": fl.h, "S": fl.S}
        if run_fixed:
            fx = FixedRTRL(cfg, **ckpt.fixed_params())
            xs, ds = fx.quantise_inputs(task.xs, task.ds)
            sq["fixed"] = np.empty(T)
            for t0 in range(0, T, CHUNK):
                r = fx.run(xs[t0:t0 + CHUNK], ds[t0:t0 + CHUNK], learn=True)
                e = dequantise(r.e, cfg.formats.Y)
                sq["fixed"][t0:t0 + len(e)] = (e ** 2).mean(axis=1)
                bar.update(len(e))
            out.arrays["fixed"] = fx.state()
    finally:
        bar.close()
    result = {"task": task.name, "steps": T, "hidden": cfg.n, "inputs": cfg.m,
              "outputs": cfg.p, "model": args.model, "approx": cfg.approx,
              "activation": cfg.activation}
    main_curve = sq["fixed"] if run_fixed else sq["float"]
    result["mse_first"], result["mse_last"] = _mse_ends(main_curve)
    for kind, curve in sq.items():
        result[f"mse_first_{kind}"], result[f"mse_last_{kind}"] = _mse_ends(curve)
    if run_fixed:
        result["saturation"] = dict(zip(SAT_NAMES, map(int, fx.sat)))
    if args.plot:
        _plot(args.plot, sq, task.name, cfg)
    if args.save:
        save_checkpoint(args.save, out)
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result, sq)
    return 0


def _print_summary(result: dict, sq: dict[str, np.ndarray]) -> None:
    print(f"task {result['task']}: {result['steps']} steps, n = {result['hidden']}, "
          f"{result['approx']} RTRL, {result['activation']}")
    print(f"{'model':<8}{'MSE first 10%':>16}{'MSE last 10%':>16}")
    for kind in sq:
        print(f"{kind:<8}{result[f'mse_first_{kind}']:>16.5g}{result[f'mse_last_{kind}']:>16.5g}")
    if "saturation" in result:
        hot = {k: v for k, v in result["saturation"].items() if v}
        print("saturations (integer model): " + (", ".join(f"{k} {v}" for k, v in hot.items())
                                                 or "none"))


def _plot(path: Path, sq: dict[str, np.ndarray], task: str, cfg: Config) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    w = max(1, len(next(iter(sq.values()))) // 100)
    for kind, curve in sq.items():
        smooth = np.convolve(curve, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(len(smooth)) + w, smooth, label=f"{kind}")
    ax.set_yscale("log")
    ax.set_xlabel("time step")
    ax.set_ylabel(f"squared error (moving mean, {w} steps)")
    ax.set_title(f"{task}: n = {cfg.n}, {cfg.approx} RTRL, {cfg.activation}")
    ax.legend()
    fig.tight_layout()
    from rtrledit.model.checkpoint import atomic_write
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
