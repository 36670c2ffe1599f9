"""A pytest plugin that writes Gradescope's results.json.

Gradescope reads one JSON file: a total `score`, and per test its `score`,
`max_score`, `status`, `name`, `number`, `output`, `tags`, `visibility` and
`extra_data`, and a leaderboard (the three test accuracies). This
plugin builds it from `config.POINTS`, the one table of tests, rather than
from what happened to run, so no test can disappear: a test that failed in
setup, timed out, was never collected or never ran is reported as failed,
with its points and the reason. The file is written atomically.

Test functions carry their metadata through gradescope-utils decorators
(`autograder.suite.graded`). A test's `output` is its failure message, or what it
recorded with the `record_property("output", ...)` fixture.

Every `output` is text a student can choose (an exception's message, a
file's name), so it is written through `shown`: control and invisible format
characters escaped (`core.text.printable`), and for a test's output, which
Gradescope renders as Markdown (`TEST_OUTPUT_FORMAT`, declared as
`test_output_format` and each test's `output_format`), values and code as
code spans and blocks whose fences no backtick can close, and the hints as
escaped Markdown (`core.text.markdown_output`), so that no output redraws a
terminal, reorders a line or adds a link or a tag. The top-level output, the
grader's notes on the submitted files, stays text (`OUTPUT_FORMAT`). Each
test's `extra_data.text` keeps its message as plain printable text, which the
terminal table and the class report show (`plain`).

`error_results` is the same document with every test failed: what
`run_autograder` leaves when grading cannot finish. This module imports
pluggy, not pytest, so the processes that only wait on a grading stay small.
"""

from __future__ import annotations

import time
from pathlib import Path

import pluggy

from autograder.core import config as points
from autograder.core.atomic import write_json_atomically  # noqa: F401  (also used here)
from autograder.core.text import markdown_output, printable

hookimpl = pluggy.HookimplMarker("pytest")  # what pytest.hookimpl is

NOTES: list[str] = []  # remarks for the student about the submission as a whole (intake)
EXTRA: dict = {}  # results.json's top-level extra_data (the defences in force)
TEST_OUTPUT_FORMAT = "md"  # how Gradescope renders each test's `output`: Markdown
OUTPUT_FORMAT = "text"  # and the top-level `output` (the grader's notes on the files): text
ADVICE = points.ADVICE  # how a line of advice begins: a remark that costs nothing


def shown(output: str, form: str = "text") -> str:
    """`output` made inert for the format `form`: printable text, or Markdown with code as code."""
    return markdown_output(output) if form == "md" else printable(output)


def plain(test: dict) -> str:
    """A test's message as plain printable text: its `extra_data.text` (else, from an older
    grader, its output)."""
    extra = test.get("extra_data")
    text = extra.get("text", test["output"]) if isinstance(extra, dict) else test["output"]
    return printable(text)


def pytest_addoption(parser):
    """--results PATH and --visible-only."""
    group = parser.getgroup("gradescope results")
    group.addoption("--results", default=None, help="write Gradescope's results.json here")
    group.addoption("--visible-only", action="store_true", help="run and report only the visible tests")
    group.addoption("--only", default=None, help="run and report only the tests of this file (numpy_ann, ...)")


def pytest_configure(config):
    """Register the plugin object only when results are asked for."""
    path = config.getoption("--results")
    if path:
        config.pluginmanager.register(ResultsWriter(Path(path), selected_rows(config)), "gradescope-results")


def selected_rows(config) -> dict:
    """The rows of the points table this run grades, after --visible-only and --only."""
    only, visible_only = config.getoption("--only"), config.getoption("--visible-only")
    return {name: row for name, row in points.POINTS.items()
            if (not visible_only or row[2] == "visible") and (not only or name.startswith(only + "."))}


def pytest_collection_modifyitems(config, items):
    """Deselect the tests outside --visible-only and --only."""
    rows = selected_rows(config)
    keep, drop = [], []
    for item in items:
        name = getattr(getattr(item, "function", None), "__graded_name__", None)
        (drop if name and name not in rows else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class ResultsWriter:
    def __init__(self, path: Path, rows: dict):
        self.path, self.rows = path, rows
        self.started = time.time()
        self.outcomes: dict[str, dict] = {}  # graded name -> {"failed", "output", "leaderboard"}
        self.problems: list[str] = []  # collection errors, for tests that never ran
        self.items = {}

    def pytest_collection_modifyitems(self, items):
        """Map node ids to graded names."""
        for item in items:
            name = getattr(getattr(item, "function", None), "__graded_name__", None)
            if name:
                self.items[item.nodeid] = (name, item)

    def pytest_collectreport(self, report):
        """Remember collection errors: their tests will be reported failed."""
        if report.failed:
            self.problems.append(f"collection of {report.nodeid} failed: {report.longreprtext.strip()[-800:]}")

    def pytest_runtest_logreport(self, report):
        """Fold setup, call and teardown reports into one outcome per test."""
        if report.nodeid not in self.items:
            return
        name, item = self.items[report.nodeid]
        outcome = self.outcomes.setdefault(name, {"failed": False, "output": "", "ran": False})
        if report.when == "call":
            outcome["ran"] = True
        if report.failed or (report.skipped and report.when != "teardown"):
            outcome["failed"] = True
            text = report.longreprtext.strip()
            if report.skipped and isinstance(report.longrepr, tuple):
                text = f"skipped: {report.longrepr[2]}"
            if report.when == "setup" and not report.skipped:
                text = f"grader error while setting up this test:\n{text}"
            outcome["output"] = (outcome["output"] + "\n" + text).strip()
        for key, value in report.user_properties:
            if key == "output" and not outcome["failed"]:
                outcome["output"] = str(value)
            elif key == "advice" and str(value) not in outcome.setdefault("advice", []):
                outcome["advice"].append(str(value))  # appended to the output, passed or failed
        value = getattr(item.function, "__leaderboard_value__", None)
        if value is not None:
            outcome["leaderboard"] = (item.function.__leaderboard_column__, value,
                                      item.function.__leaderboard_sort_order__)

    @hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        """Write results.json from the points table and what was recorded."""
        tests, leaderboard = [], []
        why_missing = "; ".join(self.problems) or "this test did not run (the grader stopped before it)"
        for name in in_order(self.rows):
            outcome = self.outcomes.get(name)
            if outcome is None or not (outcome["ran"] or outcome["failed"]):
                outcome = {"failed": True, "output": why_missing}
            advice = [f"{ADVICE} {text}" for text in outcome.get("advice", [])]
            output = "\n".join([outcome["output"], *advice])
            tests.append(test_entry(name, self.rows[name], not outcome["failed"], output.strip()))
            if "leaderboard" in outcome:
                column, value, order = outcome["leaderboard"]
                leaderboard.append({"name": column, "value": value, "order": order})
        output = "\n".join([f"Graded {len(tests)} tests.", *NOTES])
        write_json_atomically(self.path, document(tests, output, time.time() - self.started, leaderboard))


def number_key(number: str):
    return tuple(int(p) for p in number.split("."))


def in_order(rows: dict) -> list[str]:
    """The names of the points-table rows `rows`, by test number (1.2 before 1.10)."""
    return sorted(rows, key=lambda name: number_key(rows[name][0]))


def test_entry(name: str, row: tuple, passed: bool, output: str) -> dict:
    """One test of results.json, from its row (number, points, visibility) of the points table."""
    number, score, visibility = row
    return {"name": name, "number": number, "score": score if passed else 0, "max_score": score,
            "status": "passed" if passed else "failed", "output": shown(output, TEST_OUTPUT_FORMAT),
            "output_format": TEST_OUTPUT_FORMAT, "visibility": visibility,
            "tags": [name.split(".")[0]],
            "extra_data": {"text": printable(output)}}


def document(tests: list[dict], output: str, seconds: float, leaderboard: list[dict]) -> dict:
    """The whole of results.json: the total is the sum of the tests' scores."""
    doc = {"score": sum(t["score"] for t in tests), "execution_time": round(seconds, 1),
           "output": shown(output, OUTPUT_FORMAT), "output_format": OUTPUT_FORMAT,
           "test_output_format": TEST_OUTPUT_FORMAT,
           "visibility": "visible",
           "stdout_visibility": "hidden", "tests": tests, "leaderboard": leaderboard}
    if EXTRA:
        doc["extra_data"] = dict(EXTRA)
    return doc


def error_results(message: str) -> dict:
    """A valid results.json giving 0 points: every test of the points table failed with `message`.
    Marked `extra_data.grader_error`: nothing was graded, so the daily limit neither counts it nor
    shows its 0 as the last graded score (packaging/limits.py)."""
    tests = [test_entry(name, points.POINTS[name], False, message) for name in in_order(points.POINTS)]
    doc = document(tests, message, 0, [])
    doc["extra_data"] = {**doc.get("extra_data", {}), "grader_error": True}
    return doc


