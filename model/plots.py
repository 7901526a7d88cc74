"""Plots of a bit-width sweep (:mod:`rtrledit.model.explore`), written as PNG files.

- ``heatmap.png``: the integer model's final error relative to the float model, over the
  first two swept widths, one panel per task, hidden size, approximation and rounding;
- ``curves.png``: learning curves of chosen points (the Pareto-optimal ones of each
  task and hidden size) beside the float model's;
- ``pareto.png``: final error against memory (bits of S and Θ) per task, with the
  Pareto front.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .explore import pareto_front, seed_spreads

__all__ = ["plot_sweep", "plot_heatmap", "plot_curves", "plot_pareto", "MAX_CURVES"]

#: Learning curves drawn per panel at most (besides the float models').
MAX_CURVES = 6


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> Path:
    from .checkpoint import atomic_write
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
    _plt().close(fig)
    return path


def _groups(records, keys) -> dict[tuple, list[dict[str, Any]]]:
    out: dict[tuple, list] = {}
    for r in records:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def plot_sweep(records: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write the three plots into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    return [plot_heatmap(records, out_dir / "heatmap.png"),
            plot_curves(records, out_dir / "curves.png"),
            plot_pareto(records, out_dir / "pareto.png")]


def plot_heatmap(records: list[dict[str, Any]], path: Path) -> Path:
    """Final error / float final error over (first width, second width): green within
    10% of the float model, red worse; F marks a point with a failed seed, blank an invalid
    one. With several seeds a cell shows the median over them and, below it, the worst."""
    plt = _plt()
    from matplotlib.colors import TwoSlopeNorm
    letters = list(records[0]["widths"]) if records else []
    lx = letters[0] if letters else None
    ly = letters[1] if len(letters) > 1 else None
    extra = letters[2:]
    rows = _groups(records, ("task", "hidden"))
    cols = sorted({(r["activation"], r["approx"], r["r_upd"],
                    tuple(r["widths"][L] for L in extra)) for r in records})
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(3.3 * len(cols) + 1, 3.0 * len(rows) + 0.6))
    norm = TwoSlopeNorm(vmin=-0.3, vcenter=math.log10(1.1), vmax=1.0)
    im = None
    for i, ((task, n), recs) in enumerate(rows.items()):
        for j, (act, approx, r_upd, ex) in enumerate(cols):
            ax = axes[i, j]
            sub = [r for r in recs if (r["activation"], r["approx"], r["r_upd"]) == (act, approx, r_upd)
                   and tuple(r["widths"][L] for L in extra) == ex]
            xs = sorted({r["widths"][lx] for r in sub}) if lx else [0]
            ys = sorted({r["widths"][ly] for r in sub}) if ly else [0]
            grid = np.full((len(ys), len(xs)), np.nan)
            for sp in seed_spreads(sub).values():
                r = sp.recs[0]
                xi = xs.index(r["widths"][lx]) if lx else 0
                yi = ys.index(r["widths"][ly]) if ly else 0
                if sp.complete and sp.median > 0:
                    grid[yi, xi] = math.log10(max(sp.median, 1e-3))
                    label = f"{sp.median:.2g}" + (f"\n≤{sp.worst:.2g}" if len(sp.recs) > 1 else "")
                    ax.text(xi, yi, label, ha="center", va="center", fontsize=7)
                elif any(x["status"] == "failed" for x in sp.recs):
                    ax.text(xi, yi, "F", ha="center", va="center", fontsize=8, color="black")
            im = ax.imshow(grid, origin="lower", cmap="RdYlGn_r", norm=norm, aspect="auto")
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels(xs, fontsize=7)
            ax.set_yticks(range(len(ys)))
            ax.set_yticklabels(ys if ly else [""], fontsize=7)
            if lx:
                ax.set_xlabel(f"width of {lx} (bits)", fontsize=8)
            if ly:
                ax.set_ylabel(f"width of {ly} (bits)", fontsize=8)
            title = f"{task} n={n} {act} {approx} {r_upd}"
            if extra:
                title += " " + " ".join(f"{L}{w}" for L, w in zip(extra, ex))
            ax.set_title(title, fontsize=8)
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.8)
        cb.set_label("log10(final error / float final error)", fontsize=8)
    fig.suptitle("final error relative to the float model (numbers: the ratio)", fontsize=10)
    return _save(fig, path)


def _pareto_ids(recs) -> set[str]:
    ok = [r for r in recs if r["status"] == "ok"]
    idx = pareto_front([r["mem_bits"] for r in ok], [r["mse_last"] for r in ok])
    return {ok[i]["id"] for i in idx}


def plot_curves(records: list[dict[str, Any]], path: Path) -> Path:
    """Per task and hidden size: the float models' learning curves (dashed) and those of
    the Pareto-optimal points (error vs memory), at most :data:`MAX_CURVES` of them."""
    plt = _plt()
    groups = _groups(records, ("task", "hidden"))
    fig, axes = plt.subplots(len(groups), 1, squeeze=False,
                             figsize=(8, 3.2 * max(1, len(groups))))
    for ax, ((task, n), recs) in zip(axes[:, 0], groups.items()):
        ok = [r for r in recs if r["status"] == "ok"]
        drawn = set()
        for r in ok:
            if r["approx"] not in drawn and r.get("curve_float"):
                drawn.add(r["approx"])
                c = r["curve_float"]
                x = np.linspace(0, r["steps"], len(c), endpoint=False) + r["steps"] / len(c) / 2
                ax.plot(x, c, "--", color="black" if r["approx"] == "exact" else "grey",
                        lw=1.5, label=f"float {r['approx']}")
        front = _pareto_ids(ok)
        chosen = sorted((r for r in ok if r["id"] in front), key=lambda r: r["mem_bits"])
        if len(chosen) > MAX_CURVES:
            pick = np.linspace(0, len(chosen) - 1, MAX_CURVES).round().astype(int)
            chosen = [chosen[i] for i in sorted(set(pick))]
        for r in chosen:
            c = r["curve"]
            x = np.linspace(0, r["steps"], len(c), endpoint=False) + r["steps"] / len(c) / 2
            w = " ".join(f"{L}{v}" for L, v in r["widths"].items())
            ax.plot(x, c, lw=1, label=f"{r['approx']} {r['r_upd']} {w} ({r['mem_bits']} b)")
        ax.set_yscale("log")
        ax.set_xlabel("time step")
        ax.set_ylabel("squared error (block mean)")
        ax.set_title(f"{task}, n = {n}: float models and the Pareto-optimal integer points",
                     fontsize=9)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_pareto(records: list[dict[str, Any]], path: Path) -> Path:
    """Per task: final error against the memory of S and Θ, every ok point, with the
    Pareto front (no point is both cheaper and more accurate) as a step line."""
    plt = _plt()
    groups = _groups(records, ("task",))
    fig, axes = plt.subplots(1, len(groups), squeeze=False, figsize=(6 * max(1, len(groups)), 4.5))
    markers = {"exact": "o", "snap1": "s"}
    for ax, ((task,), recs) in zip(axes[0], groups.items()):
        ok = [r for r in recs if r["status"] == "ok"]
        for key, sub in _groups(ok, ("approx", "r_upd")).items():
            ax.scatter([r["mem_bits"] for r in sub], [r["mse_last"] for r in sub], s=14,
                       marker=markers.get(key[0], "o"), alpha=0.6,
                       label=f"{key[0]} {key[1]}")
        front = _pareto_ids(ok)
        pts = sorted((r["mem_bits"], r["mse_last"]) for r in ok if r["id"] in front)
        if pts:
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="black",
                    lw=1.2, label="Pareto front")
        floats = {(r["hidden"], r["approx"]): r["mse_last_float"] for r in ok}
        for (n, approx), v in sorted(floats.items()):
            ax.axhline(v, ls=":", lw=0.8, color="black" if approx == "exact" else "grey")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("memory of S and Θ (bits)")
        ax.set_ylabel("final squared error (last 10%)")
        ax.set_title(f"{task}: error vs memory (dotted: float models)", fontsize=9)
        if ok:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
