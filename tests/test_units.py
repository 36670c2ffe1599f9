"""Unit tests of two small functions the grading runs end to end: results.document and grade.table.

Both are fed hand-built test entries, so these tests grade nothing, train
nothing and import neither NumPy nor PyTorch.
"""

from __future__ import annotations

import copy

from autograder import grade
from autograder.core import config
from autograder.suite import results
from tests.gradescope_schema import problems

# (name, (number, points, visibility), passed, output): two files, both visibilities, a fractional score.
ROWS = [
    ("numpy_ann.relu: max(0, z) elementwise", ("1.1", 2, "visible"), True, ""),
    ("numpy_ann.softmax: rows sum to 1", ("1.2", 3, "after_due_date"), False, "rows sum to 2.0, not 1"),
    ("pytorch_ann.accuracy: at least 85% on the test set", ("2.1", 1.5, "visible"), True, "accuracy 88.1%"),
]


def entries() -> list[dict]:
    return [results.test_entry(name, row, passed, output) for name, row, passed, output in ROWS]


LEADERBOARD = [{"name": "NumPy ANN accuracy", "value": 84.1, "order": "desc"}]


# results.document


def test_document_is_valid_gradescope_results_with_the_sum_of_the_scores():
    doc = results.document(entries(), "Graded 3 tests.", 12.345, LEADERBOARD)
    assert problems(doc) == []
    assert doc["score"] == 3.5  # 2 + 0 + 1.5: the failed test scores nothing
    assert [(t["score"], t["max_score"], t["status"]) for t in doc["tests"]] == \
        [(2, 2, "passed"), (0, 3, "failed"), (1.5, 1.5, "passed")]
    assert doc["execution_time"] == 12.3
    assert (doc["output"], doc["output_format"], doc["visibility"], doc["stdout_visibility"]) == \
        ("Graded 3 tests.", "text", "visible", "hidden")
    assert doc["leaderboard"] == LEADERBOARD


def test_document_carries_each_tests_visibility_number_tags_and_output():
    doc = results.document(entries(), "", 0, [])
    assert [(t["number"], t["visibility"], t["tags"], t["output"]) for t in doc["tests"]] == [
        ("1.1", "visible", ["numpy_ann"], ""),
        ("1.2", "after_due_date", ["numpy_ann"], "rows sum to 2.0, not 1"),
        ("2.1", "visible", ["pytorch_ann"], "accuracy 88.1%"),
    ]


def test_document_of_the_whole_points_table_passed_scores_every_point(monkeypatch):
    monkeypatch.setattr(results, "EXTRA", {})
    tests = [results.test_entry(name, config.POINTS[name], True, "") for name in results.in_order(config.POINTS)]
    doc = results.document(tests, "", 0, [])
    assert problems(doc) == []
    full = config.TOTAL if config.hidden else config.TOTAL - config.HIDDEN_POINTS
    assert doc["score"] == full == sum(t["max_score"] for t in doc["tests"])
    assert {t["name"]: t["visibility"] for t in doc["tests"]} == {n: row[2] for n, row in config.POINTS.items()}
    assert "extra_data" not in doc  # no top-level extra_data when nothing set it


def test_document_adds_extra_data_as_a_copy_of_results_extra(monkeypatch):
    extra = {"defences": ["no network", "read-only submission"]}
    monkeypatch.setattr(results, "EXTRA", extra)
    doc = results.document(entries(), "", 0, [])
    assert problems(doc) == []
    assert doc["extra_data"] == {"defences": ["no network", "read-only submission"]}
    extra["later"] = 1  # what the grader adds afterwards does not reach a document already made
    assert doc["extra_data"] == {"defences": ["no network", "read-only submission"]}


# grade.table


def graded(tests: list[dict]) -> dict:
    return {"score": sum(t["score"] for t in tests), "tests": tests}


def test_table_has_one_row_per_test_with_status_points_and_hints():
    text = grade.table(graded(entries()))
    pad = " " * 18
    assert text == "\n".join([
        "",
        "numpy_ann.py  2/5",
        "  PASS   1.1  2/2  numpy_ann.relu: max(0, z) elementwise",
        "  FAIL   1.2  0/3  numpy_ann.softmax: rows sum to 1",
        pad + "rows sum to 2.0, not 1",
        "",
        "pytorch_ann.py  1.5/1.5",
        "  PASS   2.1 1.5/1.5 pytorch_ann.accuracy: at least 85% on the test set",
        pad + "accuracy 88.1%",
        "",
        "Score: 3.5/6.5",
    ])


def test_table_shows_a_failure_in_full_on_at_most_six_lines_and_a_passed_accuracy_by_its_first_line():
    tests = entries()
    tests[1]["extra_data"]["text"] = "AssertionError:\n   the rows   sum to\n2.0 " + "word " * 200
    tests[2]["extra_data"]["text"] = "accuracy 88.1%\nper class: 0.91 0.98 0.80"
    tests[0]["extra_data"]["text"] = "a passed test that is not an accuracy keeps its output"
    lines = grade.table(graded(tests), width=60).splitlines()
    hints = [line for line in lines if line.startswith(" " * 18)]
    assert hints[0] == " " * 18 + "AssertionError: the rows sum to 2.0 word"  # whitespace folded, 60 wide
    assert len(hints) == 7 and all(len(line) <= 60 for line in hints)  # six for the failure, one for the accuracy
    assert hints[-1] == " " * 18 + "accuracy 88.1%"
    assert not any("keeps its output" in line for line in lines)


def test_table_says_no_message_for_a_failure_without_output():
    tests = entries()
    tests[1]["extra_data"]["text"] = "  \n"
    lines = grade.table(graded(tests)).splitlines()
    assert lines[lines.index("  FAIL   1.2  0/3  numpy_ann.softmax: rows sum to 1") + 1] == " " * 18 + "(no message)"


def test_table_of_the_fallback_results_fails_every_row_with_the_reason():
    doc = results.error_results("Grader error: the suite stopped.")
    lines = grade.table(copy.deepcopy(doc)).splitlines()
    rows = [line for line in lines if line.startswith(("  PASS", "  FAIL"))]
    assert len(rows) == len(config.POINTS) and all(row.startswith("  FAIL") for row in rows)
    # The reason once per file, then "(the same reason as above)" under each of its other tests.
    assert lines.count(" " * 18 + "Grader error: the suite stopped.") == len(config.FILES)
    same = lines.count(" " * 18 + "(the same reason as above)")
    assert same == len(config.POINTS) - len(config.FILES)
    top = sum(points for _, points, _ in config.POINTS.values())
    assert lines[-1] == f"Score: 0/{top:g}"
    headers = [line for line in lines if line.endswith(tuple(f".py  0/{points:g}" for points in range(200)))]
    assert headers == [f"{f}.py  0/{sum(p for n, (_, p, _) in config.POINTS.items() if n.startswith(f + '.')):g}"
                       for f in config.FILES]
