"""rtrledit.hdl (see README.md in this folder)."""
