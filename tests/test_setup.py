"""setup.sh run end to end as Gradescope runs it, and the environment it builds grading for real.

As root, the zip is unpacked into a folder mounted at the real /autograder in
a private mount namespace; setup.sh runs there as written, except that
torch and torchvision come from the package index this machine reaches
(SETUP_TORCH_INDEX empty: pip's own configuration) instead of PyTorch's CPU
index. run_autograder then grades from that environment alone, in a bare
environment (`env -i`), with no link to this project's .venv. This is the
slowest test (it installs torch): one module, everything it checks shares
the one set-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.packaging import gradescope
from tests.conftest import ROOT
from tests.gradescope_schema import problems

NEEDS_BYTES = 12 << 30  # the virtual environment setup.sh builds (a CUDA build of torch here: about 6 GB), twice over
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                       or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0,
                       reason="setup.sh needs root and a private mount namespace to run at /autograder"),
    pytest.mark.skipif(shutil.disk_usage(tempfile.gettempdir()).free < NEEDS_BYTES,
                       reason=f"setup.sh's environment needs {NEEDS_BYTES >> 30} GB free in {tempfile.gettempdir()}"),
]
BARE = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]


def at_autograder(folder: Path, script: str, timeout: float) -> subprocess.CompletedProcess:
    """Run `script` with `folder` mounted at /autograder, in a private mount namespace, in a bare environment."""
    Path("/autograder").mkdir(exist_ok=True)
    return subprocess.run([*BARE, "unshare", "-m", "--propagation", "private", "bash", "-c",
                           f"set -e; mount --bind {folder} /autograder; {script}"],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """/autograder after setup.sh: its folder on disk (the venv alone is about 6 GB here: not in memory)."""
    zip_path = gradescope.build(tmp_path_factory.mktemp("dist") / "autograder.zip")
    top = Path(tempfile.mkdtemp(prefix="setup-sh-"))
    top.chmod(0o755)
    folder = top / "autograder"
    (folder / "source").mkdir(parents=True)
    folder.chmod(0o755)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder / "source")
    for name in ("setup.sh", "run_autograder"):
        (folder / "source" / name).chmod(0o755)
    done = at_autograder(folder, "cd /autograder/source && SETUP_TORCH_INDEX= ./setup.sh", timeout=2400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.copy(folder / "source" / "run_autograder", folder / "run_autograder")
    yield folder, done.stdout
    shutil.rmtree(top, ignore_errors=True)


def grade(folder: Path, submission: Path) -> dict:
    for name in ("submission", "results"):
        shutil.rmtree(folder / name, ignore_errors=True)
    shutil.copytree(submission, folder / "submission")
    (folder / "results").mkdir()
    done = at_autograder(folder, "cd /autograder && ./run_autograder", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((folder / "results" / "results.json").read_text())
    assert problems(results) == []
    return results


def test_setup_sh_builds_an_environment_that_grades_the_reference_100_and_the_stubs_0(autograder):
    folder, output = autograder
    assert "autograder set up: torch" in output
    assert not (folder / "venv").is_symlink() and (folder / "venv" / "bin" / "python").exists()
    reference = grade(folder, ROOT / "solutions")
    assert reference["score"] == 100, [(t["name"], t["output"]) for t in reference["tests"] if t["status"] != "passed"]
    assert grade(folder, ROOT / "student")["score"] == 0


def test_setup_sh_closes_every_copy_of_the_test_labels(autograder):
    folder, _ = autograder
    assert (folder / "source" / "data").stat().st_mode & 0o077 == 0
    debian = Path("/usr/share/datasets/fashion-mnist")
    if debian.is_dir():
        assert debian.stat().st_mode & 0o077 == 0
    assert not list(Path("/var/cache/apt/archives").glob("dataset-fashion-mnist_*.deb"))  # apt's
