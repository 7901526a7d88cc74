"""The cocotb test module for the core: runs the :class:`~rtrledit.sim.job.Job` named by
``RTRLEDIT_JOB`` (see :func:`~rtrledit.sim.execute.execute`) and writes the report to
``RTRLEDIT_REPORT`` (and the design's outputs and final state to ``RTRLEDIT_DUMP`` when
set). Run it through :func:`rtrledit.sim.runner.simulate`, not directly.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from .execute import execute
from .job import Job
from .tb import CoreTB


@cocotb.test()
async def run_job(dut) -> None:
    job = Job.load(os.environ["RTRLEDIT_JOB"])
    report, dump = await execute(job, CoreTB(dut, job.cfg, job.lanes))
    with open(os.environ["RTRLEDIT_REPORT"], "w") as fh:
        json.dump(report, fh)
    if os.environ.get("RTRLEDIT_DUMP"):
        np.savez(os.environ["RTRLEDIT_DUMP"], **dump)
    assert report["bitexact"], "; ".join(report["mismatch_list"][:5])
