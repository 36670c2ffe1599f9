"""The worked example of extension: a fourth graded file, of a kind of its own, in a copy.

The change is the README's ("Add a graded file"), five files in all:
utils.py (its threshold), autograder/specs/logreg_spec.py (its spec, and its
kind's probes and schemas), autograder/suite/test_logreg.py (its tests),
student/logreg.py and solutions/logreg.py. The copy is graded end to end.
In that copy the points total 106: the course's 100 and the toy's 6.

And the change a maintainer makes most: a threshold, in utils.py alone, then
`make docs`.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = Path(__file__).parent / "extension"
LEFT_OUT = {
    ".git",
    ".venv",
    ".venv-bench",
    "data",
    "build",
    "dist",
    "grades",
    "__pycache__",
    ".pytest_cache",
    "submissions",
}
PLACES = {
    "logreg_spec.py": "autograder/specs/logreg_spec.py",
    "logreg_tests.py": "autograder/suite/test_logreg.py",
    "logreg_stub.py": "student/logreg.py",
    "logreg_reference.py": "solutions/logreg.py",
}


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=lambda folder, names: [n for n in names if n in LEFT_OUT])
    if (ROOT.parent / "shared").is_dir():  # the course's shared contract, beside the copy as beside us
        shutil.copytree(ROOT.parent / "shared", tmp_path / "shared")
    copy.chmod(0o755)
    return copy


def set_threshold(copy: Path, file: str, value: float) -> None:
    """Edit utils.py's THRESHOLDS literal, as a maintainer would."""
    utils = copy / "utils.py"
    text = utils.read_text()
    if f'"{file}":' in text:
        text, n = re.subn(rf'("{file}": )[0-9.]+', rf"\g<1>{value}", text, count=1)
    else:
        text, n = re.subn(r"(THRESHOLDS = \{)", rf'\1"{file}": {value}, ', text, count=1)
    assert n == 1
    utils.write_text(text)


def run(copy: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {"FASHION_MNIST_DATA": str(ROOT / "data"), "GRADER_TRAIN_DEADLINE": "1500"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**__import__("os").environ, **env},
    )


@pytest.mark.slow
def test_a_fourth_file_of_a_kind_of_its_own_grades_end_to_end(tmp_path):
    copy = project_copy(tmp_path)
    set_threshold(copy, "logreg", 0.75)
    for source, place in PLACES.items():
        shutil.copyfile(EXAMPLE / source, copy / place)
    total = run(
        copy,
        "-c",
        "from autograder.core import config; "
        "print(sum(p for _, p, _ in config.POINTS.values()), config.FILES)",
    )
    assert total.stdout.split(" ", 1) == [
        "106",
        "('numpy_ann', 'pytorch_ann', 'pytorch_cnn', 'logreg')\n",
    ], total
    for folder, score in (("solutions", 6), ("student", 0)):
        out = tmp_path / f"{folder}.json"
        done = run(
            copy, "-m", "autograder.grade", "--only", "logreg", f"--results={out}", "--", folder
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        results = json.loads(out.read_text())
        tests = {t["number"]: (t["name"], t["score"], t["max_score"]) for t in results["tests"]}
        assert tests.keys() == {"4.1", "4.2"}, tests
        assert tests["4.2"][0] == "logreg.accuracy: at least 75% on the test set"
        assert results["score"] == score, results


@pytest.mark.slow
def test_a_threshold_changes_in_utils_alone_and_make_docs_follows(tmp_path):
    copy = project_copy(tmp_path)
    set_threshold(copy, "numpy_ann", 0.75)
    stale = run(copy, "tools/docs.py", "--check")
    assert stale.returncode == 1 and "run `make docs`" in stale.stdout
    assert run(copy, "tools/docs.py").returncode == 0
    contract = (copy / "docs" / "CONTRACT.md").read_text()
    assert (
        "NumPy ANN >= 75 %" in contract
        and "`numpy_ann.accuracy: at least 75% on the test set`" in contract
    )
    assert "| 75 % |" in (copy / "README.md").read_text()
    checks = run(
        copy,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_docs.py",
        "tests/test_points.py",
        "tests/test_contract.py",
        "tests/test_records.py",
    )
    assert checks.returncode == 0, checks.stdout[-3000:]
