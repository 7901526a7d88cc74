"""An independent implementation of docs/design.md §3.1 on Python integers and fractions.

Written from the document, not from the model: the tests compare the numba integer
model against it word for word. Slow and plain on purpose.
"""

import math
from fractions import Fraction


__all__ = ["rq_exact", "lfsr_reference", "reference_run"]


def rq_exact(v: int, s: int, w: int, mode: str, wrap: bool, r: int) -> tuple[int, bool]:
    """RQ by its definition on rationals: round v / 2^s, then saturate or wrap."""
    x = Fraction(v, 2**s) if s >= 0 else Fraction(v * 2**-s)
    if s <= 0:
        q = int(x)
    elif mode == "floor":
        q = math.floor(x)
    elif mode == "half_up":
        q = math.floor(x + Fraction(1, 2))
    elif mode == "half_even":
        q = round(x)  # Fraction.__round__ rounds ties to even
    else:
        q = math.floor(x + Fraction(r % 2**s, 2**s))
    lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    if lo <= q <= hi:
        return q, False
    if wrap:
        return (q - lo) % 2**w + lo, True
    return min(max(q, lo), hi), True


def lfsr_reference(state: int) -> int:
    """Galois LFSR from the polynomial x^32 + x^22 + x^2 + x + 1 (taps = exponents - 1)."""
    mask = sum(1 << (e - 1) for e in (32, 22, 2, 1))
    out = state & 1
    state >>= 1
    return state ^ mask if out else state



def reference_run(cfg, theta, V, c, xs, ds, learn=True, track=True, table=None, h=None,
                  S=None, lfsr=None):
    """Run §3.1 for every (x, d) with Python ints; S is a dict {(k, i, j): value}.

    Returns a dict: y, e, G (per step), theta, V, c, h, S (final), sat (counts by name),
    lfsr. ``table`` is the tanh table (the one table model and hardware share).
    """
    fm = cfg.formats
    n, p, q = cfg.n, cfg.p, cfg.q
    theta = [[int(v) for v in row] for row in theta]
    V = [[int(v) for v in row] for row in V]
    c = [int(v) for v in c]
    h = [0] * n if h is None else list(h)
    exact = cfg.approx == "exact"
    S = {} if S is None else dict(S)
    state = [cfg.lfsr_seed if lfsr is None else lfsr]
    sat = dict.fromkeys(("x", "a", "h", "dphi", "y", "e", "chat", "s", "theta", "v"), 0)
    wrap = cfg.overflow == "wrap"

    def RQ(v, f_in, F, r, name, rnd=0):
        out, clipped = rq_exact(v, f_in - F.f, F.w, r, wrap, rnd)
        sat[name] += clipped
        return out

    def SAT(v, F, name):
        return RQ(v, F.f, F, "floor", name)

    def upd_rnd():
        state[0] = lfsr_reference(state[0])
        return state[0]

    ys, es, Gs = [], [], []
    for x, d in zip(xs, ds):
        z = h + [RQ(int(xj), fm.X.f, fm.H, cfg.r_fwd, "x") for xj in x] + [2**fm.H.f]
        a = [RQ(sum(theta[i][j] * z[j] for j in range(q)), fm.P.f + fm.H.f, fm.A, cfg.r_fwd,
                "a") for i in range(n)]
        if cfg.activation == "hardtanh":
            hn = [min(max(RQ(ai, fm.A.f, fm.H, cfg.r_fwd, "h"), -2**fm.H.f), 2**fm.H.f)
                  for ai in a]
            dphi = [2**fm.F.f if -2**fm.A.f < ai < 2**fm.A.f else 0 for ai in a]
        else:
            half = 2 ** (cfg.tanh_bits - 1)
            hn = [int(table[min(max(math.floor(Fraction(ai, 2**cfg.tanh_shift)), -half),
                                half - 1) + half]) for ai in a]
            dphi = [RQ(2 ** (2 * fm.H.f) - hi * hi, 2 * fm.H.f, fm.F, cfg.r_fwd, "dphi")
                    for hi in hn]
        y = [RQ(sum(V[o][k] * hn[k] for k in range(n)) + c[o] * 2**fm.H.f, fm.O.f + fm.H.f,
                fm.Y, cfg.r_fwd, "y") for o in range(p)]
        e = [SAT(y[o] - int(d[o]), fm.Y, "e") for o in range(p)]
        chat = [RQ(sum(V[o][k] * e[o] for o in range(p)), fm.O.f + fm.Y.f, fm.C, cfg.r_fwd,
                   "chat") for k in range(n)]
        zt = 2 ** (fm.P.f + fm.S.f - fm.H.f)
        G = [[0] * q for _ in range(n)]
        newS = {}
        for i in range(n if track or learn else 0):
            for j in range(q):
                rows = range(n) if exact else [i]
                for k in rows:
                    ls = range(n) if exact else [i]
                    u = sum(theta[k][l] * S.get((l, i, j), 0) for l in ls)
                    u += z[j] * zt if k == i else 0
                    s1 = RQ(u, fm.P.f + fm.S.f, fm.S, cfg.r_sens, "s")
                    newS[(k, i, j)] = RQ(s1 * dphi[k], fm.S.f + fm.F.f, fm.S, cfg.r_sens, "s")
                    G[i][j] += chat[k] * newS[(k, i, j)]
        S = newS if track or learn else S
        if learn:
            for i in range(n):
                for j in range(q):
                    dl = RQ(G[i][j], fm.C.f + fm.S.f + cfg.eta, fm.P, cfg.r_upd, "theta",
                            upd_rnd())
                    theta[i][j] = SAT(theta[i][j] - dl, fm.P, "theta")
            for o in range(p):
                for k in range(n):
                    dl = RQ(e[o] * hn[k], fm.Y.f + fm.H.f + cfg.eta_o, fm.O, cfg.r_upd, "v",
                            upd_rnd())
                    V[o][k] = SAT(V[o][k] - dl, fm.O, "v")
            for o in range(p):
                dl = RQ(e[o], fm.Y.f + cfg.eta_o, fm.O, cfg.r_upd, "v", upd_rnd())
                c[o] = SAT(c[o] - dl, fm.O, "v")
        h = hn
        ys.append(y)
        es.append(e)
        Gs.append(G)
    return {"y": ys, "e": es, "G": Gs, "theta": theta, "V": V, "c": c, "h": h, "S": S,
            "sat": sat, "lfsr": state[0]}
