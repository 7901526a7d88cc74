"""The core's saturation counters, kept in one block RAM. See :class:`SaturationCounters`."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["SaturationCounters", "COUNTER_WIDTH"]

#: Width of every counter (they wrap around at 2^32, as the register map says).
COUNTER_WIDTH = 32


class SaturationCounters(wiring.Component):
    """``count`` 32-bit event counters in a ``count`` × 32 RAM instead of in registers.

    Counter k adds ``inc[k]`` (0 .. ``max_inc``) every cycle. The adds go first into a
    small pending register per counter; a round-robin flusher visits one counter per
    cycle (stage A: read the RAM word, take the pending count and restart it from this
    cycle's increment; stage B, the next cycle: write word + taken). A read request
    (``r_stb``, ``r_index``) makes that cycle's visit go to the requested counter, and
    ``r_data`` in the next cycle is the written word: the exact count of all increments
    up to the cycle before the request. ``clear`` (a mask) sets the counters whose bit is
    set to 0: their pending counts at once (an increment in the same cycle is dropped),
    their RAM words at the next visit (a per-counter mark until then; a read of a marked
    counter returns only what came after the clear). The marks are set at reset, so a
    reset clears every counter.

    Requests must be at least two cycles apart, and not in the cycle of a clear (the core's
    register bus takes one access at a time, each at least two cycles), so any counter is visited at
    least every ``2·count`` cycles and the pending registers cannot overflow.

    Latency: ``r_data`` valid in the cycle after ``r_stb``.
    Resources: one ``count`` × 32 RAM with a read port transparent to its write port
    (2 EBR on iCE40, 1 DP16KD on ECP5), one 32-bit adder, ``count`` pending registers of
    ``bits(2·count·max_inc)`` bits and their adders, instead of ``count`` 32-bit counters.

    Parameters
    ----------
    count : int
        Number of counters (≥ 2).
    max_inc : int
        Largest increment of one counter in one cycle.
    """

    def __init__(self, count: int, max_inc: int) -> None:
        if count < 2 or max_inc < 1:
            raise ValueError(f"SaturationCounters needs count >= 2 and max_inc >= 1, "
                             f"got {count}, {max_inc}")
        self.count, self.max_inc = count, max_inc
        #: bits of a pending register
        self.pend_width = (2 * count * max_inc + 1).bit_length()
        #: the counters' RAM (word k is counter k minus its pending count)
        self.mem = Memory(shape=unsigned(COUNTER_WIDTH), depth=count, init=[])
        super().__init__({
            "inc": In(data.ArrayLayout(unsigned(max_inc.bit_length()), count)),
            "clear": In(count),
            "r_stb": In(1), "r_index": In(range(count)), "r_data": Out(COUNTER_WIDTH),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.count
        m.submodules.mem = mem = self.mem
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))

        pend = Array(Signal(self.pend_width, name=f"pend{i}") for i in range(k))
        marked = Signal(k, init=(1 << k) - 1)          # cleared, RAM word not yet zeroed
        ptr = Signal(range(k))
        visit = Signal(range(k))
        m.d.comb += visit.eq(Mux(self.r_stb, self.r_index, ptr))
        with m.If(~self.r_stb):
            m.d.sync += ptr.eq(Mux(ptr == k - 1, 0, ptr + 1))

        # stage A: read the word, take the pending count
        taken, zero, at = Signal(self.pend_width), Signal(), Signal(range(k))
        m.d.comb += rd.addr.eq(visit)
        m.d.sync += at.eq(visit)
        cleared = self.clear.bit_select(visit, 1)
        m.d.sync += [taken.eq(Mux(cleared, 0, pend[visit])),
                     zero.eq(cleared | marked.bit_select(visit, 1)),
                     marked.eq((marked & ~(1 << visit)) | self.clear)]
        for i in range(k):
            with m.If(self.clear[i]):
                m.d.sync += pend[i].eq(0)
            with m.Else():
                m.d.sync += pend[i].eq(Mux(visit == i, 0, pend[i]) + self.inc[i])

        # stage B: write back word + taken (the word is 0 when it was marked)
        total = Signal(COUNTER_WIDTH)
        m.d.comb += [total.eq(Mux(zero, 0, rd.data) + taken),
                     wr.addr.eq(at), wr.data.eq(total), wr.en.eq(1), self.r_data.eq(total)]
        return m
