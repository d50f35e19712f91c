"""Fixtures of the fault scenarios: a temp root per test, the keys, and the printed results.
The black-box suite's support module is imported through faultkit (tests/blackbox on sys.path)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

import faultkit
from faultkit import Keys, support


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def root(request: pytest.FixtureRequest) -> Iterator[Path]:
    d = support.make_tempdir("count-fault-")
    os.chmod(d, 0o755)  # the postgres user must reach its data dir below
    yield d
    if os.environ.get("COUNT_KEEP_TMP"):
        print(f"\nfault temp dir kept: {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not faultkit.RESULTS:
        return
    terminalreporter.section("measured results")
    for scenario, figures in faultkit.RESULTS:
        terminalreporter.write_line(f"{scenario}: {json.dumps(figures, sort_keys=False)}")
