"""rtrledit.sim: the core in simulators, scored against the integer model (the layout table of the top-level README.md)."""
