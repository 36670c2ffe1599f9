"""Write the tables and numbers of README.md and docs/CONTRACT.md from the specs (`make docs`).

    python tools/docs.py            # rewrite every generated block
    python tools/docs.py --check    # exit 1, naming each stale block, if any is out of date

A generated block sits between two HTML comments, which Markdown does not show:

    <!-- make docs: tests -->
    ...written by this tool...
    <!-- end -->

Everything between them is this tool's; edit the specs (autograder/specs/),
utils.THRESHOLDS or the templates below, then run `make docs`. Text outside
the blocks is the authors'. `make test-fast` fails, naming `make docs`, when
a block is stale (tests/test_docs.py).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
from autograder.core import config  # noqa: E402
from autograder.core.atomic import write_text_atomically  # noqa: E402

DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "CONTRACT.md")
BLOCK = re.compile(
    r"(<!-- make docs: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<end>^[ \t]*<!-- end -->)",
    re.S | re.M,
)


def percent(file: str) -> str:
    return f"{config.THRESHOLDS[file]:.0%}".replace("%", " %")


def points(file: str | None = None, visible: bool = True) -> int:
    return sum(
        p
        for name, (_, p, v) in config.POINTS.items()
        if (v == "visible") == visible and (file is None or name.startswith(file + "."))
    )


def wrap(paragraph: str) -> str:
    """A paragraph of prose as the documents wrap theirs, ending in a blank line's newline."""
    return textwrap.fill(paragraph, width=74, break_long_words=False, break_on_hyphens=False) + "\n"


def files() -> str:
    """README's table of the graded files."""
    lines = ["| file | what the student writes | test accuracy needed |", "| --- | --- | --- |"]
    lines += [f"| `{s.file}.py` | {s.summary} | {percent(s.file)} |" for s in config.SPECS]
    return "\n".join(lines) + "\n"


def thresholds() -> str:
    """The contract's Thresholds section: the shared contract's words, utils.py's numbers."""
    stated = ", ".join(f"{s.label} >= {percent(s.file)}" for s in config.SPECS)
    return wrap(
        "Test accuracy on the official 10,000-image test set, computed by the grader "
        f"from the student's `predict`: {stated}."
    )


def tests() -> str:
    """The contract's summary of the points and its whole table of tests."""
    per_file = ", ".join(f"`{s.file}` {points(s.file)}" for s in config.SPECS)
    lines = [
        wrap(
            f"Visible tests ({points()} points: {per_file}) run in `make check` and ship, with "
            "their expected values, in the handout. Hidden tests "
            f"({points(visible=False)} points, Gradescope visibility `{config.HIDDEN}`: "
            "students see them once the due date has passed) run only in `make grade` "
            "and on Gradescope; they, their inputs and their expected values are left "
            "out of the handout. The whole table (`config.POINTS`, from the specs):"
        ),
        "| number | points | visibility | name |",
        "| --- | --- | --- | --- |",
    ]
    ordered = sorted(config.POINTS.items(), key=lambda item: tuple(map(int, item[1][0].split("."))))
    lines += [f"| {number} | {pts} | {vis} | `{name}` |" for name, (number, pts, vis) in ordered]
    return "\n".join(lines) + "\n"


def check_output() -> str:
    """What `make check` prints, in the contract's section on it, with this grader's numbers."""
    first = config.SPECS[0]
    visible = points(first.file)
    budget = f"{config.TRAIN_BUDGET[first.file]:g}"
    threshold = f"{config.THRESHOLDS[first.file]:.0%}"
    return f"""1. `Grading student (visible tests) ...`;
2. while it runs, indented, for each file: `{first.file}.py: running your
   code ...`, `{first.file}.py: training with your defaults (budget: {budget} s of
   CPU time) ...`, the epoch lines the training prints (those of
   `utils.progress` called with its `seconds` argument: they must end in
   `(1.2 s)`), and `{first.file}.py: all its calls finished in 5 s; training
   used 1.2 s of its {budget} s of CPU time`;
3. the table (`grade.table`): per file a header `{first.file}.py  {visible - 1}/{visible}`,
   then one line per test, `PASS` or `FAIL`, its number, score/points and
   name; under a failed test its message (the reason and a hint), wrapped
   and indented, at most 6 lines; under a passed accuracy test the first
   line of its output (`test accuracy 84.07% (threshold {threshold}); training used
   1.2 s of CPU time for 2 epochs`). Then `Score: {points()}/{points()}` (out of the points of the
   visible tests, or of one file's with `ONLY`);
4. `Note: ...`, one for each remark on the submission as a whole, from
   `results.json`'s `output` (`intake.notes`): a file skipped, a file taken
   under another capitalisation of its name (`Took NumPy_ANN.py as
   numpy_ann.py: ...`), the `.py` files found only in a sub-folder where the
   grader does not look (one sentence, also the reason of each test of a
   missing file, which the table gives once per file and then as `(the same
   reason as above)`), a PNG older than the `.py` file that draws it (`...
   may be stale ...`);
5. `(Hidden tests worth {points(visible=False)} more points run only on Gradescope; they are shown
   after the due date.)`;
6. `Results written to results.json in 31 s.` With `ONLY={first.file}` (and no
   `RESULTS`) the file is `results_{first.file}.json`, and the line says that
   `results.json`, the whole submission's result, is left as it was.
"""


def gradescope() -> str:
    """The contract's numbers for Gradescope and the budgets, all made from its timeout (config.py)."""
    there = ", ".join(
        f"`{f}` {config.TRAIN_DEADLINE_ON_GRADESCOPE * s:g}" for f, s in config.TRAIN_SHARE.items()
    )
    local = ", ".join(f"`{f}` {config.TRAIN_DEADLINE * s:g}" for f, s in config.TRAIN_SHARE.items())
    return wrap(
        f"On Gradescope, with `GRADESCOPE_TIMEOUT` = {config.GRADESCOPE_TIMEOUT:g} s: the last-resort "
        f"stop is at {config.GRADESCOPE_DEADLINE:g} s, the grading's deadline at "
        f"{config.GRADING_DEADLINE_ON_GRADESCOPE:g} s, and training may use "
        f"{config.TRAIN_DEADLINE_ON_GRADESCOPE:g} CPU-seconds there ({there}): what is left of the "
        f"deadline after {config.OVERHEAD_ON_GRADESCOPE:g} s of everything else and a margin of "
        f"{config.MARGIN:g} s, on {config.GRADESCOPE_CPUS:g} vCPU. At `GRADESCOPE_SPEED` "
        f"({config.GRADESCOPE_SPEED:g} of its CPU-seconds for one of the reference machine's), that is "
        f"`TRAIN_DEADLINE` = {config.TRAIN_DEADLINE:g} CPU-seconds of the reference machine ({local}), "
        "the budgets of every machine at its own speed factor."
    )


def gradescope_readme() -> str:
    """The README's bullet on Gradescope's timeout, continued."""
    shares = ", ".join(
        f"`{f}` {config.TRAIN_DEADLINE_ON_GRADESCOPE * s:g}" for f, s in config.TRAIN_SHARE.items()
    )
    text = (
        f"training gets {config.TRAIN_DEADLINE_ON_GRADESCOPE:g} CPU-seconds in all "
        f"({shares}), which "
        f"at {config.GRADESCOPE_CPUS:g} vCPU fits beside everything else, and grading stops at "
        f"{config.GRADESCOPE_DEADLINE:g} s so that a result is always written."
    )
    return (
        textwrap.fill(
            text,
            width=76,
            initial_indent="  ",
            subsequent_indent="  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        + "\n"
    )


GENERATORS = {
    "files": files,
    "thresholds": thresholds,
    "tests": tests,
    "check-output": check_output,
    "gradescope": gradescope,
    "gradescope-readme": gradescope_readme,
}


def render(text: str) -> tuple[str, list[str]]:
    """The text with every block regenerated, and the names of the blocks that changed."""
    changed = []

    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise SystemExit(f"a block names {name!r}, which tools/docs.py does not generate")
        body = GENERATORS[name]()
        if body != match["body"]:
            changed.append(name)
        return match[1] + body + match["end"]

    return BLOCK.sub(fill, text), changed


def stale() -> list[str]:
    """'README.md: files' for every block that `make docs` would rewrite."""
    found = []
    for path in DOCUMENTS:
        _, changed = render(path.read_text())
        found += [f"{path.relative_to(ROOT)}: {name}" for name in changed]
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which blocks are stale")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for block in found:
            print(f"stale: {block}; run `make docs`")
        return 1 if found else 0
    for path in DOCUMENTS:
        text, changed = render(path.read_text())
        if changed:
            write_text_atomically(path, text)
            print(f"{path.relative_to(ROOT)}: rewrote {', '.join(changed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
