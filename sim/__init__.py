"""rtrledit.sim (see README.md in this folder)."""
