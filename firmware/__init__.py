"""rtrledit.firmware (see README.md in this folder)."""
