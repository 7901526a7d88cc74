"""PLL settings for the board clocks: the iCE40 SB_PLL40 (as icepll searches) and the
ECP5 EHXPLLL (as ecppll searches)."""

from __future__ import annotations

__all__ = ["ice40_pll", "ecp5_pll"]


def ice40_pll(fin_hz: float, fout_hz: float) -> dict:
    """SB_PLL40 settings closest to ``fout_hz`` (the icepll search; SIMPLE feedback).

    Returns DIVR, DIVF, DIVQ, FILTER_RANGE and the achieved ``freq`` in Hz.
    """
    best = None
    fin = fin_hz / 1e6
    for divr in range(16):
        fpfd = fin / (divr + 1)
        if not 10 <= fpfd <= 133:
            continue
        for divf in range(128):
            fvco = fpfd * (divf + 1)
            if not 533 <= fvco <= 1066:
                continue
            for divq in range(1, 7):
                fout = fvco / (1 << divq)
                if not 16 <= fout <= 275:
                    continue
                err = abs(fout - fout_hz / 1e6)
                if best is None or err < best[0]:
                    best = (err, divr, divf, divq, fpfd, fout)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting for {fout_hz / 1e6:g} MHz")
    _, divr, divf, divq, fpfd, fout = best
    filt = next(i for i, lim in enumerate((17, 26, 44, 66, 101, 1e9), start=1) if fpfd < lim)
    return {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filt, "freq": fout * 1e6}


def ecp5_pll(fin_hz: float, fout_hz: float) -> dict:
    """EHXPLLL settings closest to ``fout_hz`` (the ecppll search; CLKOP feedback)."""
    fin, want = fin_hz / 1e6, fout_hz / 1e6
    best = None
    for idiv in range(1, 129):
        if fin / idiv < 3.125:
            break
        for fbdiv in range(1, 81):
            fout = fin * fbdiv / idiv
            if not 3.125 <= fout <= 400:
                continue
            odivs = [o for o in range(1, 129) if 400 <= fout * o <= 800]
            if not odivs:
                continue
            odiv = min(odivs, key=lambda o: abs(fout * o - 600))   # VCO near mid-range
            fvco = fout * odiv
            err = abs(fout - want)
            if best is None or err < best[0] - 1e-9:
                best = (err, idiv, fbdiv, odiv, fout, fvco)
    if best is None:
        raise ValueError(f"no ECP5 PLL setting for {want:g} MHz")
    _, idiv, fbdiv, odiv, fout, fvco = best
    return {"CLKI_DIV": idiv, "CLKFB_DIV": fbdiv, "CLKOP_DIV": odiv,
            "CLKOP_CPHASE": odiv - 1, "freq": fout * 1e6, "vco": fvco * 1e6}
