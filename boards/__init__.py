"""rtrledit.boards: board tops, the UART frame bridge and its protocol, builds (the layout table of the top-level README.md; docs/boards.md, docs/protocol.md)."""
