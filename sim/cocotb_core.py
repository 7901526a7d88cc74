"""The cocotb test module for the core: runs the :class:`~rtrledit.sim.job.Job` files named
by ``RTRLEDIT_JOB`` (one path, or several joined by ``os.pathsep``: a batch on one design,
one simulator start, a reset between jobs; see :func:`~rtrledit.sim.execute.execute`) and
writes the reports, a JSON list, to ``RTRLEDIT_REPORT`` (and the first job's outputs and
final state to ``RTRLEDIT_DUMP`` when set). Run it through
:func:`rtrledit.sim.runner.simulate`, not directly.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from .execute import execute
from .job import Job
from .runner import PERIOD_NS
from .scoreboard import protocol_checked
from .tb import CoreTB

__all__ = ["run_job"]


@cocotb.test()
async def run_job(dut) -> None:
    jobs = [Job.load(p) for p in os.environ["RTRLEDIT_JOB"].split(os.pathsep)]
    tb = CoreTB(dut, jobs[0].cfg, jobs[0].lanes, PERIOD_NS,
                clock=os.environ.get("RTRLEDIT_CLOCK", "gpi"))
    reports = []
    for k, job in enumerate(jobs):
        tb.protocol_errors.clear()
        job.stalls.apply(tb)
        report, dump = protocol_checked(await execute(job, tb), tb.protocol_errors)
        reports.append(report)
        if k == 0 and os.environ.get("RTRLEDIT_DUMP"):
            np.savez(os.environ["RTRLEDIT_DUMP"], **dump)
    with open(os.environ["RTRLEDIT_REPORT"], "w") as fh:
        json.dump(reports, fh)
    assert all(r["bitexact"] for r in reports), "; ".join(
        m for r in reports for m in r["mismatch_list"][:5])
