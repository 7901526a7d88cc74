"""The scoreboard can fail: a lost, duplicated, reordered or changed result, and a missing
one at the end, each leave a mismatch; the true sequence leaves none."""

import numpy as np
import pytest

from rtrledit.model import Config, FixedRTRL, init_params
from rtrledit.sim.scoreboard import Scoreboard, protocol_checked

CFG = Config(hidden=3, inputs=1)
T = 12
K = 7          # the result mutated: it and its neighbours differ


def _run():
    fx = FixedRTRL.from_float(CFG, *init_params(CFG.n, CFG.m, CFG.p, seed=2))
    rng = np.random.default_rng(5)
    xs = rng.integers(-CFG.formats.X.one, CFG.formats.X.one, (T, CFG.m))
    ds = rng.integers(-CFG.formats.Y.one, CFG.formats.Y.one, (T, CFG.p))
    ref = FixedRTRL(CFG, fx.theta, fx.V, fx.c)
    r = ref.run(xs, ds, learn=True)
    results = [(list(r.y[t]), int(r.flags[t])) for t in range(T)]
    assert len({tuple(y) for y, _ in results[K - 1:K + 2]}) == 3
    return fx, xs, ds, results, ref


def _score(results):
    fx, xs, ds, _, ref = _run()
    sb = Scoreboard(CFG, fx.theta, fx.V, fx.c)
    for t in range(T):
        sb.expect(xs[t], ds[t], learn=True, track=True)
    for y, f in results:
        sb.check_result(y, f)
    sb.check_state({"theta": ref.theta, "V": ref.V, "c": ref.c, "h": ref.h, "S": ref.S})
    return sb


def test_the_true_results_pass():
    sb = _score(_run()[3])
    assert sb.ok and sb.results == T


@pytest.mark.parametrize("mutation", ["drop", "duplicate", "swap", "change", "extra"])
def test_a_wrong_result_sequence_fails(mutation):
    res = list(_run()[3])
    k = K
    if mutation == "drop":
        del res[k]
    elif mutation == "duplicate":
        res.insert(k, res[k])
    elif mutation == "swap":
        res[k], res[k + 1] = res[k + 1], res[k]
    elif mutation == "change":
        res[k] = ([res[k][0][0] + 1], res[k][1])
    else:
        res.append(res[-1])
    sb = _score(res)
    assert not sb.ok
    first = sb.first_mismatch
    if mutation == "extra":
        assert first.quantity == "result (unexpected)"
    else:
        # the first wrong step: k (k + 1 for a duplicate, whose first copy is right)
        assert first.step == k + (mutation == "duplicate") and first.quantity == "y"
    if mutation == "drop":     # and the last sample's result is reported missing
        assert sb.mismatches[-1].quantity == "result (missing)" and sb.mismatches[-1].step == T - 1


def test_protocol_errors_fail_the_report():
    report = {"bitexact": True, "mismatches": 0, "mismatch_list": []}
    out, _ = protocol_checked((dict(report), {}), [])
    assert out["bitexact"] and out["protocol_errors"] == 0
    out, _ = protocol_checked((dict(report), {}), ["result 3: payload changed while held"])
    assert not out["bitexact"] and out["mismatches"] == 1 and out["protocol_errors"] == 1
