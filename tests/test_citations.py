"""Every citation of the design notes names the file that exists (docs/design.md) and a
section it has."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("model", "hdl", "sim", "boards", "firmware", "rtrledit", "tests", "benchmarks", "docs")


def _sources():
    yield ROOT / "README.md"
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".c", ".h", ".cpp") and path.is_file():
                yield path


def test_design_citations_name_existing_sections():
    design = (ROOT / "docs" / "design.md").read_text()
    sections = set(re.findall(r"^#+ (\d+(?:\.\d+)*)\.? ", design, re.M))
    assert {"2", "3", "3.1", "4"} <= sections           # the parse found the numbered headings
    bad = []
    for path in _sources():
        if path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        if "DESIGN.md" in text:
            bad.append(f"{path.relative_to(ROOT)}: cites DESIGN.md (the file is docs/design.md)")
        for sec in re.findall(r"design\.md §(\d+(?:\.\d+)*)", text):
            if sec not in sections:
                bad.append(f"{path.relative_to(ROOT)}: design.md §{sec} does not exist")
    assert not bad, "\n".join(bad)
