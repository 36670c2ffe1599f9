"""Fixtures shared by the grading tests: the submission's evidence and the expected values."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import utils
from autograder import config, evidence, expected, intake

def pytest_addoption(parser):
    """--submission, --expected, --work."""
    group = parser.getgroup("grading")
    group.addoption("--submission", default=None, help="folder holding the student's files (default: solutions/)")
    group.addoption("--expected", default=None, help="folder of expected values (default: built from solutions/)")
    group.addoption("--work", default=None, help="scratch folder (default: a temporary one)")


class Grader:
    """The submission under test, run lazily: each file's worker starts when its first test needs it."""

    def __init__(self, submission: Path, expected_dir: Path | None, work: Path):
        self.submission, self.work = submission, work
        self.found = intake.find_files(submission)
        self._expected_dir = expected_dir
        self._evidence: dict[str, evidence.Evidence] = {}
        self._expected: dict[str, evidence.Evidence] = {}
        images, self.test_labels = utils.load_fashion_mnist("test")
        self.test_images_path = work / "test_images.npy"
        np.save(self.test_images_path, images)

    def evidence(self, file: str) -> evidence.Evidence:
        if file not in self._evidence:
            out = self.work / "evidence" / file
            source = self.found.get(f"{file}.py")
            if source is None:
                self._evidence[file] = evidence.Evidence(
                    file, out, missing=f"{file}.py is not in the submission ({intake.listing(self.submission)})")
            else:
                scratch = self.work / "run" / file
                scratch.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, scratch / f"{file}.py")
                evidence.collect(file, scratch, out, env={"GRADER_TEST_IMAGES": str(self.test_images_path)})
                self._evidence[file] = evidence.Evidence(file, out)
        return self._evidence[file]

    def expected(self, file: str) -> evidence.Evidence:
        if file not in self._expected:
            if self._expected_dir is None:
                self._expected_dir = expected.ensure()
            self._expected[file] = evidence.Evidence(file, self._expected_dir / file)
        return self._expected[file]

    def source(self, file: str) -> Path | None:
        return self.found.get(f"{file}.py")

    def png(self, file: str) -> Path | None:
        return self.found.get(config.PNG_FILES[file])


@pytest.fixture(scope="session")
def grader(request):
    option = request.config.getoption
    submission = Path(option("--submission") or utils.ROOT / "solutions").resolve()
    expected_dir = Path(option("--expected")).resolve() if option("--expected") else None
    if option("--work"):
        work = Path(option("--work")).resolve()
        work.mkdir(parents=True, exist_ok=True)
        yield Grader(submission, expected_dir, work)
    else:
        work = Path(tempfile.mkdtemp(prefix="grader-"))
        try:
            yield Grader(submission, expected_dir, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
