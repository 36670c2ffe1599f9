"""Grade a submission folder and print the per-test table: `make grade` and `make check`.

    python -m autograder.grade [SUBMISSION] [--results results.json] [--visible-only]

Runs the grading suite (autograder/suite, and autograder/hidden where present) with pytest, writes Gradescope's
results.json and prints one row per test: number, points, name, and for a
failed test the reason. Exits 0 whenever grading ran, whatever the score.

What it prints holds text a student chose (exception messages, printed epoch
lines, names of files and folders): every such line passes through
`core.text.printable`, so that an escape sequence shows as text instead of
redrawing the terminal.

On a terminal, with NO_COLOR unset (no-color.org), PASS is green and FAIL
red (`colours`). Only the grader's own words are coloured, after the student's
text has been made printable: a colour is never wrapped around, or made from,
what a student wrote.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from autograder import ROOT
from autograder.core import config
from autograder.core.text import printable
from autograder.harness import calibrate, sandbox
from autograder.suite.results import plain

SUITE = ROOT / "autograder" / "suite"  # the graded tests; their settings are its pytest.ini
HIDDEN = ROOT / "autograder" / "hidden"  # the hidden tests, where they exist (not in the student handout)


def suite_args() -> list[str]:
    """pytest's arguments for the graded suite: its settings, its root folder, and its test folders."""
    folders = [SUITE] + ([HIDDEN] if (HIDDEN / "test_hidden.py").is_file() else [])
    return ["-c", str(SUITE / "pytest.ini"), "--rootdir", str(ROOT / "autograder"), *map(str, folders)]


def suite_env(extra: dict | None = None) -> dict:
    """The grading suite's environment: ours, `extra`, and the budgets' exchange rate (GRADER_SPEED),
    measured now, under the machine's present load, unless it is given."""
    env = dict(os.environ, **(extra or {}), PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    if not env.get("GRADER_SPEED"):
        env["GRADER_SPEED"] = str(calibrate.speed())
    env.pop("GRADER_PROGRESS_FD", None)
    return env


def run_suite(submission: Path, results: Path, visible_only: bool = False, expected: Path | None = None,
              quiet: bool = True, only: str | None = None, timeout: float | None = None,
              env: dict | None = None, progress: bool = False, work: Path | None = None) -> int | None:
    """Run the grading suite in a child pytest process; its exit status, or None if it ran out of time.

    With `progress`, the lines the grader reports as it goes (each file's
    worker, training's epochs) are printed as they come.
    """
    cmd = [sys.executable, "-m", "pytest", *suite_args(), "--submission", str(submission), "--results", str(results)]
    if visible_only:
        cmd.append("--visible-only")
    if expected is not None:
        cmd += ["--expected", str(expected)]
    cmd += ["-q", "--no-header", "-p", "no:warnings"] if quiet else ["-v"]
    if only:
        cmd += ["--only", only]
    if work is not None:  # keep the scratch folder (the evidence the grader kept) for a look afterwards
        cmd += ["--work", str(work)]
    env = suite_env(env)
    echo, pass_fds = None, ()
    if progress:
        read_end, write_end = os.pipe()
        env["GRADER_PROGRESS_FD"], pass_fds = str(write_end), (write_end,)
        echo = threading.Thread(target=echo_lines, args=(read_end,), daemon=True)
    sandbox.become_subreaper()  # a killed suite's workers come to us, to be killed and reaped
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE if quiet else None,
                            stderr=subprocess.STDOUT if quiet else None, text=True, errors="replace", start_new_session=True,
                            pass_fds=pass_fds)
    if echo is not None:
        os.close(write_end)  # the child holds it now: the echo ends when the child does
        echo.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        sandbox.stop_user(env.get("GRADER_STUDENT_USER", sandbox.USER))
        return None
    finally:
        if echo is not None:
            echo.join(timeout=5)
        sandbox.reap_zombie_children()  # what the suite's workers left to us, a subreaper
    if quiet and proc.returncode not in (0, 1):
        print(printable(output[-5000:]))
    return proc.returncode


def echo_lines(fd: int) -> None:
    """Print each line that arrives on `fd`, indented, until it closes.

    Lines end at a newline only: a carriage return inside one is shown, not obeyed.
    """
    with open(fd, errors="replace", newline="\n") as lines:
        for line in lines:
            print("  " + printable(line.rstrip()), flush=True)


GREEN, RED, BOLD, RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"


def colours(stream=None) -> bool:
    """Whether to colour: `stream` (stdout) is a terminal and NO_COLOR is unset or empty."""
    stream = stream or sys.stdout
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def painted(word: str, colour: str, on: bool) -> str:
    """One of the grader's own words (PASS, FAIL, the score) in `colour` when `on`."""
    return f"{colour}{word}{RESET}" if on else word


def table(results: dict, width: int = 100, colour: bool = False) -> str:
    """The per-test table, failures with their reasons, and the total; coloured if `colour`."""
    lines = []
    current = previous = None
    for t in results["tests"]:
        part = t["name"].split(".")[0]
        if part != current:
            current, previous = part, None
            got = sum(x["score"] for x in results["tests"] if x["name"].startswith(part + "."))
            top = sum(x["max_score"] for x in results["tests"] if x["name"].startswith(part + "."))
            lines.append(f"\n{part}.py  {got:g}/{top:g}")
        passed = t["status"] == "passed"
        mark = painted("PASS", GREEN, colour) if passed else painted("FAIL", RED, colour)
        name = printable(t["name"], lines=False)
        lines.append(f"  {mark} {t['number']:>5} {t['score']:>2g}/{t['max_score']:<2g} {name}")
        if t["status"] != "passed" or (t["output"] and "accuracy" in t["name"]):
            text = plain(t).strip() or "(no message)"
            first = text.splitlines()[0] if t["status"] == "passed" else " ".join(text.split())
            if t["status"] != "passed":  # one cause (a missing file, say) is spelt out once a file
                same = first == previous
                first, previous = ("(the same reason as above)" if same else first), first
            lines += textwrap.wrap(first, width, initial_indent=" " * 18, subsequent_indent=" " * 18)[:6]
        if t["status"] == "passed":  # a passed test's advice (a failed one's is in its message)
            for line in printable(t["output"]).splitlines():
                if line.startswith(config.ADVICE):
                    lines += textwrap.wrap(line, width, initial_indent=" " * 18,
                                           subsequent_indent=" " * 18)[:4]
    total = sum(t["max_score"] for t in results["tests"])
    lines.append("\n" + painted(f"Score: {results['score']:g}/{total:g}", BOLD, colour))
    return "\n".join(lines)


def notes(results: dict) -> list[str]:
    """The remarks on the submission as a whole in results.json's output (intake's: a file
    skipped, renamed, misplaced, a stale PNG), printable; not its first line (the count) nor
    how workers are isolated."""
    lines = printable(results.get("output", "")).splitlines()[1:]
    return [line for line in lines if line.strip() and not line.startswith("Workers run as")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", default=str(ROOT / "solutions"), type=Path)
    parser.add_argument("--results", type=Path, default=None,
                        help="default results.json; with --only FILE, results_FILE.json "
                             "(the whole result stays)")
    parser.add_argument("--visible-only", action="store_true", help="only the tests students see (make check)")
    parser.add_argument("--expected", type=Path, default=None, help="prebuilt expected values")
    parser.add_argument("--only", choices=config.FILES, help="grade one file's tests only")
    parser.add_argument("--verbose", action="store_true", help="show pytest's own output")
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 must not stop the report (exit 0)
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")
    if not args.submission.is_dir():
        print(f"error: the submission folder {printable(args.submission)} does not exist",
              file=sys.stderr)
        return 2
    if args.results is None:  # one file's result must not replace the whole submission's
        args.results = Path(f"results_{args.only}.json" if args.only else "results.json")
    tests = "visible tests" if args.visible_only else "all tests"
    print(f"Grading {printable(args.submission)} ({tests}) ...", flush=True)
    # The suite stops each file's workers by config.GRADING_DEADLINE; this stop, a minute later, is the last resort.
    code = run_suite(args.submission.resolve(), args.results.resolve(), args.visible_only, args.expected,
                     quiet=not args.verbose, only=args.only, progress=not args.verbose,
                     timeout=config.GRADING_DEADLINE + 60)
    if code is None:
        print(f"error: grading took more than {config.GRADING_DEADLINE + 60:.0f} s and was stopped",
              file=sys.stderr)
        return 1
    if not args.results.exists():
        print(f"error: grading failed to write {printable(args.results)} "
              f"(pytest exit status {code})", file=sys.stderr)
        return 1
    results = json.loads(args.results.read_text())
    print(table(results, colour=colours()))
    for note in notes(results):
        print(textwrap.fill(note, 100, initial_indent="Note: ", subsequent_indent="      "))
    if args.visible_only:
        if config.HIDDEN_POINTS:
            print(f"(Hidden tests worth {config.HIDDEN_POINTS:g} more points run only on Gradescope; they are shown after "
                  "the due date.)")
    alone = (f" (of {args.only}.py alone; results.json is left as it was)"
             if args.only and args.results.resolve() != Path("results.json").resolve() else "")
    took = f"{results['execution_time']:.0f} s"
    print(f"Results written to {printable(args.results)}{alone} in {took}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
