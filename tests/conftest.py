"""Fixtures for the project's own tests: grade a folder and read its results.json."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Under pytest-xdist (make test runs two processes), each process grades as a sandbox user of its own: a grading
# kills every process of its user when a worker ends, and must not reach the other process's gradings.
# The budgets of the reference machine, exactly, unless a test measures this one (test_calibration.py): the
# tests' expected messages name budgets.
os.environ.setdefault("GRADER_SPEED", "1")
if os.environ.get("PYTEST_XDIST_WORKER") and "GRADER_STUDENT_USER" not in os.environ:
    os.environ["GRADER_STUDENT_USER"] = f"grader-student-{os.environ['PYTEST_XDIST_WORKER']}"

from autograder import grade  # noqa: E402
from autograder.core import config  # noqa: E402
from autograder.harness import expected  # noqa: E402
from autograder.suite.results import plain  # noqa: E402


@pytest.fixture(scope="session")
def expected_dir():
    """The expected values, built once from solutions/ (or reused when up to date)."""
    return expected.ensure()


@pytest.fixture(scope="session")
def run_grader(expected_dir, tmp_path_factory):
    """grade(folder, only=None, visible_only=False, env=None) -> the results.json it wrote, as a dict.

    These tests check what is graded, not how fast: training gets a generous
    deadline (GRADER_TRAIN_DEADLINE), so a busy machine cannot fail them.
    """

    def run(folder: Path, only: str | None = None, visible_only: bool = False, env: dict | None = None,
            work: Path | None = None) -> dict:
        results = tmp_path_factory.mktemp("results") / "results.json"
        env = {"GRADER_TRAIN_DEADLINE": "1500", **(env or {})}
        code = grade.run_suite(Path(folder), results, visible_only=visible_only, expected=expected_dir, only=only,
                               env=env, work=work)
        assert code in (0, 1), f"the grading suite itself failed (pytest exit status {code})"
        return json.loads(results.read_text())

    return run


RUN = "PROJECT_TESTS_RUN"  # names this test run; pytest-xdist's processes inherit it from the run that starts them


def pytest_configure(config):
    os.environ.setdefault(RUN, uuid.uuid4().hex)


def run_folder() -> Path:
    """This test run's folder (every pytest-xdist process of it), outside pytest's 0700 folders, which workers
    must pass through; removed when the run ends (pytest_sessionfinish)."""
    return Path(tempfile.gettempdir()) / f"project-tests-{os.environ[RUN]}"


def shared_folder(name: str) -> Path:
    folder = run_folder() / name
    folder.mkdir(parents=True, exist_ok=True)
    for path in (folder.parent, folder):
        path.chmod(0o755)
    return folder


def pytest_sessionfinish(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the run itself, not one of its processes
        shutil.rmtree(run_folder(), ignore_errors=True)


@pytest.fixture(scope="session")
def reference_graded(run_grader):
    """The reference graded once per test run, whichever process asks first, the others waiting for it and
    reading what it wrote: (its results.json, the folder of the evidence the grader kept)."""
    folder = shared_folder("reference")
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "results.json").exists():
            results = run_grader(ROOT / "solutions", work=folder / "work")
            (folder / "results.tmp").write_text(json.dumps(results))
            (folder / "results.tmp").replace(folder / "results.json")
    return json.loads((folder / "results.json").read_text()), folder / "work" / "evidence"


@pytest.fixture
def reference_copy(tmp_path):
    """A fresh copy of solutions/ (the .py files and the PNGs) to mutate."""
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def accuracy_test(file: str) -> str:
    """The name of FILE's accuracy test as config.POINTS has it: its threshold is part of the name."""
    return next(name for name in config.POINTS if name.startswith(f"{file}.accuracy:"))


def failed(results: dict) -> dict[str, str]:
    """name -> message of every failed test, as plain text (results.plain)."""
    return {t["name"]: plain(t) for t in results["tests"] if t["status"] != "passed"}


# Fixtures that grade or train: a test that uses one belongs to `make test` only, not to `make test-fast`.
GRADING_FIXTURES = {"run_grader", "reference_graded", "expected_dir", "plain_class", "export", "autograder",
                    "reference_nested"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if GRADING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
