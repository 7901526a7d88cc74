"""The learning core's register map, described once, from the Config.

The core's register file (:mod:`rtrledit.hdl.core`), the testbenches, the host drivers
and the generated documentation all read :func:`register_map`. Addresses are word
addresses on the core's register bus (32-bit data). Window bases are laid out from the
Config's sizes, so they are part of the generated output (``regmap.json``), not constants.

Bad accesses have defined effects: a write to a read-only register or an access to an
unmapped address or to a window while the core is busy is ignored (a read returns 0),
sets ``STATUS.ERR`` and records the address in ``ERR_ADDR``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..model.config import SAT_NAMES, Config

__all__ = ["Register", "Window", "RegisterMap", "register_map", "window_bits", "s_index_bits", "ID_MAGIC", "ADDR_WIDTH",
           "CTRL", "STATUS"]

ID_MAGIC = 0x5254524C  # "RTRL"
ADDR_WIDTH = 24
DATA_WIDTH = 32


@dataclass(frozen=True)
class Register:
    """One 32-bit register. ``access``: "ro", "rw"; ``fields``: name -> (lsb, width, access)."""

    name: str
    addr: int
    access: str
    doc: str
    fields: dict[str, tuple[int, int, str]] = field(default_factory=dict)


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


#: CTRL fields: (lsb, width, access). "w1" bits are pulses: writing 1 acts, they read as 0.
CTRL = {"LEARN": (0, 1, "rw"), "TRACK": (1, 1, "rw"), "RESET_STATE": (8, 1, "w1"),
        "RESET_SENS": (9, 1, "w1"), "CLEAR_SAT": (10, 1, "w1"), "CLEAR_ERR": (11, 1, "w1")}
STATUS = {"BUSY": (0, 1, "ro"), "ERR": (1, 1, "ro")}


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
            out.append(f"| 0x{r.addr:06x} | {r.name} | {r.access} | {_md(r.doc)} |")
            for fname, (lsb, width, acc) in r.fields.items():
                bits = f"[{lsb}]" if width == 1 else f"[{lsb + width - 1}:{lsb}]"
                out.append(f"| | `{fname}` {bits} | {acc} | |")
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


def register_map(cfg: Config, lanes: int) -> RegisterMap:
    """The register map of the core built from ``cfg`` with ``lanes`` PEs."""
    fm = cfg.formats
    regs = [
        Register("ID", 0x0, "ro", f"identification, reads 0x{ID_MAGIC:08X} ('RTRL')"),
        Register("SHAPE", 0x1, "ro", "network sizes and options",
                 {"N": (0, 8, "ro"), "M": (8, 8, "ro"), "P": (16, 4, "ro"),
                  "TANH": (20, 1, "ro"), "SNAP1": (21, 1, "ro")}),
        Register("LANES", 0x2, "ro", "number of PEs in the sweep engine"),
        Register("CTRL", 0x3, "rw", "LEARN: apply the update; TRACK: update S (implied by "
                 "LEARN; both 0 = inference only); pulses: RESET_STATE (h, S to 0), "
                 "RESET_SENS (S to 0), CLEAR_SAT, CLEAR_ERR", dict(CTRL)),
        Register("STATUS", 0x4, "ro", "BUSY: a step or a reset is running; ERR: a bad "
                 "access happened (sticky until CTRL.CLEAR_ERR)", dict(STATUS)),
        Register("STEPS", 0x5, "ro", "time steps completed (wraps at 2^32)"),
        Register("ETA", 0x6, "rw", "learning-rate shifts: rate 2^-ETA for Θ, 2^-ETA_O for V, c",
                 {"ETA": (0, 5, "rw"), "ETA_O": (8, 5, "rw")}),
        Register("LFSR", 0x7, "rw", "state of the stochastic-rounding LFSR (write: reseed; "
                 "0 is ignored)"),
        Register("ERR_ADDR", 0x8, "ro", "address of the last bad access"),
    ]
    regs += [Register(f"SAT_{name.upper()}", 0x10 + i, "ro",
                      f"saturation count of '{name}' (wraps at 2^32)")
             for i, name in enumerate(SAT_NAMES)]
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
    return RegisterMap(tuple(regs), tuple(windows))
