"""What students read: results.json's Markdown for Gradescope, and the coloured table of make check.

Student-controlled text (a value their code returned, an exception's message) must stay inert in
both: a
backtick cannot close a code fence, a link or a tag stays text, and an escape sequence shows as
`\\x1b`
whether or not the grader colours its own words.
"""

from __future__ import annotations

import io
import re

from autograder import grade
from autograder.core.text import code_span, markdown_output
from autograder.suite import results as results_json
from autograder.suite.results import error_results, plain
from tests.gradescope_schema import problems

NAME = "numpy_ann.relu_prime: zero at z == 0"
HOSTILE = (
    "relu_prime should return a NumPy array, "
    "got '```` <img src=x onerror=alert(1)> [win](http://e.vil)'"
)


def test_expected_and_got_values_and_code_are_code_and_the_hint_is_text():
    text = markdown_output("relu_prime(0) should be 0, got [1. 1.]. Use z > 0, not z >= 0.")
    assert text.startswith("` relu_prime(0) `") and "got ` [1. 1.] `" in text
    assert text.endswith("Use z &gt; 0, not z &gt;= 0.")
    assert "expected shape ` (3, 4) `, got ` (4, 3) `" in markdown_output(
        "expected shape (3, 4), got (4, 3)"
    )


def test_a_backtick_run_cannot_close_the_fence_of_its_code_span():
    span = code_span("a ```` b")
    fence = re.match(r"`+", span)[0]
    assert len(fence) == 5 and span.endswith(fence) and span.count(fence) == 2


def test_links_and_html_of_a_student_stay_inert():
    text = markdown_output(HOSTILE)
    fence = re.search(r"got (`+) ", text)[1]
    inside = text.split(fence)[1]  # the got-value: literal inside its code span
    assert "<img" in inside and "](http" in inside and len(fence) > 4
    outside = markdown_output("see [win](http://e.vil) <b>now</b>\n# heading\n1. list")
    assert "<b>" not in outside and "\\[win\\]" in outside
    assert "\n# " not in outside and "1\\." in outside


def test_a_bare_url_or_address_of_a_student_is_code_not_a_link():
    # GFM links a bare http://, www. or e-mail address in prose, escaped or not: a message could
    # show a clickable link of the student's choice. In a code span it stays text.
    text = markdown_output("wrong shape: see http://1.2.3.4/login, www.1x.com or x@1.2 now")
    prose = re.sub(r"(`+) .*? \1", "", text)
    assert "://" not in prose and "www." not in prose and "@" not in prose
    assert "see ` http://1.2.3.4/login `, ` www.1x.com ` or ` x@1.2 ` now" in text


def test_a_traceback_is_a_fenced_block_that_its_lines_cannot_close():
    text = markdown_output(
        'Traceback (most recent call last):\n  File "x.py", line 1\n    ```\nValueError: x'
    )
    assert text.startswith("````text\nTraceback") and "\n````" in text


def test_results_json_declares_markdown_and_stays_valid_with_hostile_output():
    results = error_results("Grader error")
    results["tests"][0] = results_json.test_entry(NAME, ("1.4", 1, "visible"), False, HOSTILE)
    assert results["test_output_format"] == "md" and results["output_format"] == "text"
    assert results["tests"][0]["output_format"] == "md" and problems(results) == []
    assert plain(results["tests"][0]) == HOSTILE


def table_of(output: str, colour: bool) -> str:
    results = error_results("x")
    results["tests"] = [
        results_json.test_entry(NAME, ("1.4", 1, "visible"), False, output),
        results_json.test_entry(
            "numpy_ann.relu: max(0, z) elementwise", ("1.1", 1, "visible"), True, ""
        ),
    ]
    results["score"] = 1
    return grade.table(results, colour=colour)


def test_the_table_colours_pass_and_fail_only_on_request():
    coloured, bare = table_of("got 1", True), table_of("got 1", False)
    assert (
        f"{grade.RED}FAIL{grade.RESET}" in coloured
        and f"{grade.GREEN}PASS{grade.RESET}" in coloured
    )
    assert "\x1b" not in bare


def test_colour_never_lets_a_students_escape_sequence_through():
    coloured = table_of("got \x1b[2K\x1b[1A\x1b[32mPASS", True)
    assert "\\x1b[2K" in coloured
    assert set(re.findall(r"\x1b\[[0-9;]*[A-Za-z]", coloured)) <= {
        grade.RED,
        grade.GREEN,
        grade.BOLD,
        grade.RESET,
    }


def test_colour_needs_a_terminal_and_no_no_color(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert grade.colours(Terminal()) and not grade.colours(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not grade.colours(Terminal())
