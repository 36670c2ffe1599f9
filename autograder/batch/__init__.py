"""`make grade-all`: grade a whole class, several submissions at a time, and report on it.

    python -m autograder.batch SUBMISSIONS [--out grades] [--force] [--jobs N] [--timeout SECONDS]
                                           [--no-similarity]

SUBMISSIONS holds one sub-folder per student, or is Gradescope's "Export
Submissions" download: submission_metadata.yml and one folder per submission
(the folder that holds them both, or the one above it). Each submission is
graded exactly as `make grade` grades one: a child pytest process whose
workers run the student's code in the sandbox. `--jobs` of them (GRADE_JOBS;
default one per core) run at once, each with its own sandbox user (one that
no other grading, of this batch or of another grade-all, uses meanwhile), and
each is stopped after `--timeout` seconds (GRADE_TIMEOUT; default 900). A
submission that is empty, breaks the grader or runs out of time gets its row
with the reason; the batch goes on.

Each grading also gets two fresh folders from tempfile.mkdtemp, removed when
it ends: a private one (0700, the grader's alone) where its results.json is
written and read back, and its TMPDIR, open to its own sandbox user alone. No
name in them is predictable, and no grading, and no student's leftover
process, can reach another grading's folders.

The output folder (default grades/) receives
- <submission>/results.json: Gradescope's results.json for that submission,
  with its status (graded, empty, timeout, error), the reason and the
  seconds it took under "extra_data" (the top-level key Gradescope's format
  keeps for data of one's own) -> "grade_all";
- grades.csv: one row per student: status, reason, total, the three test
  accuracies and every test's score;
- report.md: the distribution of totals, the pass rate of every test from
  the hardest, the most common failure messages and the spread of the
  accuracies; report.png: a histogram of totals and the pass rates;
- similarity.csv: how alike each pair of students' code is, file by file,
  the most similar first (similarity.py, copydetect's fingerprints; a
  notebook as the code grading took from it), and a section of report.md
  with the top pairs; --no-similarity (SIMILARITY=0) leaves both out.
Names of folders and of students, and failure messages, are the students' own
text: the console shows them through core.text.printable, grades.csv through
core.text.csv_cell (no cell is a formula) and report.md through
core.text.markdown (no tag, link or heading of theirs); see report.py.
Every one of them is written atomically (a mkstemp file beside it, then
os.replace), which replaces a symlink found in its place instead of writing
through it. A submission whose results.json is already there, for the same
files, is skipped unless --force (FORCE=1): an interrupted batch resumes where
it stopped, and a submission whose files changed is graded again.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

from autograder.batch import report, run, similarity, submissions
from autograder.core import atomic, config, settings
from autograder.core.text import printable


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="?", default="", help="one folder per student, or Gradescope's export")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default grades/)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    parser.add_argument("--jobs", type=int, default=settings.whole("GRADE_JOBS") or config.cpus(),
                        help="submissions graded at once (GRADE_JOBS; default: one per core)")
    parser.add_argument("--timeout", type=float, default=settings.seconds("GRADE_TIMEOUT"),
                        help=f"seconds after which one submission's grading is stopped (GRADE_TIMEOUT; "
                             f"default {run.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-similarity", action="store_true",
                        help="no similarity.csv (SIMILARITY=0)")
    args = parser.parse_args(argv)
    if not args.submissions:
        print("error: say which folder to grade: make grade-all SUBMISSIONS=<folder>", file=sys.stderr)
        return 2
    try:
        source, subs = submissions.discover(Path(args.submissions), args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        todo = [sub for sub in subs if args.force or not run.is_graded(args.out, sub)]
        where = f"{printable(source)}; results go to {printable(args.out)}/"
        print(f"{len(subs)} submission(s) in {where}.")
        if len(todo) < len(subs):
            print(f"{len(subs) - len(todo)} already graded there: skipped (FORCE=1 regrades them).")
        if todo:
            run.grade_many(todo, args.out, max(1, min(args.jobs, len(todo))), args.timeout)
    except submissions.InputError as e:
        print(f"error: {printable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Finished submissions are kept: run the same command again to grade the rest.",
              file=sys.stderr)
        return 130
    pairs = None
    if not args.no_similarity:
        print("Comparing the code of every pair of students (copydetect) ...", flush=True)
        pairs = similarity.scan(subs, args.jobs)
        atomic.write_text_atomically(args.out / "similarity.csv", similarity.csv_text(pairs))
    graded = report.write_reports(subs, args.out, source, pairs)
    counts = Counter(report.status(r)[0] for _, r in graded)
    totals = [r["score"] for _, r in graded]
    print(f"{len(graded)} submission(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + (f"; mean total {statistics.mean(totals):.1f}" if totals else ""))
    out = printable(args.out)
    also = f", {out}/similarity.csv" if pairs is not None else ""
    print(f"Wrote {out}/grades.csv{also}, {out}/report.md and {out}/report.png.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
