"""Run every tutorial as a script in quick mode, so the documented code cannot drift from the library.

Each tutorial runs in its own process, from the ``tutorials/`` folder (two
of them read ``data/rat_epidural.csv`` there). The run takes several
minutes per tutorial on 2 cores, mostly compiling models, so the test is
marked ``docs`` and left out of the default test run:
``python -m pytest -m docs``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
TUTORIAL_FILES = sorted(TUTORIALS.glob("*.py"))


def test_tutorials_found():
    assert len(TUTORIAL_FILES) >= 7, f"expected the tutorials in {TUTORIALS}"


@pytest.mark.docs
@pytest.mark.parametrize("tutorial", TUTORIAL_FILES, ids=lambda path: path.stem)
def test_tutorial_runs(tutorial):
    environment = {**os.environ, "HBMEP_PYMC_TUTORIAL_QUICK": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, tutorial.name],
        cwd=TUTORIALS,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"{tutorial.name} failed:\n{result.stderr[-5000:]}"
