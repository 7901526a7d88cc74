"""The plot of docs/boards.md: learning steps/s against n, per board and approximation,
with the DSP bound beside each measured point.

    python benchmarks/board_plot.py ROWS.jsonl [-o docs/figures/boards_steps.png]

ROWS.jsonl holds rows of ``benchmarks/board_table.py`` (real builds). A point is a row
that fits and meets timing, at the clock the build met (its target); its bound is what
all the device's DSPs would do at that clock if each did one multiply-accumulate of the
sensitivity update per cycle: DSPs × clock / MACs per step, MACs per step = n³q for
exact RTRL (q = n + m + 1), 3·n·q for SnAp-1 (W_ii·S, φ'·(…) and ĉ·S per entry).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtrledit.boards.target import board

__all__ = ["macs_per_step", "points", "plot"]


def macs_per_step(approx: str, n: int, m: int = 4) -> int:
    """Multiply-accumulates of one step's sensitivity update (see the module docstring)."""
    q = n + m + 1
    return n ** 3 * q if approx == "exact" else 3 * n * q


def points(rows: list[dict]) -> dict[tuple[str, str], list[tuple[int, float, float]]]:
    """(board, approx) -> [(n, measured steps/s, DSP bound steps/s)], n ascending; only
    rows that fit and met timing. A later row of the same board, approx and n replaces
    an earlier one (a rebuild)."""
    best: dict[tuple[str, str, int], tuple[float, float]] = {}
    for r in rows:
        if not r.get("timing_met"):
            continue
        mhz = r["constraint_mhz"]
        bound = board(r["board"]).resources["dsp"] * mhz * 1e6 / macs_per_step(r["approx"], r["hidden"])
        best[(r["board"], r["approx"], r["hidden"])] = (r["learning_steps_per_s"], bound)
    out: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for (brd, approx, n), (sps, bound) in sorted(best.items()):
        out.setdefault((brd, approx), []).append((n, sps, bound))
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (brd, approx), pts in points(rows).items():
        ns = [p[0] for p in pts]
        line, = ax.plot(ns, [p[1] for p in pts], "o-", label=f"{brd}, {approx}: measured")
        ax.plot(ns, [p[2] for p in pts], "x--", color=line.get_color(), alpha=0.6,
                label=f"{brd}, {approx}: DSP bound")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden units n")
    ax.set_ylabel("learning steps/s (at the clock met)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/figures/boards_steps.png"))
    a = ap.parse_args()
    try:
        rows = [json.loads(ln) for ln in a.rows.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SystemExit(f"board_plot: {a.rows} is not a rows file of board_table.py ({e})")
    plot(rows, a.out)
    for (brd, approx), pts in points(rows).items():
        for n, sps, bound in pts:
            print(f"{brd:12s} {approx:6s} n={n:4d} {sps:10,.0f} steps/s  bound {bound:12,.0f}  "
                  f"({sps / bound:.0%})")


if __name__ == "__main__":
    main()
