"""The learning core's register map, described once, from the Config: plain data, no
Amaranth (``tests/firmware/test_no_amaranth.py`` proves it), so the gateware
(:mod:`rtrledit.hdl.core`), the bridge, the host drivers, the testbenches, the C header
generator (:mod:`rtrledit.firmware.export`) and the generated documentation share it.

Addresses are word addresses on the core's register bus (:data:`ADDR_WIDTH`-bit address,
:data:`DATA_WIDTH`-bit data). The registers and their fields (:data:`REGISTERS`) are the
same for every Config; :func:`register_map` adds the values of the constant read-only
registers (ID, SHAPE, LANES) and the memory windows, laid out from the Config's sizes (so
they are part of the generated output, ``regmap.json``, not constants).

Fields are packed and unpacked here and nowhere else: :func:`pack` (``pack("ETA", eta=8,
eta_o=6)``) refuses a value that does not fit its field, naming it; :func:`unpack` gives
the fields of a word. Gateware decodes a field of a word ``w`` as ``w[field.bits]``.

Bad accesses have defined effects: a write to a read-only register or an access to an
unmapped address or to a window while the core is busy is ignored (a read returns 0),
sets ``STATUS.ERR`` and records the address in ``ERR_ADDR``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

from ..model.config import SAT_NAMES, Config

__all__ = ["Field", "Register", "Window", "RegisterMap", "REGISTERS", "register_map", "pack",
           "unpack", "window_bits", "s_index_bits", "ID_MAGIC", "ADDR_WIDTH", "DATA_WIDTH",
           "CTRL", "STATUS", "to_signed"]

ID_MAGIC = 0x5254524C  # "RTRL"

ADDR_WIDTH = 24
DATA_WIDTH = 32


def to_signed(value: int, width: int = DATA_WIDTH) -> int:
    """The two's-complement value of the low ``width`` bits of ``value`` (a register word
    by default)."""
    value = int(value) & ((1 << width) - 1)
    return value - (1 << width) if value >> (width - 1) else value


class Field(NamedTuple):
    """Bits ``[lsb, lsb + width)`` of a register word; ``access`` "ro", "rw" or "w1" (a
    pulse: writing 1 acts, it reads as 0)."""

    lsb: int
    width: int
    access: str

    @property
    def bits(self) -> slice:
        """The field's bits as a slice (``word[field.bits]`` in gateware)."""
        return slice(self.lsb, self.lsb + self.width)

    @property
    def max(self) -> int:
        return (1 << self.width) - 1

    @property
    def mask(self) -> int:
        """The field's bits in place."""
        return self.max << self.lsb


@dataclass(frozen=True)
class Register:
    """One 32-bit register. ``access``: "ro", "rw"; ``fields``: name -> :class:`Field`;
    ``value``: what a constant read-only register reads (None: it changes, or is unknown)."""

    name: str
    addr: int
    access: str
    doc: str
    fields: dict[str, Field] = field(default_factory=dict)
    value: int | None = None

    def pack(self, **values: int) -> int:
        """A word of this register from field values by lower-case name (absent fields 0)."""
        word = 0
        for key, v in values.items():
            f = self.fields.get(key.upper())
            if f is None:
                raise ValueError(f"register {self.name} has no field {key!r} (fields: "
                                 f"{', '.join(k.lower() for k in self.fields) or 'none'})")
            v = int(v)
            if not 0 <= v <= f.max:
                raise ValueError(f"{self.name}.{key.upper()} = {v} does not fit its "
                                 f"{f.width}-bit field (0..{f.max})")
            word |= v << f.lsb
        return word

    def unpack(self, word: int) -> dict[str, int]:
        """The field values of ``word``, by lower-case name."""
        return {k.lower(): (int(word) >> f.lsb) & f.max for k, f in self.fields.items()}


@dataclass(frozen=True)
class Window:
    """A memory window: ``size`` words at ``base``, each a signed value of ``fmt`` (w, f)
    sign-extended to 32 bits; index order as documented (row-major)."""

    name: str
    base: int
    size: int
    fmt: tuple[int, int]
    access: str
    doc: str


def _fields(**spec: tuple[int, int, str]) -> dict[str, Field]:
    return {name: Field(*f) for name, f in spec.items()}


#: CTRL fields. "w1" bits are pulses: writing 1 acts, they read as 0.
CTRL = _fields(LEARN=(0, 1, "rw"), TRACK=(1, 1, "rw"), RESET_STATE=(8, 1, "w1"),
               RESET_SENS=(9, 1, "w1"), CLEAR_SAT=(10, 1, "w1"), CLEAR_ERR=(11, 1, "w1"))
STATUS = _fields(BUSY=(0, 1, "ro"), ERR=(1, 1, "ro"))

#: The registers of every core (values of the constant ones: :func:`register_map`).
REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x0, "ro", f"identification, reads 0x{ID_MAGIC:08X} ('RTRL')"),
    Register("SHAPE", 0x1, "ro", "network sizes and options",
             _fields(N=(0, 8, "ro"), M=(8, 8, "ro"), P=(16, 4, "ro"), TANH=(20, 1, "ro"),
                     SNAP1=(21, 1, "ro"))),
    Register("LANES", 0x2, "ro", "number of lanes (multipliers) of the sweep engine"),
    Register("CTRL", 0x3, "rw", "LEARN: apply the update; TRACK: update S (implied by "
             "LEARN; both 0 = inference only); pulses: RESET_STATE (h, S to 0), "
             "RESET_SENS (S to 0), CLEAR_SAT, CLEAR_ERR", CTRL),
    Register("STATUS", 0x4, "ro", "BUSY: a step or a reset is running; ERR: a bad "
             "access happened (sticky until CTRL.CLEAR_ERR)", STATUS),
    Register("STEPS", 0x5, "ro", "time steps completed (wraps at 2^32)"),
    Register("ETA", 0x6, "rw", "learning-rate shifts: rate 2^-ETA for Θ, 2^-ETA_O for V, c",
             _fields(ETA=(0, 5, "rw"), ETA_O=(8, 5, "rw"))),
    Register("LFSR", 0x7, "rw", "state of the stochastic-rounding LFSR (write: reseed; "
             "0 is ignored)"),
    Register("ERR_ADDR", 0x8, "ro", "address of the last bad access"),
) + tuple(Register(f"SAT_{name.upper()}", 0x10 + i, "ro",
                   f"saturation count of '{name}' (wraps at 2^32)")
          for i, name in enumerate(SAT_NAMES))

_BY_NAME = {r.name: r for r in REGISTERS}


def _register(name: str) -> Register:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"no register {name!r}") from None


def pack(name: str, **values: int) -> int:
    """A word of register ``name`` from its field values (lower-case names; absent fields
    0). ValueError, naming the field, when a value does not fit."""
    return _register(name).pack(**values)


def unpack(name: str, word: int) -> dict[str, int]:
    """The field values of a word of register ``name``, by lower-case name."""
    return _register(name).unpack(word)


@dataclass(frozen=True)
class RegisterMap:
    registers: tuple[Register, ...]
    windows: tuple[Window, ...]

    def __getitem__(self, name: str) -> Register | Window:
        for r in self.registers + self.windows:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"addr_width": ADDR_WIDTH, "data_width": DATA_WIDTH,
                "registers": [asdict(r) for r in self.registers],
                "windows": [asdict(w) for w in self.windows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        out = ["# Register map", "",
               f"Word addresses on the core's register bus ({ADDR_WIDTH}-bit address, "
               f"{DATA_WIDTH}-bit data).", "",
               "| address | name | access | description |", "|---|---|---|---|"]
        for r in self.registers:
            reads = "" if r.value is None else f" (this core: 0x{r.value:08X})"
            out.append(f"| 0x{r.addr:06x} | {r.name} | {r.access} | {_md(r.doc)}{reads} |")
            for fname, f in r.fields.items():
                bits = f"[{f.lsb}]" if f.width == 1 else f"[{f.lsb + f.width - 1}:{f.lsb}]"
                out.append(f"| | `{fname}` {bits} | {f.access} | |")
        out += ["", "| base | window | words | format Q(w,f) | access | description |",
                "|---|---|---|---|---|---|"]
        for w in self.windows:
            out.append(f"| 0x{w.base:06x} | {w.name} | {w.size} | Q({w.fmt[0]},{w.fmt[1]}) | "
                       f"{w.access} | {_md(w.doc)} |")
        out += ["", "Writes to read-only registers, accesses to unmapped addresses and window "
                "accesses while BUSY are ignored (reads return 0), set STATUS.ERR and record "
                "the address in ERR_ADDR. Windows are read and written only while idle.", ""]
        return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def window_bits(size: int) -> int:
    """Index bits of a window of ``size`` words (at least 1); windows are aligned to
    2**window_bits, so the index is the low bits of the address."""
    return max(1, (size - 1).bit_length())


def s_index_bits(cfg: Config) -> tuple[int, int]:
    """(kbits, cbits): the exact-RTRL S window index is k·2^cbits + c, c = i·q + j."""
    return window_bits(cfg.n), window_bits(cfg.n * cfg.q)


def _align(x: int, size: int) -> int:
    """The first multiple of 2**window_bits(size) at or after x."""
    a = 1 << window_bits(size)
    return -(-x // a) * a


def _constants(cfg: Config, lanes: int | None) -> dict[str, int]:
    """The values of the constant read-only registers; ValueError naming the Config field
    (and the register field) when the Config cannot be described."""
    if lanes is not None and (isinstance(lanes, bool) or not isinstance(lanes, int)
                              or not 1 <= lanes < 1 << DATA_WIDTH):
        raise ValueError(f"lanes: must be an integer in 1..2^{DATA_WIDTH} - 1, got {lanes!r}")
    checked = {"SHAPE": [("hidden", "n", cfg.n), ("inputs", "m", cfg.m),
                         ("outputs", "p", cfg.p), ("activation", "tanh", cfg.activation == "tanh"),
                         ("approx", "snap1", cfg.approx == "snap1")],
               "ETA": [("eta", "eta", cfg.eta), ("eta_o", "eta_o", cfg.eta_o)]}
    words = dict.fromkeys(checked, 0)
    for reg, items in checked.items():
        for cfg_field, key, v in items:          # one field at a time, to name the culprit
            try:
                words[reg] |= pack(reg, **{key: v})
            except ValueError as e:
                raise ValueError(f"config field '{cfg_field}': {e}: the register map cannot "
                                 "describe it") from None
    out = {"ID": ID_MAGIC, "SHAPE": words["SHAPE"]}
    if lanes is not None:
        out["LANES"] = lanes
    return out


def register_map(cfg: Config, lanes: int | None = None) -> RegisterMap:
    """The register map of the core built from ``cfg``.

    ``lanes`` is what the read-only LANES register reads (the sweep engine's lane count):
    the generator and the testbenches, which build the core, pass it and the map records it
    (``regmap.json``, ``regmap.md``); a host that reaches a built device passes None and
    reads LANES. Nothing else depends on it: addresses and fields are the same for every
    lane count. ValueError, naming the field, when the Config does not fit the registers
    (e.g. n > 255 in the 8-bit SHAPE.N) or the address space.
    """
    values = _constants(cfg, lanes)
    regs = tuple(replace(r, value=values.get(r.name)) for r in REGISTERS)
    fm = cfg.formats
    n, m, p, q = cfg.n, cfg.m, cfg.p, cfg.q
    if cfg.approx == "exact":
        kbits, cbits = s_index_bits(cfg)
        s_size = 1 << (kbits + cbits)
        s_doc = (f"S[k, i, j] at k·2^{cbits} + i·q + j (k < n and i·q + j < n·q; "
                 "other indices are unmapped)")
    else:
        s_size, s_doc = n * q, "s[i, j] (= S[i, i, j]) at i·q + j"
    specs = [("W", n * n, fm.P, "rw", "W[k, l] = Θ[k, l] (l < n) at k·n + l"),
             ("U", n * (m + 1), fm.P, "rw", "[U | b][i, j'] = Θ[i, n + j'] at i·(m+1) + j'"),
             ("V", p * n, fm.O, "rw", "V[o, k] at o·n + k"),
             ("C", p, fm.O, "rw", "c[o] at o"),
             ("H", n, fm.H, "rw", "h[k] (the state h_{t-1} of the next step) at k"),
             ("S", s_size, fm.S, "rw", s_doc)]
    windows, base = [], 0x100
    for name, size, f, acc, doc in specs:
        base = _align(base, size)
        windows.append(Window(name, base, size, (f.w, f.f), acc, doc))
        base += size
    if base > 1 << ADDR_WIDTH:
        raise ValueError(f"config: the register map needs {base} words, more than the "
                         f"{ADDR_WIDTH}-bit address space")
    return RegisterMap(regs, tuple(windows))
