"""Test metadata from the points table, applied with gradescope-utils' decorators."""

import functools

import pytest
from gradescope_utils.autograder_utils.decorators import leaderboard, number, visibility, weight

from autograder.core import config

FAILED: set[str] = set()  # tests that failed their own checks so far (not for a cause another test names)


def graded(name: str, leaderboard_column: str | None = None):
    """Mark a test as the row `name` of config.POINTS: its points, number and visibility."""
    if name not in config.POINTS:
        raise KeyError(f"{name!r} is not a row of autograder/core/config.py POINTS")
    num, points, vis = config.POINTS[name]

    def decorate(test):
        @functools.wraps(test)
        def fn(*args, **kwargs):
            try:
                test(*args, **kwargs)
            except pytest.fail.Exception as e:
                if not getattr(e, "not_the_cause", False):
                    FAILED.add(name)
                raise

        if leaderboard_column:
            fn = leaderboard(leaderboard_column)(fn)
        fn = visibility(vis)(number(num)(weight(points)(fn)))
        fn.__graded_name__ = name
        return fn

    return decorate


def check(condition, message: str) -> None:
    """Fail the test with `message` alone (no traceback) unless condition holds."""
    if not condition:
        pytest.fail(message, pytrace=False)


def passes(test, *args) -> bool:
    """Whether a graded test's check holds for these arguments (for tests credited only alongside another)."""
    try:
        test(*args)
    except pytest.fail.Exception:
        return False
    return True
