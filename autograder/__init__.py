"""The autograder: probes run student code in workers, tests judge what they recorded.

One folder per role:
- `grade.py` (`make check`, `make grade`) and `bench.py` (`make bench`): the commands that grade here;
- `core/`: what every part reads: the points and budgets (`config.py`), the environment variables
  (`settings.py`), and files written whole (`atomic.py`);
- `runtime/`: the code a worker process runs beside the student's (`worker.py`, `probes.py`, `datacache.py`);
  a worker receives it, with `core/`, whole;
- `harness/`: the grader's side of a grading: taking in the submission (`intake.py`; a notebook's
  code by parsing alone, `notebook.py`), the sandbox
  (`sandbox.py`), supervising workers and reading their records (`evidence.py`), the expected values
  (`expected.py`);
- `suite/`: the graded pytest suite run on every submission (its tests, fixtures, results.json plugin);
- `hidden/`: the hidden tests and their inputs, which the student handout leaves out;
- `batch/`: grading a whole class (`make grade-all`), and how alike its code is (`similarity.py`);
- `packaging/`: what is built for others: the Gradescope zip (with its optional daily limit,
  `limits.py`), the student handout, a student's submission.zip.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the project's folder; for a worker, the lib/ folder it received
