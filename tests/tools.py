"""Missing external tools: a skip on a developer's machine, a failure in CI.

CI (``CI`` set in the environment) runs on a fresh machine after the README's set-up, so
a tool missing there is a missing install step, and must not pass as a skip.
"""

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI: the README's set-up must install it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
