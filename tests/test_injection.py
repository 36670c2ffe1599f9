"""Output injection and unquoted paths: what a person reads cannot be forged by a student's text,
and the paths a user passes to make reach the grader as written.

Output injection: text a student chooses (exception messages, printed lines, folder names, the
names and emails in Gradescope's submission_metadata.yml) reaches the terminal, results.json,
grades.csv and report.md only through autograder/core/text.py. The fast tests hold the
sanitiser and each writer to that on hand-built input; the slow ones grade a hostile class with
`make grade-all` and read back its CSV and report. (A hostile submission graded by
`python -m autograder.grade` is in tests/test_hostile.py, with the catalogue.)

Unquoted paths: SUBMISSION, SUBMISSIONS, RESULTS, GRADES and ONLY never enter a recipe's shell
text (make -n shows them absent), and real gradings through make with such paths write their
results where asked and run nothing written in a name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from autograder import grade
from autograder.batch import report as batch_report
from autograder.batch import run as batch_run
from autograder.batch.submissions import Submission
from autograder.core import config
from autograder.core.text import FORMULA, csv_cell, csv_table, markdown, markdown_output, printable
from autograder.suite import pngcheck, results
from autograder.suite.results import error_results
from tests.conftest import ROOT

# Characters that act on a display instead of showing: C0 but newline and tab, DEL, C1, and the
# bidi and invisible format characters that reorder or hide what a person reads.
ACTING = ([chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + [chr(c) for c in range(0x7f, 0xa0)]
          + list("\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
          + list("\u2028\u2029\u2060\ufeff\U000e0041"))
# A message that would repaint a FAIL as PASS, reverse a word, and inject Markdown and HTML.
HOSTILE = ("\x1b[2K\r\x1b[32m  PASS   1.1  1/1  numpy_ann.relu\x1b[0m\n\u202eSSAP\u202c "
           "\u2066x\u2069\x9b31m\x7f\n# Injected heading <img src=x onerror=alert(1)> "
           "[click](http://evil.example) *bold* `code` | cell")
OUR_HEADINGS = ["## Totals (out of 100)", "## Not graded", "## Pass rate of every test, hardest first",
                "## Most common failure messages", "## Test accuracy (%)"]


def is_printable(text: str, lines: bool = True) -> bool:
    return printable(text, lines) == text


def unescaped(char: str, text: str) -> list[int]:
    """Where `char` stands in `text` without a backslash before it."""
    return [m.start() for m in re.finditer(rf"(?<!\\){re.escape(char)}", text)]


# --------------------------------------------------------------------------------- the sanitiser

@pytest.mark.parametrize("ch", ACTING, ids=lambda ch: f"U+{ord(ch):04X}")
def test_every_acting_character_is_escaped_as_printable_ascii(ch):
    shown = printable(f"a{ch}b")
    assert shown != f"a{ch}b" and shown.isascii() and shown.isprintable()
    assert shown.startswith("a\\") and shown.endswith("b")


def test_printable_keeps_text_newlines_and_tabs_and_changes_nothing_twice():
    text = "épreuve 中文 naïve 👩\u200d💻 زن\u200cها\tcol\nnext line"
    assert printable(text) == text  # letters of any script, emoji with their joiners
    assert printable(text, lines=False) == text.replace("\t", "\\t").replace("\n", "\\n")
    once = printable(HOSTILE)
    assert printable(once) == once and printable(once, lines=False) == printable(HOSTILE, False)
    assert printable("a\r\x1b\u202e\udcff") == "a\\r\\x1b\\u202e\\udcff"  # a lone surrogate too
    assert printable(42) == "42"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1",
                                   "=HYPERLINK(\"http://evil.example\",\"x\")", "-rm -rf ~"])
def test_a_csv_cell_that_a_spreadsheet_would_evaluate_is_quoted(value):
    cell = csv_cell(value)
    assert not cell.startswith(FORMULA) and is_printable(cell, lines=False)
    assert cell == "'" + value or cell.startswith("\\")  # tab and CR become escapes, no formula left


def test_csv_cells_read_back_one_each_whatever_they_hold():
    row = ["=cmd|' /C calc'!A0", 'a "quoted", comma', "two\nlines", "plain", "", 3, "1.5"]
    [back] = list(csv.reader(io.StringIO(csv_table([row]))))
    assert back == ["'=cmd|' /C calc'!A0", 'a "quoted", comma', "two\\nlines", "plain", "", "3", "1.5"]


def test_markdown_keeps_tags_links_and_headings_inert():
    shown = markdown(HOSTILE)
    assert "\n" not in shown and is_printable(shown, lines=False)
    assert "<" not in shown and ">" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    for char in "[]`*|":
        assert not unescaped(char, shown), char
    assert markdown("numpy_ann relu_prime") == "numpy_ann relu_prime"  # intraword: no emphasis
    assert markdown("_x_ __init__") == "\\_x\\_ \\_\\_init\\_\\_"


@pytest.mark.parametrize("line", ["# h", "  ## h", "- item", "+ item", "=====", "1. item", "2) item",
                                  "> quote", "<div>", "[ref]: http://evil.example"])
def test_no_line_of_markdown_begins_a_block(line):
    for shown in (markdown(line), *markdown(f"text\n{line}", lines=True).split("\n")):
        assert not re.match(r"\s*([#+\-=>]|\d+[.)]|<|\[)", shown), shown


# ------------------------------------------------------------------ each writer, on hand-built input

def test_results_json_outputs_are_printable_and_inert_markdown(monkeypatch):
    entry = results.test_entry("numpy_ann.relu: max(0, z) elementwise", ("1.1", 1, "visible"), False,
                               HOSTILE)
    assert entry["output"] == markdown_output(HOSTILE) and is_printable(entry["output"])
    assert "<img" not in entry["output"] and "\\[click\\]" in entry["output"]
    assert entry["extra_data"]["text"] == printable(HOSTILE)  # plain, for the terminal table
    doc = results.document([entry], f"Skipped {HOSTILE}.py", 1, [])
    assert doc["test_output_format"] == "md" and doc["output_format"] == "text"
    assert doc["output"] == printable(f"Skipped {HOSTILE}.py")
    monkeypatch.setattr(results, "TEST_OUTPUT_FORMAT", "text")
    entry = results.test_entry("numpy_ann.relu: max(0, z) elementwise", ("1.1", 1, "visible"), False,
                               HOSTILE)
    assert entry["output"] == printable(HOSTILE)  # text: the markup stays, as the student wrote it


def test_the_terminal_table_shows_a_forged_message_as_text_under_fail():
    doc = results.document([results.test_entry("numpy_ann.relu: max(0, z) elementwise",
                                               ("1.1", 1, "visible"), False, "x")], "", 1, [])
    # As if results.json held it raw:
    doc["tests"][0]["output"] = doc["tests"][0]["extra_data"]["text"] = HOSTILE
    table = grade.table(doc)
    assert is_printable(table)
    rows = [line for line in table.splitlines() if line.startswith(("  PASS", "  FAIL"))]
    assert rows == ["  FAIL   1.1  0/1  numpy_ann.relu: max(0, z) elementwise"]


def graded_by_hand(tmp_path: Path) -> list[tuple[Submission, dict]]:
    """A class as grade-all would have it, without grading: hostile names, metadata and failures."""
    subs = []
    for key, status, students in [
        ("=HYPERLINK(\"evil.example\",\"x\")\n# Injected <b>heading</b>", "graded",
         [{"name": "=cmd|' /C calc'!A0", "email": "@evil.example", "sid": "-1001"},
          {"name": "+Eve\n# heading <img src=x onerror=alert(1)>", "email": "\te@x.edu", "sid": "2"}]),
        ("@import [click](http://evil.example)\r\n## B", "empty", []),
    ]:
        doc = error_results("x")
        for t in doc["tests"]:
            t["output"] = t["extra_data"]["text"] = HOSTILE  # raw, as if results.json held it so
        doc["extra_data"] = {"grade_all": {"status": status, "reason": f"{key} | {HOSTILE}",
                                           "seconds": 1, "fingerprint": ""}}
        subs.append((Submission(key, tmp_path / "x", students), doc))
    return subs


def test_grades_csv_holds_no_formula_and_no_control_character(tmp_path):
    graded = graded_by_hand(tmp_path)
    rows = list(csv.reader(io.StringIO(batch_report.csv_text(graded))))
    assert len(rows) == 1 + 3 and all(len(row) == len(rows[0]) for row in rows)
    for cell in (cell for row in rows for cell in row):
        assert not cell.startswith(FORMULA) and is_printable(cell, lines=False), cell
    people = [(s, p) for s, _ in graded for p in (s.students or [{"name": s.key}])]
    assert [row[:4] for row in rows[1:]] == [
        [csv_cell(p.get(k, "")) for k in ("name", "email", "sid")] + [csv_cell(s.key)]
        for s, p in people]
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][2] == "'-1001"


def assert_inert_report(report: str, submissions: int, similarity: bool = False) -> None:
    """report.md: our headings alone, no tag, no link, no control character, whole table rows."""
    headings = [line for line in report.splitlines() if line.lstrip().startswith("#")]
    ours = [*OUR_HEADINGS, *(["## Code similarity"] if similarity else [])]
    assert headings == [f"# Grade report: {submissions} submissions", *ours], headings
    assert not re.search(r"<[A-Za-z/!?]", report) and "&lt;img" in report  # z < 0 is no tag
    assert not unescaped("[", report) and not unescaped("`", report)
    assert is_printable(report)
    for table in re.findall(r"(?:^\|.*\n)+", report, flags=re.M):  # every row keeps its table's columns
        assert len({len(unescaped("|", row)) for row in table.splitlines()}) == 1, table


def test_report_md_keeps_student_text_inert(tmp_path):
    graded = graded_by_hand(tmp_path)
    report = batch_report.report_md(graded, tmp_path / "class\n# from <b>")
    assert_inert_report(report, 2)
    not_graded = report.split("## Not graded")[1].split("## Pass rate")[0]
    assert "| @import \\[click\\](http://evil.example)\\\\r\\\\n## B | empty |" in not_graded
    assert [len(unescaped("|", line)) for line in not_graded.splitlines() if line.startswith("| ")] \
        == [4, 4, 4]


def test_the_progress_line_keeps_a_folder_name_on_one_printable_line():
    progress = batch_run.Progress(1)
    sub = Submission("a\n# b\x1b[31m", Path("."))
    line = progress.line(sub, {"score": 0, "tests": [{"max_score": 1}],
                               "extra_data": {"grade_all": {"status": "graded", "seconds": 1}}})
    assert is_printable(line, lines=False) and "a\\n# b\\x1b[31m: 0/1" in line


# ------------------------------------------------------------------------------ make, dry and real

HOSTILE_PATH = "-x (1) $HOME $(touch {c}) $(shell touch {c}) `touch {c}` \"dq\" 'sq' é"
MAKE_VARIABLES = ("SUBMISSION", "SUBMISSIONS", "RESULTS", "GRADES", "ONLY")


def make(*args: str, env: dict | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """make in the repository; quiet about folders also when run under `make test` (make[1])."""
    return subprocess.run(["make", "--no-print-directory", *args, f"PY={sys.executable}"], cwd=ROOT,
                          capture_output=True, text=True,
                          env=dict(os.environ, GRADER_TRAIN_DEADLINE="1500", **(env or {})),
                          timeout=timeout)


def canaries() -> list[Path]:
    return sorted(ROOT.glob("inject-canary-*"))


def test_no_path_a_user_passes_enters_a_recipe(tmp_path):
    canary = f"inject-canary-{uuid.uuid4().hex[:8]}"
    value = HOSTILE_PATH.format(c=canary)
    done = make("-n", "check", "grade", "grade-all", *(f"{name}={value}" for name in MAKE_VARIABLES),
                "FORCE=$(shell touch " + canary + ")")
    assert done.returncode == 0, done.stderr
    recipes = [line for line in done.stdout.splitlines() if "autograder" in line]
    assert len(recipes) == 3 and not any(canary in line or "$HOME" in line for line in recipes), recipes
    assert not canaries()


def test_make_clean_removes_only_its_own_folders_whatever_the_variables_say():
    done = make("-n", "clean", "GRADES=/ ~", "RESULTS=/etc", "BENCH_VENV=/", "SUBMISSIONS=/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["rm", "-rf", "build", "dist", "results.json", "submission.zip", "bench.json",
                                   "grades", ".venv-bench", ".pytest_cache", ".ruff_cache",
                                   "rm", "-f", "results_*.json"]  # make check ONLY='s results


@pytest.fixture(scope="module")
def hostile_folder():
    """A folder in the repository whose name begins with - and holds what a shell would act on:
    its path relative to the repository (make's working folder), and the canary it must not write."""
    canary = f"inject-canary-{uuid.uuid4().hex[:8]}"
    name = HOSTILE_PATH.format(c=canary)
    (ROOT / name).mkdir()
    try:
        yield name
    finally:
        shutil.rmtree(ROOT / name)
        assert not canaries(), "a name was run as a command"


def assert_numpy_stub_results(path: Path, visible_only: bool) -> None:
    doc = json.loads(path.read_text())
    numpy_tests = [n for n, row in config.POINTS.items()
                   if n.startswith("numpy_ann.") and (row[2] == "visible" or not visible_only)]
    assert sorted(t["name"] for t in doc["tests"]) == sorted(numpy_tests) and doc["score"] == 0
    assert "not implemented yet" in results.plain(doc["tests"][0])


@pytest.mark.slow
def test_make_grade_and_check_take_any_path_as_written(hostile_folder):
    submission = f"{hostile_folder}/sub (2) $x"
    (ROOT / submission).mkdir()
    shutil.copy(ROOT / "student" / "numpy_ann.py", ROOT / submission / "numpy_ann.py")
    graded = f"{hostile_folder}/r $(id) `id` (3).json"
    done = make("grade", f"SUBMISSION={submission}", f"RESULTS={graded}", "ONLY=numpy_ann")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_numpy_stub_results(ROOT / graded, visible_only=False)
    assert f"Results written to {graded}" in done.stdout
    checked = f"{hostile_folder}/check é.json"
    done = make("check", f"RESULTS={checked}", "ONLY=numpy_ann")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_numpy_stub_results(ROOT / checked, visible_only=True)
    refused = make("check", f"RESULTS={checked}", "ONLY=numpy_ann; touch inject-canary-only")
    assert refused.returncode != 0 and "invalid choice" in refused.stderr


# A class whose folder names and metadata hold formulas, newlines, headings, HTML and links. Only
# the first is graded (its numpy_ann.py raises HOSTILE on import, so grading is quick); the
# second is empty, the third listed but missing, the fourth has no metadata.
GRADED = "=HYPERLINK(\"evil.example\",\"x\")\n# Injected <img src=x onerror=alert(1)>"  # no /
EMPTY = "@import [click](evil.example)\r\n## B"
MISSING = "-missing <img src=x onerror=alert(1)>\n# C"
UNLISTED = "+plain `folder`"
METADATA = {
    GRADED: {":submitters": [
        {":name": "=cmd|' /C calc'!A0", ":sid": "-1001", ":email": "@evil.example"},
        {":name": "+Eve\n# heading <img src=x onerror=alert(1)>", ":sid": "1002",
         ":email": "\teve@example.edu"}]},
    EMPTY: {":submitters": [{":name": "\r=1+1", ":sid": "1003", ":email": "[click](http://evil.example)"}]},
    MISSING: {":submitters": [{":name": "-Mallory", ":sid": "1004", ":email": "-m@example.edu"}]},
}


@pytest.fixture(scope="module")
def hostile_class(hostile_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("class") / "export $x `id` (4) 'q'"
    folder.mkdir()
    (folder / "submission_metadata.yml").write_text(yaml.safe_dump(METADATA, allow_unicode=True))
    for key in (GRADED, EMPTY, UNLISTED):
        (folder / key).mkdir()
    (folder / GRADED / "numpy_ann.py").write_text(f"raise RuntimeError({HOSTILE!r})\n")
    (folder / UNLISTED / "numpy_ann.py").write_text(f"raise ValueError({HOSTILE!r})\n")  # a pair
    grades = f"{hostile_folder}/grades $y"
    done = make("grade-all", f"SUBMISSIONS={folder}", f"GRADES={grades}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return ROOT / grades, done


@pytest.mark.slow
def test_grade_all_with_hostile_names_writes_an_inert_csv_report_and_console(hostile_class):
    grades, done = hostile_class
    assert is_printable(done.stdout) and is_printable(done.stderr)
    assert any("HYPERLINK" in line and "\\n# Injected" in line and "0/100" in line
               for line in done.stdout.splitlines())
    with open(grades / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 5  # two submitters, then one row each
    for cell in (cell for row in rows for cell in row):
        assert not cell.startswith(FORMULA) and is_printable(cell, lines=False), cell
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"'=cmd|' /C calc'!A0", "'+Eve\\n# heading <img src=x onerror=alert(1)>",
                            "\\r=1+1", "'-Mallory", "'+plain `folder`"}
    assert by_name["'=cmd|' /C calc'!A0"][1:5] == ["'@evil.example", "'-1001", csv_cell(GRADED), "graded"]
    assert by_name["'-Mallory"][3:5] == [csv_cell(MISSING), "empty"]
    report = (grades / "report.md").read_text()
    assert_inert_report(report, 4, similarity=True)
    pairs = report.split("## Code similarity")[1]
    assert "| \\=HYPERLINK(" in pairs and "\\+plain \\`folder\\`" in pairs  # the pair, inert
    with open(grades / "similarity.csv", newline="") as f:
        similar = list(csv.reader(f))
    assert len(similar) == 2
    assert {similar[1][0], similar[1][1]} == {csv_cell(GRADED), csv_cell(UNLISTED)}
    assert all(not c.startswith(FORMULA) and is_printable(c, lines=False) for c in similar[1])
    assert "failures | submissions | message" in report and "Injected heading &lt;img" in report
    assert pngcheck.problem((grades / "report.png").read_bytes()) is None
    for key in (GRADED, EMPTY, MISSING, UNLISTED):
        doc = json.loads((grades / key / "results.json").read_text())
        assert all(is_printable(t["output"]) for t in doc["tests"])
        assert is_printable(doc["extra_data"]["grade_all"]["reason"])
