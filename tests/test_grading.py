"""The reference scores 100, the untouched stubs score 0, and every test is always reported."""

import os

import pytest

from autograder.core import config
from autograder.harness import evidence
from autograder.suite.results import plain
from tests.conftest import ROOT, failed
from tests.gradescope_schema import problems


@pytest.fixture(scope="module")
def reference(reference_graded):
    return reference_graded[0]


@pytest.fixture(scope="module")
def stubs(run_grader):
    return run_grader(ROOT / "student")


def test_reference_scores_100(reference):
    assert failed(reference) == {}
    assert reference["score"] == 100


def test_reference_results_are_valid_gradescope_json(reference):
    assert problems(reference) == []


def test_reference_results_carry_a_leaderboard_of_the_three_accuracies(reference):
    board = {e["name"]: e["value"] for e in reference["leaderboard"]}
    assert set(board) == {"NumPy ANN accuracy", "PyTorch ANN accuracy", "PyTorch CNN accuracy"}
    assert board["PyTorch CNN accuracy"] >= 100 * config.THRESHOLDS["pytorch_cnn"]


def test_accuracy_tests_report_accuracy_and_training_time(reference):
    outputs = [plain(t) for t in reference["tests"] if ".accuracy:" in t["name"]]
    assert len(outputs) == 3
    assert all("test accuracy" in o and "of CPU time for" in o for o in outputs)


def test_stubs_score_0(stubs):
    assert stubs["score"] == 0
    assert problems(stubs) == []


def test_stubs_report_every_test_with_its_points(stubs):
    got = {t["name"]: (t["number"], t["max_score"], t["visibility"]) for t in stubs["tests"]}
    assert got == config.POINTS


def test_stubs_fail_every_test_with_a_reason(stubs):
    reasons = failed(stubs)
    assert set(reasons) == set(config.POINTS)
    vague = {name: why for name, why in reasons.items()
             if not any(word in why for word in ("not implemented yet", "not tested", "not in the submission",
                                                 "still raise NotImplementedError"))}
    assert vague == {}


def test_stub_failures_name_the_unfinished_function(stubs):
    relu = next(t for t in stubs["tests"] if t["name"] == "numpy_ann.relu: max(0, z) elementwise")
    assert "relu still raises NotImplementedError" in plain(relu)
    assert "line" in plain(relu)


def test_check_runs_only_the_visible_tests(run_grader):
    results = run_grader(ROOT / "student", only="numpy_ann", visible_only=True)
    names = {t["name"] for t in results["tests"]}
    visible = {n for n, (_, _, v) in config.POINTS.items() if v == "visible" and n.startswith("numpy_ann.")}
    assert names == visible


def test_a_missing_file_fails_its_own_tests_only(run_grader, reference_copy):
    (reference_copy / "numpy_ann.py").unlink()
    results = run_grader(reference_copy, only="numpy_ann")
    assert all("numpy_ann.py is not in the submission" in why for why in failed(results).values())
    assert len(failed(results)) == len(results["tests"])


def test_an_empty_folder_is_graded_0_with_every_test_reported(run_grader, tmp_path):
    results = run_grader(tmp_path)
    assert results["score"] == 0
    assert {t["name"] for t in results["tests"]} == set(config.POINTS)
    assert problems(results) == []


DEADLINE = 1500  # GRADER_TRAIN_DEADLINE for the command below: training is not what it checks


def test_the_command_shows_each_file_and_each_epoch_of_training_as_it_goes(tmp_path):
    """`make check` and `make grade` print progress while the workers run, then the table."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "autograder.grade", str(ROOT / "solutions"), "--only", "numpy_ann",
                          "--results", str(tmp_path / "results.json")],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "GRADER_TRAIN_DEADLINE": str(DEADLINE)})
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    points = sum(row[1] for name, row in config.POINTS.items() if name.startswith("numpy_ann."))
    budget = evidence.seconds(DEADLINE * config.TRAIN_SHARE["numpy_ann"])
    expected = ["numpy_ann.py: running your code ...",
                f"numpy_ann.py: training with your defaults (budget: {budget} of CPU time) ...",
                "epoch  1/2", "epoch  2/2", "numpy_ann.py: all its calls finished in", f"numpy_ann.py  {points}/{points}"]
    where = [next((i for i, line in enumerate(lines) if want in line), None) for want in expected]
    assert None not in where and where == sorted(where), out.stdout


def test_a_predict_that_cannot_take_the_whole_test_set_at_once_still_gets_its_accuracy(run_grader, reference_copy):
    """Many students' predict runs all its input through the model in one pass: for 10,000 images and a wide CNN
    that is about a gigabyte, more than Gradescope's default machine has. The grader asks for a chunk at a time."""
    path = reference_copy / "pytorch_cnn.py"
    source = path.read_text()
    anchor = '        """X (n, 784) or (n, 1, 28, 28) -> class indices, int64 (n,)."""\n'
    assert anchor in source
    path.write_text(source.replace(anchor, anchor + "        if len(X) > 2_000:\n"
                                   "            raise MemoryError('out of memory: all images in one pass')\n"))
    results = run_grader(reference_copy, only="pytorch_cnn")
    assert failed(results) == {}, failed(results)
