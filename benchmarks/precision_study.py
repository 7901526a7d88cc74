"""The precision study of docs/precision.md: a bit-width sweep over three tasks, two hidden
sizes, exact RTRL and SnAp-1, nearest and stochastic update rounding.

Usage: python benchmarks/precision_study.py [-o OUT] [--figures docs/figures/precision]
                                            [--workers K] [--scheduler ADDR]

Writes OUT/grid.toml and runs ``rtrledit sweep --grid OUT/grid.toml -o OUT`` (resumable:
rerun it to finish an interrupted study), then prints, per task, hidden size,
approximation and rounding, the smallest widths of S and Θ at which the integer model's
final error is within 10% of the float model's (see :func:`smallest`), as Markdown, and
copies the plots into ``--figures``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import tomli_w

from rtrledit.cli import main as cli
from rtrledit.model.explore import within

WIDTHS = [8, 10, 12, 14, 16, 20, 24]
GRID = {
    "tasks": ["sine", "narma10", "mackey-glass"],
    "hidden": [16, 32],
    "approx": ["exact", "snap1"],
    "r_upd": ["half_even", "stochastic"],
    "widths": {"S": WIDTHS, "P": WIDTHS},
    "int_bits": {"S": 3, "P": 3},
    "steps": 5000,
    "seed": 0,
    "grad_steps": 500,
    "pes": 32,
    "base": {"formats": {"H": [10, 8]}},
}


def smallest(recs: dict[tuple[int, int], dict], axis: str, fixed: int | None) -> int | None:
    """The smallest width w such that every point from w up to the widest, along one line
    of the (S, P) grid, is within 10% of the float model: ``axis`` "S" (P at ``fixed``),
    "P" (S at ``fixed``) or "SP" (both equal). None if even the widest point is not."""
    best = None
    for w in sorted(WIDTHS, reverse=True):
        key = {"S": (w, fixed), "P": (fixed, w), "SP": (w, w)}[axis]
        r = recs.get(key)
        if r is None or not within(r):
            break
        best = w
    return best


def table(records: list[dict]) -> str:
    groups: dict[tuple, dict] = {}
    for r in records:
        k = (r["task"], r["hidden"], r["approx"], r["r_upd"])
        groups.setdefault(k, {})[(r["widths"]["S"], r["widths"]["P"])] = r
    top = max(WIDTHS)
    lines = ["| task | n | approx | update rounding | float final MSE | min S (Θ 24) | "
             "min Θ (S 24) | min S = Θ | memory at S = Θ (bits) | grad cos at S = Θ |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    fmt = lambda w: "—" if w is None else str(w)  # noqa: E731
    for k in sorted(groups, key=lambda k: (GRID["tasks"].index(k[0]), k[1], k[2], k[3])):
        recs = groups[k]
        ws, wp, we = smallest(recs, "S", top), smallest(recs, "P", top), smallest(recs, "SP", None)
        anyr = next(r for r in recs.values() if r["status"] == "ok")
        at = recs.get((we, we)) if we else None
        mem = f"{at['mem_bits']:,}" if at else "—"
        cos = f"{at['grad_cos']:.4f}" if at and at.get("grad_cos") is not None else "—"
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {anyr['mse_last_float']:.4g} | "
                     f"{fmt(ws)} | {fmt(wp)} | {fmt(we)} | {mem} | {cos} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=Path("precision-study"))
    ap.add_argument("--figures", type=Path, help="copy the PNG plots here")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--scheduler")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    grid = a.out / "grid.toml"
    grid.write_text(tomli_w.dumps(GRID))
    cmd = ["sweep", "--grid", str(grid), "-o", str(a.out)]
    cmd += ["--workers", str(a.workers)] if a.workers else []
    cmd += ["--scheduler", a.scheduler] if a.scheduler else []
    print("rtrledit " + " ".join(cmd), file=sys.stderr)
    rc = cli(cmd)
    if rc:
        return rc
    records = json.loads((a.out / "results.json").read_text())
    print(table(records))
    if a.figures:
        a.figures.mkdir(parents=True, exist_ok=True)
        for name in ("heatmap.png", "curves.png", "pareto.png"):
            shutil.copy(a.out / name, a.figures / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
