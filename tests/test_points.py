"""The points table is the one source of truth: 100 points, one test per row, well named."""

import re

import pytest

from autograder.core import config
from tests.conftest import ROOT


def graded_names():
    """The graded name of every test function in the grading suite, with repeats."""
    from autograder.hidden import test_hidden
    from autograder.suite import test_numpy_ann, test_pytorch_ann, test_pytorch_cnn

    names = []
    for module in (test_numpy_ann, test_pytorch_ann, test_pytorch_cnn, test_hidden):
        names += [fn.__graded_name__ for key, fn in vars(module).items()
                  if key.startswith("test_") and hasattr(fn, "__graded_name__")]
    return names


def test_points_add_up_to_100():
    assert sum(points for _, points, _ in config.POINTS.values()) == config.TOTAL == 100
    assert config.HIDDEN_POINTS == sum(points for _, points, v in config.POINTS.values() if v != "visible") > 0


def test_every_row_has_exactly_one_test():
    names = graded_names()
    assert sorted(names) == sorted(config.POINTS)


def test_numbers_are_unique():
    numbers = [number for number, _, _ in config.POINTS.values()]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize("name", sorted(config.POINTS))
def test_names_follow_file_part_what(name):
    assert re.fullmatch(r"(numpy_ann|pytorch_ann|pytorch_cnn)\.[a-z_]+: \S.*", name)


def test_visibilities_are_gradescope_values():
    assert {v for _, _, v in config.POINTS.values()} <= {"visible", "hidden", "after_due_date", "after_published"}


def test_every_graded_file_has_a_threshold_between_chance_and_perfect():
    assert set(config.THRESHOLDS) == set(config.FILES)
    assert all(0.1 < value < 1 for value in config.THRESHOLDS.values())


def test_the_grader_reads_the_thresholds_of_utils():
    import utils

    assert config.THRESHOLDS == utils.THRESHOLDS


def test_the_processes_that_wait_on_grading_load_neither_numpy_nor_pytest():
    """They live as long as the grading does, beside the workers, so they stay small (Gradescope has 768 MB)."""
    import subprocess
    import sys

    code = ("import sys; import autograder.packaging.gradescope, autograder.grade; "
            "print(sorted(m for m in ('numpy', 'pytest', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
