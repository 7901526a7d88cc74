"""Build the board report table of docs/boards.md (one build per row; slow).

    python benchmarks/board_table.py [--only up5k|ecp5|up5k-auto|ecp5-auto] [--out build/board_table]

Each row is a real `rtrledit.boards.build.build` (fixed nextpnr seed 1, m = 4, p = 1,
16-bit default formats); a row that does not fit or fails records the toolchain's reason.
Rows are appended as JSON lines to OUT/rows.jsonl; `--render` prints the Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rtrledit.boards.build import build
from rtrledit.boards.lanes import auto_lanes
from rtrledit.boards.target import Target
from rtrledit.boards.targets import cycles_per_step
from rtrledit.model.config import Config

ROWS = {
    "up5k": [("icebreaker", "exact", 4, 1, 20), ("icebreaker", "exact", 4, 3, 20),
             ("icebreaker", "exact", 8, 1, 20), ("icebreaker", "exact", 8, 2, 20),
             ("icebreaker", "exact", 16, 1, 20), ("icebreaker", "snap1", 16, 1, 20),
             ("icebreaker", "snap1", 32, 1, 20), ("icebreaker", "snap1", 64, 1, 20),
             ("icebreaker", "snap1", 128, 1, 20)],
    "ecp5": [("ulx3s-85f", "exact", 8, 8, 40), ("ulx3s-85f", "exact", 16, 16, 40),
             ("ulx3s-85f", "snap1", 64, 1, 40), ("ulx3s-85f", "snap1", 128, 1, 40),
             ("ulx3s-85f", "exact", 32, 32, 40)],
    # L chosen by --lanes auto (rtrledit.boards.lanes): what a user gets without searching
    # (at 24 MHz since the fifth round of docs/boards.md: Fmax 25-27 MHz)
    "up5k-auto": [("icebreaker", "exact", 8, "auto", 24), ("icebreaker", "exact", 16, "auto", 24),
                  ("icebreaker", "snap1", 64, "auto", 24)],
    "ecp5-auto": [("ulx3s-85f", "exact", 16, "auto", 40), ("ulx3s-85f", "exact", 32, "auto", 40)],
}


def one(brd, approx, n, lanes, mhz, out: Path) -> dict:
    cfg = Config(hidden=n, inputs=4, outputs=1, approx=approx)
    auto = None
    target = Target(board=brd, clock_mhz=mhz)
    if lanes == "auto":
        auto = auto_lanes(cfg, target)
        lanes = auto.lanes
    target = target.replace(lanes=lanes)
    row = {"board": brd, "approx": approx, "hidden": n, "lanes": lanes, "target_mhz": mhz,
           "lanes_auto": auto.reason if auto else None,
           "cycles_per_step": cycles_per_step(cfg, target)}
    t0 = time.monotonic()
    try:
        rep = build(cfg, target, out / f"{brd}_{approx}_n{n}_L{lanes}", check_timing=False)
        row.update({k: rep[k] for k in rep if k not in ("tools", "logs", "pll")})
        row["status"] = "ok" if rep["timing_met"] else "timing missed"
    except ValueError as e:              # BuildError, or the estimate's refusal
        row["status"] = f"does not fit / failed: {e}"
    row["seconds"] = round(time.monotonic() - t0, 1)
    return row


def render(rows: list[dict]) -> str:
    out = ["| board | approx | n | L | status | LUTs (LCs) | FFs | DSPs | RAMs | Fmax MHz "
           "(target) | cycles/step | learning steps/s at target | at Fmax |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "fmax_mhz" in r:
            lut = f"{r['luts']} ({r['lcs']})" if "lcs" in r else str(r["luts"])
            ram = f"{r['bram']} EBR" + (f" + {r['spram']} SPRAM" if r.get("spram") else "")
            sps = r["learning_steps_per_s"] if r["timing_met"] else "—"
            out.append(f"| {r['board']} | {r['approx']} | {r['hidden']} | {r['lanes']} | "
                       f"{r['status']} | {lut} | {r['ffs']} | {r['dsps']} | {ram} | "
                       f"{r['fmax_mhz']:.1f} ({r['target_mhz']:g}) | {r['cycles_per_step']} | "
                       f"{sps} | {r['learning_steps_per_s_at_fmax']:,.0f} |")
        else:
            out.append(f"| {r['board']} | {r['approx']} | {r['hidden']} | {r['lanes']} | "
                       f"{r['status']} | | | | | | {r['cycles_per_step']} | | |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=list(ROWS))
    ap.add_argument("--out", type=Path, default=Path("build/board_table"))
    ap.add_argument("--render", action="store_true")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    log = a.out / "rows.jsonl"
    if a.render:
        print(render([json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]))
        return
    for key in ([a.only] if a.only else list(ROWS)):
        for spec in ROWS[key]:
            row = one(*spec, a.out)
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({k: row.get(k) for k in ("board", "approx", "hidden", "lanes",
                                                       "status", "fmax_mhz", "seconds")}),
                  flush=True)


if __name__ == "__main__":
    main()
