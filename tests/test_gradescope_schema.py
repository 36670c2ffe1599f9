"""The results.json checker accepts what Gradescope accepts and rejects each way of breaking it."""

import copy

import pytest

from autograder.suite.results import error_results
from tests.gradescope_schema import SCHEMA, problems, validate


@pytest.fixture
def valid():
    results = error_results("Grader error: example")
    results["tests"][0].update(score=results["tests"][0]["max_score"], status="passed", output="")
    results["score"] = results["tests"][0]["score"]
    results["leaderboard"] = [{"name": "NumPy ANN accuracy", "value": 84.1, "order": "desc"}]
    return results


def test_the_fallback_results_and_a_graded_example_are_valid(valid):
    assert problems(error_results("Grader error: example")) == []
    assert problems(valid) == []


def test_the_schema_requires_every_key_of_the_specification_that_the_grader_writes():
    assert set(SCHEMA["required"]) == {"score", "execution_time", "output", "output_format",
                                       "test_output_format", "visibility", "stdout_visibility",
                                       "tests", "leaderboard"}
    assert set(SCHEMA["$defs"]["test"]["required"]) == {
        "score", "max_score", "status", "name", "number", "output", "output_format", "tags",
        "visibility", "extra_data"}
    assert set(SCHEMA["$defs"]["leaderboard_entry"]["required"]) == {"name", "value", "order"}


@pytest.mark.parametrize("breakage, complaint", [
    (lambda r: r.pop("stdout_visibility"), "'stdout_visibility' is missing"),
    (lambda r: r["tests"][1].pop("extra_data"), "'extra_data' is missing"),
    (lambda r: r["tests"][1].update(status="error"), "is not one of ['passed', 'failed']"),
    (lambda r: r["tests"][1].update(visibility="after_due"), "is not one of"),
    (lambda r: r["tests"][1].update(number=3), "is not of type string"),
    (lambda r: r["tests"][1].update(number="1.x"), "does not match"),
    (lambda r: r["tests"][1].update(max_score=True), "is not of type number"),
    (lambda r: r["tests"][1].update(tags="numpy_ann"), "is not of type array"),
    (lambda r: r["tests"][1].update(points=1), "'points' is not a key Gradescope knows"),
    (lambda r: r.update(output_format="markdown"), "is not one of"),
    (lambda r: r.pop("test_output_format"), "'test_output_format' is missing"),
    (lambda r: r["tests"][1].update(output_format="rst"), "is not one of"),
    (lambda r: r["leaderboard"][0].pop("order"), "'order' is missing"),
    (lambda r: r["leaderboard"][0].update(order="up"), "is not one of ['asc', 'desc']"),
    (lambda r: r["leaderboard"][0].update(value=None), "is not of type number or string"),
    (lambda r: r.update(execution_time=-1), "below the minimum"),
])
def test_each_breakage_is_reported(valid, breakage, complaint):
    broken = copy.deepcopy(valid)
    breakage(broken)
    found = problems(broken)
    assert any(complaint in line for line in found), found


def test_a_total_that_is_not_the_sum_of_the_tests_is_reported(valid):
    valid["score"] += 1
    assert problems(valid) == [f"score {valid['score']} is not the sum of the test scores {valid['score'] - 1}"]


def test_a_test_above_its_maximum_is_reported(valid):
    valid["tests"][1]["score"] = valid["tests"][1]["max_score"] + 1
    valid["score"] = sum(t["score"] for t in valid["tests"])
    assert any("above its max_score" in line for line in problems(valid))


def test_a_keyword_the_checker_does_not_implement_is_refused():
    with pytest.raises(ValueError, match="oneOf"):
        validate(1, {"oneOf": [{"type": "number"}]})


def test_outputs_are_declared_markdown_and_keep_their_plain_text(valid):
    assert valid["test_output_format"] == "md" and valid["output_format"] == "text"
    assert all(t["output_format"] == "md" and t["extra_data"]["text"] for t in valid["tests"])
