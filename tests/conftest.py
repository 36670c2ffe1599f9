"""Fixtures for the project's own tests: grade a folder and read its results.json."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import grade  # noqa: E402
from autograder.core import config  # noqa: E402
from autograder.harness import expected  # noqa: E402


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


@pytest.fixture(scope="session")
def reference_graded(run_grader, tmp_path_factory):
    """The reference graded once per session: (its results.json, the folder of the evidence the grader kept)."""
    work = Path(tempfile.mkdtemp(prefix="reference-work-"))  # not under pytest's 0700 folder: workers pass through it
    work.chmod(0o755)
    yield run_grader(ROOT / "solutions", work=work), work / "evidence"
    shutil.rmtree(work, ignore_errors=True)


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
    """name -> output of every failed test."""
    return {t["name"]: t["output"] for t in results["tests"] if t["status"] != "passed"}


# Fixtures that grade or train: a test that uses one belongs to `make test` only, not to `make test-fast`.
GRADING_FIXTURES = {"run_grader", "reference_graded", "expected_dir", "plain_class", "export", "autograder",
                    "reference_nested"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if GRADING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
