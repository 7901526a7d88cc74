"""rtrledit.hdl: the Amaranth generators of the learning core (the layout table of the top-level README.md; docs/hdl.md, docs/core.md)."""
