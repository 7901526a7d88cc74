"""The precision study of docs/precision.md: a bit-width sweep over three tasks, two hidden
sizes, both activations, exact RTRL and SnAp-1, nearest and stochastic update rounding,
several seeds a point.

Usage: python benchmarks/precision_study.py [-o OUT] [--figures docs/figures/precision]
                                            [--seeds K] [--activation A ...] [--hidden N ...]
                                            [--workers K] [--scheduler ADDR]

Writes OUT/grid.toml and runs ``rtrledit sweep --grid OUT/grid.toml -o OUT`` (resumable:
rerun it to finish an interrupted study), then prints, per task, hidden size,
activation, approximation and rounding, the smallest widths of S and Θ at which the
integer model's final error is within 10% of the float model's (see :func:`smallest`),
judged on the median over the seeds of the relative error, with the worst seed beside
it, as Markdown; and draws the median and the min–max over the seeds (:func:`plot_spread`)
into ``--figures``. ``--seeds``, ``--activation`` and ``--hidden`` make a smaller study.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import tomli_w

from rtrledit.cli import main as cli
from rtrledit.model.explore import WITHIN, Spread

WIDTHS = [8, 10, 12, 14, 16, 20, 24]
SEEDS = 5
GRID = {
    "tasks": ["sine", "narma10", "mackey-glass"],
    "hidden": [16, 32],
    "activation": ["hardtanh", "tanh"],
    "approx": ["exact", "snap1"],
    "r_upd": ["half_even", "stochastic"],
    "widths": {"S": WIDTHS, "P": WIDTHS},
    "int_bits": {"S": 3, "P": 3},
    "steps": 5000,
    "seed": list(range(SEEDS)),
    "grad_steps": 500,
    "pes": 32,
    "base": {"formats": {"H": [10, 8]}},
}
#: The rows of the table and the panels of the plots, in this order.
ROW_KEYS = ("task", "hidden", "activation", "approx", "r_upd")


def group(records: list[dict]) -> dict[tuple, dict[tuple[int, int], Spread]]:
    """Row key -> (w_S, w_P) -> the Spread of that point's seeds."""
    seeds: dict[tuple, dict[tuple[int, int], list]] = {}
    for r in records:
        if r["status"] == "invalid":
            continue
        row = tuple(r[k] for k in ROW_KEYS)
        seeds.setdefault(row, {}).setdefault((r["widths"]["S"], r["widths"]["P"]), []).append(r)
    return {row: {w: Spread(v) for w, v in pts.items()} for row, pts in seeds.items()}


def line(axis: str) -> list[tuple[int, int]]:
    """The (w_S, w_P) points of one line of the grid, narrowest first: "S" (Θ at the widest),
    "P" (S at the widest) or "SP" (both equal)."""
    top = max(WIDTHS)
    return [{"S": (w, top), "P": (top, w), "SP": (w, w)}[axis] for w in WIDTHS]


def smallest(pts: dict[tuple[int, int], Spread], axis: str, every_seed: bool = False
             ) -> int | None:
    """The smallest width w such that every point from w up to the widest along ``axis``
    (:func:`line`) is within 10% (median over the seeds; with ``every_seed``, the worst
    seed). None if even the widest point is not."""
    best = None
    for ws, wp in reversed(line(axis)):
        sp = pts.get((ws, wp))
        if sp is None or not sp.within(every_seed):
            break
        best = ws if axis == "S" else wp
    return best


def table(records: list[dict]) -> str:
    rows = group(records)
    lines = ["| task | n | activation | approx | update rounding | seeds | float final MSE | "
             "min S (Θ 24) | min Θ (S 24) | min S = Θ | rel. error there: median (min–max) | "
             "min S = Θ, every seed | memory at S = Θ (bits) | grad cos at S = Θ |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    fmt = lambda w: "—" if w is None else str(w)  # noqa: E731
    order = lambda k: (GRID["tasks"].index(k[0]), k[1:])  # noqa: E731
    for row in sorted(rows, key=order):
        pts = rows[row]
        we = smallest(pts, "SP")
        at = pts.get((we, we)) if we else None
        spread = f"{at.median:.3f} ({at.best:.3f}–{at.worst:.3f})" if at else "—"
        mem = f"{at.recs[0]['mem_bits']:,}" if at else "—"
        cos = at.stat("grad_cos") if at else None
        flt = pts[(max(WIDTHS), max(WIDTHS))].stat("mse_last_float")
        lines.append(
            f"| {' | '.join(map(str, row))} | {min(len(p.recs) for p in pts.values())} | "
            f"{'—' if flt is None else f'{flt:.4g}'} | "
            f"{fmt(smallest(pts, 'S'))} | {fmt(smallest(pts, 'P'))} | {fmt(we)} | {spread} | "
            f"{fmt(smallest(pts, 'SP', every_seed=True))} | {mem} | "
            f"{'—' if cos is None else f'{cos:.4f}'} |")
    return "\n".join(lines)


def plot_spread(records: list[dict], axis: str, path: Path) -> Path:
    """Relative error against width along one line of the grid (:func:`line`): the median
    over the seeds (line) and their min–max (band), one panel per task and hidden size
    (rows) and activation (columns), one line per approximation and rounding."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = group(records)
    panels = sorted({(r[0], r[1]) for r in rows}, key=lambda k: (GRID["tasks"].index(k[0]), k[1]))
    acts = sorted({r[2] for r in rows})
    fig, axes = plt.subplots(len(panels), len(acts), figsize=(4.2 * len(acts), 2.6 * len(panels)),
                             squeeze=False, sharex=True)
    label = {"S": "width of S (Θ at 24 bits)", "P": "width of Θ (S at 24 bits)",
             "SP": "width of S = Θ"}[axis]
    for i, (task, n) in enumerate(panels):
        for j, act in enumerate(acts):
            ax = axes[i][j]
            for approx in GRID["approx"]:
                for r_upd in GRID["r_upd"]:
                    pts = rows.get((task, n, act, approx, r_upd))
                    if not pts:
                        continue
                    sp = [pts.get(p) for p in line(axis)]
                    ok = [k for k, s in enumerate(sp) if s is not None and s.complete]
                    x = np.array(WIDTHS)[ok]
                    med = [sp[k].median for k in ok]
                    lo, hi = [sp[k].best for k in ok], [sp[k].worst for k in ok]
                    ls = "-" if approx == "exact" else "--"
                    h, = ax.plot(x, med, ls, marker="o", ms=3, label=f"{approx} {r_upd}")
                    ax.fill_between(x, lo, hi, color=h.get_color(), alpha=0.18)
            ax.axhline(WITHIN, color="k", lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_title(f"{task}, n = {n}, {act}", fontsize=9)
            if i == len(panels) - 1:
                ax.set_xlabel(label)
            if j == 0:
                ax.set_ylabel("rel. final error")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"integer / float final error\nmedian over the seeds, band min–max, "
                 f"dotted {WITHIN}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=Path("precision-study"))
    ap.add_argument("--figures", type=Path, help="draw the spread plots here")
    ap.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds 0..K-1 (default {SEEDS})")
    ap.add_argument("--activation", nargs="+", choices=GRID["activation"])
    ap.add_argument("--hidden", nargs="+", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--scheduler")
    a = ap.parse_args(argv)
    if a.seeds < 1:
        ap.error(f"--seeds must be >= 1, got {a.seeds}")
    grid = dict(GRID, seed=list(range(a.seeds)))
    grid.update({k: v for k, v in (("activation", a.activation), ("hidden", a.hidden)) if v})
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / "grid.toml"
    path.write_text(tomli_w.dumps(grid))
    cmd = ["sweep", "--grid", str(path), "-o", str(a.out)]
    cmd += ["--workers", str(a.workers)] if a.workers else []
    cmd += ["--scheduler", a.scheduler] if a.scheduler else []
    print("rtrledit " + " ".join(cmd), file=sys.stderr)
    rc = cli(cmd)
    if rc:
        return rc
    records = json.loads((a.out / "results.json").read_text())
    print(table(records))
    if a.figures:
        for axis, name in (("P", "spread_theta.png"), ("SP", "spread_equal.png"),
                           ("S", "spread_s.png")):
            plot_spread(records, axis, a.figures / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
