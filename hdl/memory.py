"""The gateware's read/write memories, and the rule that a read colliding with a write is
don't-care.

Every RAM of the core (parameters, G, the forward unit's vectors, the lanes' buffers,
the S banks) is made by :func:`ram` and used through :func:`ports`: one synchronous read
port (address in cycle t, data in t + 1) and one write port. Amaranth gives such a read
port read-first behaviour (a write to the read address in the same cycle returns the
old word). The iCE40 and ECP5 block RAMs leave that collision undefined, so Yosys
emulates read-first with a bypass register and comparator per port, which cost 417 of
the 4,498 logic cells of the UP5K exact n = 16 build (measured with ``synth_ice40`` and
nextpnr's packer). No unit of the core uses the data of a read that collided with a
write, so the memories carry the attribute :data:`NO_RW_COLLISION` and builds tell Yosys
that the collision is don't-care (:data:`YOSYS_SCRIPT`).

Memories that would take many block RAMs may go to the device's single-port huge RAM
(SB_SPRAM256KA on the iCE40 UP): :func:`use_huge` is the one rule for that choice, with
its device facts from the board table (:mod:`rtrledit.boards.target`) and the threshold
of each kind of memory in :data:`HUGE_FROM`; ``ram(huge=True)`` is the one place that
marks such a memory (:data:`HUGE`), and :data:`YOSYS_SCRIPT` selects the marked
memories by that attribute.

The collision rule is checked, not assumed: inside :func:`poisoned_collisions`, :func:`ports`
inverts the read data in the cycle after every collision, so a simulation of the core
that stays bit-exact with the model under poison uses no collided read
(``tests/hdl/test_memory.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Shape, ShapeLike, Signal, Value
from amaranth.lib.memory import Memory, WritePort

from ..boards.target import BRAM_BITS, HUGE_SHAPE, Board

__all__ = ["NO_RW_COLLISION", "HUGE", "HUGE_FROM", "YOSYS_SCRIPT", "ReadView", "ram", "ports",
           "is_huge", "huge_units", "use_huge", "poisoned_collisions"]

#: Attribute of the memories whose read/write collisions are don't-care.
NO_RW_COLLISION = "rtrledit_no_rw_collision"

#: The attribute (name, value) of a single-port huge RAM, given by ``ram(huge=True)``
#: only: Yosys' ``synth_ice40 -spram`` maps such memories to SB_SPRAM256KA.
HUGE = ("ram_style", "huge")

#: Yosys commands (after reading the design): the read port of every memory with
#: :data:`NO_RW_COLLISION` becomes "undefined on collision" (one read and one write port,
#: so the mask is one bit); every memory with :data:`HUGE` loses its initial content
#: (Amaranth writes all zeros, which an SPRAM cannot have; the core clears those memories
#: after reset instead).
YOSYS_SCRIPT = ("proc; memory_collect; "
                f"setparam -set RD_COLLISION_X_MASK 1'1 t:$mem_v2 a:{NO_RW_COLLISION} %i; "
                f"setparam -set INIT 1'x t:$mem_v2 a:{HUGE[0]}={HUGE[1]} %i")

#: For each kind of memory that may be huge, the block RAMs' worth of bits it must exceed
#: first; the single port costs each owner differently:
#: ``"s_bank"``: an exact-RTRL lane's S bank, nothing (its loader's slack absorbs the
#: shared port); ``"snap1_s"``: SnAp-1's S, half the engine's rate; ``"g"``: G, nothing,
#: but it is the last claim on the huge RAMs the S memories leave.
HUGE_FROM = {"s_bank": 4, "snap1_s": 8, "g": 16}

#: the collision flags of the memories elaborated under poison (None: no poison)
_POISON: contextvars.ContextVar[list[Signal] | None] = contextvars.ContextVar("rtrledit_poison",
                                                                            default=None)


def ram(shape: ShapeLike, depth: int, huge: bool = False) -> Memory:
    """A RAM of ``depth`` words (at least 2: a 1-word memory has a 0-bit address, ``[-1:0]``
    in Verilog), no initial contents, with :data:`NO_RW_COLLISION`. ``huge``: a single-port
    huge RAM (:data:`HUGE`; the owner never reads and writes it in one cycle, and clears
    it after reset: its power-up content is undefined)."""
    attrs = {NO_RW_COLLISION: 1, **(dict([HUGE]) if huge else {})}
    return Memory(shape=Shape.cast(shape), depth=max(depth, 2), init=[], attrs=attrs)


def is_huge(attrs: dict) -> bool:
    """Whether a memory with these attributes was made by ``ram(huge=True)``."""
    return attrs.get(HUGE[0]) == HUGE[1]


def huge_units(width: int, device: Board | None) -> int:
    """Huge RAMs side by side that hold words of ``width`` bits on ``device`` (0: it has
    none)."""
    if device is None or device.family not in HUGE_SHAPE or not device.resources.get("spram"):
        return 0
    return -(-width // HUGE_SHAPE[device.family][1])


def use_huge(kind: str, depth: int, width: int, device: Board | None, copies: int = 1,
             taken: int = 0) -> bool:
    """The memory rule: whether ``copies`` memories of ``depth`` × ``width`` of ``kind``
    (a key of :data:`HUGE_FROM`) go to huge RAM on ``device`` (the board table's facts;
    None: no device, never): each holds more bits than ``HUGE_FROM[kind]`` block RAMs, is
    at most as deep as one huge RAM, and all fit in the huge RAMs left after ``taken``."""
    units = huge_units(width, device)
    if not units:
        return False
    return (depth * width > HUGE_FROM[kind] * BRAM_BITS[device.family]
            and depth <= HUGE_SHAPE[device.family][0]
            and taken + copies * units <= device.resources["spram"])


@dataclass(frozen=True)
class ReadView:
    """A read port as the owner sees it: drive ``addr`` (and ``en``, 1 by default) in
    cycle t, read ``data`` in t + 1."""

    addr: Value
    en: Value
    data: Value


def ports(md: Module, mem: Memory) -> tuple[ReadView, WritePort]:
    """The one read port and the one write port of ``mem`` (call once per memory). Inside
    :func:`poisoned_collisions` the read data is inverted in the cycle after the read
    address was written."""
    rd, wr = mem.read_port(), mem.write_port()
    flags = _POISON.get()
    if flags is None:
        return ReadView(rd.addr, rd.en, rd.data), wr
    hit = Signal(name="collided")
    flags.append(hit)
    data = Signal.like(rd.data, name="poisoned_data")
    md.d.sync += hit.eq(rd.en & wr.en.any() & (rd.addr == wr.addr))
    md.d.comb += data.eq(Mux(hit, ~rd.data, rd.data))
    return ReadView(rd.addr, rd.en, data), wr


@contextlib.contextmanager
def poisoned_collisions() -> Iterator[list[Signal]]:
    """Designs elaborated inside (for simulation) return inverted data from every read
    that collided with a write to the same address. Yields the list of the memories'
    collision flags (each high in the cycle its read data is poisoned), filled as the
    designs are elaborated."""
    token = _POISON.set([])
    try:
        yield _POISON.get()
    finally:
        _POISON.reset(token)
