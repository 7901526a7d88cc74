"""rtrledit.boards (see README.md in this folder)."""
