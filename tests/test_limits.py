"""The optional limit on graded submissions per day: from Gradescope's metadata; the last score
is shown."""

from __future__ import annotations

import copy

import pytest

from autograder.packaging import limits
from autograder.suite.results import error_results
from tests.gradescope_schema import problems


def graded(score: float) -> dict:
    results = error_results("x")
    results["tests"][0].update(score=score, max_score=score, status="passed")
    results["score"] = score
    del results["extra_data"]["grader_error"]  # a grading's results, not the grader's error
    return results


def meta(*hours_ago: float, now: str = "2026-12-03T18:00:00.000000-08:00") -> dict:
    previous = [{"submission_time": f"2026-12-03T{18 - h:02.0f}:00:00.000000-08:00", "score": 2.0,
                 "results": graded(float(i + 1))} for i, h in enumerate(hours_ago)]
    return {"created_at": now, "id": 1, "previous_submissions": previous}


def test_off_by_default_and_under_the_limit_grades():
    assert limits.refusal(meta(1, 2, 3), None) is None
    assert limits.refusal(meta(1, 2), 3) is None
    assert limits.refusal(meta(30, 40, 50), 3) is None  # older than 24 hours: not counted


def test_at_the_limit_shows_the_last_score_and_when_the_next_is_graded():
    result = limits.refusal(meta(5, 3, 1), 3)
    assert result["score"] == 3.0 and problems(result) == []
    assert result["output"].startswith("This submission was not graded: 3 submission(s) in 24 "
                                       "hours")
    assert "graded from 2026-12-04 13:00 UTC-08:00" in result["output"]
    assert result["extra_data"]["limit"]["graded"] is False


def test_a_refused_submission_does_not_count_towards_the_limit():
    data = meta(5, 3)
    refused = copy.deepcopy(data["previous_submissions"][-1])
    refused["results"]["extra_data"] = {"limit": {"graded": False}}
    data["previous_submissions"].append(refused)
    assert limits.refusal(data, 3) is None


@pytest.mark.parametrize("broken", [None, [], {"created_at": "yesterday"},
                                    {"created_at": "2026-12-03T18:00:00-08:00",
                                     "previous_submissions": "many"}])
def test_metadata_that_cannot_be_read_limits_nothing(broken):
    assert limits.refusal(broken, 1) is None


@pytest.mark.parametrize("odd", [
    {"created_at": "2026-12-03T18:00:00-08:00", "previous_submissions": 5},
    {"created_at": "2026-12-03T18:00:00-08:00", "previous_submissions": {"a": 1}},
    {"created_at": "0001-01-01T00:00:00+00:00", "previous_submissions": []},
    {"created_at": "9999-12-31T23:59:00+00:00", "previous_submissions": [
        {"submission_time": "9999-12-31T23:00:00+00:00", "results": graded(1.0)}]},
    {"created_at": "2026-12-03T18:00:00-08:00", "previous_submissions": [
        {"submission_time": "2026-12-03T17:00:00-08:00", "results": {"tests": [], "extra_data": 3}},
        {"submission_time": ["x"], "results": None}, 7, None]},
])
def test_metadata_of_an_odd_shape_never_stops_the_grading(odd):
    # A number where a list was expected raised TypeError, a time at the end of the calendar
    # OverflowError: run_autograder stopped, and the submission kept the grader's error (0 points).
    result = limits.refusal(odd, 1)
    assert result is None or result["extra_data"]["limit"]["graded"] is False


@pytest.mark.parametrize("content", [b"\xff\xfe not UTF-8", b"[" * 100_000 + b"]" * 100_000,
                                     b'{"id": 1, "users": 5}', b'{"id": 1, "users": [3]}', b"[]"])
def test_submission_metadata_of_any_content_is_read_without_failing(tmp_path, content):
    from autograder.packaging import gradescope

    path = tmp_path / "submission_metadata.json"
    path.write_bytes(content)
    meta = gradescope.read_metadata(path)
    assert limits.refusal(meta, 1) is None


def test_a_grader_error_neither_counts_nor_shows_its_0():
    # The grader's own error results (timeout, suite failure) counted as a graded submission:
    # at the limit, a student was shown that 0 as their last graded score until the next day.
    data = meta(5, 3, 1)
    data["previous_submissions"][-1]["results"] = error_results("Grader error: stopped")
    assert limits.refusal(data, 3) is None
    data["previous_submissions"].insert(0, {**data["previous_submissions"][0]})
    result = limits.refusal(data, 3)
    assert result is not None and result["score"] == 2.0
