"""``rtrledit doctor``: which of the tools the commands drive are here, and how to get the rest.

Every tool of :data:`rtrledit.toolchain.TOOLS` is found and run (the first run of a YoWASP
tool compiles it, once). Exit status 0 when all of them work, which is what the README's
two set-up commands promise; 1 otherwise, with the install command of each missing one.
"""

from __future__ import annotations

import argparse
import json
import sys

from rtrledit.toolchain import TOOLS, check

__all__ = ["add_arguments", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: {ok, tools: [{key, name, ok, path, version, "
                        "source, detail, install, used_by}]}")


def main(args: argparse.Namespace) -> int:
    found = []
    for key in TOOLS:
        st = check(key)
        found.append(st)
        if not args.json:
            mark = "ok  " if st.ok else "MISSING"
            where = f"{st.version or ''} {st.path or ''}".strip()
            print(f"{mark:8} {st.name:42} {where}" if st.ok else
                  f"{mark:8} {st.line()}   (for {st.used_by})")
            sys.stdout.flush()
    ok = all(st.ok for st in found)
    if args.json:
        print(json.dumps({"ok": ok, "tools": [st.to_dict() for st in found]}))
    else:
        missing = [st for st in found if not st.ok]
        print("everything the README promises is here" if ok else
              f"{len(missing)} missing; to install them:\n" +
              "\n".join(f"  {cmd}" for cmd in dict.fromkeys(st.install for st in missing)))
    return 0 if ok else 1
