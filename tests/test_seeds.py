"""The reference clears every threshold by at least 3 points under each of 5 seeds (what `make seeds` checks)."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_the_reference_clears_every_threshold_by_3_points_under_5_seeds():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "seeds.py"), "--seeds", "0", "1", "2", "3", "4",
                           "--margin", "0.03"], capture_output=True, text=True, timeout=900)
    rows = [line for line in done.stdout.splitlines() if line.startswith(("numpy_ann", "pytorch_ann", "pytorch_cnn"))]
    assert len(rows) == 15, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
