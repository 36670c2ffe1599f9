"""Every number an instructor may want to change that is not a file's spec: budgets and deadlines.

What each graded file is and how it is graded (its class, kind, data layout,
training share, PNG, and the table of its tests with their ids, points and
visibility) is its spec, in autograder/specs/; the accuracy thresholds live
in `utils.THRESHOLDS`, because the student files print them too. This module
re-exports both in the forms the rest of the grader reads (FILES, CLASSES,
LAYOUTS, PNG_FILES, TRAIN_SHARE, THRESHOLDS and POINTS), and holds the
budgets and deadlines.

POINTS is the table of tests, made from the specs. Each row is
    name: (number, points, visibility)
with the name `<file>.<part>: <what it checks>` exactly as results.json shows
it. Visibility is Gradescope's: "visible" tests run in `make check` and ship
in the handout; the others ("after_due_date", "after_published", "hidden")
run only in `make grade` and on Gradescope; their rows are in hidden/,
which the handout leaves out. The points must add up to 100:
`tests/test_points.py` checks this, and that every row has exactly one test.
"""

import os

from autograder import specs
from autograder.core import settings

THRESHOLDS = specs.thresholds()
# Training data handed to `fit`: the 60,000 training images less this many for validation (utils.VAL_SIZE).
VAL_SIZE = specs._from_utils("VAL_SIZE")
SPECS = specs.SPECS
FILES = tuple(spec.file for spec in SPECS)
CLASSES = {spec.file: spec.cls for spec in SPECS}  # the class each defines
LAYOUTS = {spec.file: spec.layout for spec in SPECS}  # the data its fit gets (utils.load_data)
PNG_FILES = {spec.file: spec.png for spec in SPECS if spec.png}
HIDDEN = specs.HIDDEN

try:
    from autograder import hidden
except ImportError:  # the student handout holds no hidden tests
    hidden = None

POINTS = {spec.full_name(row): (spec.number_of(row), row.points, row.visibility)
          for spec in SPECS for row in spec.all_rows()}
TOTAL = 100  # what POINTS adds up to with the hidden rows; without them (the handout), the rest is hidden
VISIBLE_POINTS = sum(points for _, points, visibility in POINTS.values() if visibility == "visible")
HIDDEN_POINTS = (sum(points for _, points, _ in POINTS.values()) - VISIBLE_POINTS if hidden
                 else TOTAL - VISIBLE_POINTS)

# Training budgets. All of a submission's training (one call of each model's `fit` with the student's
# defaults) must fit in TRAIN_DEADLINE CPU-seconds of the reference machine (GRADER_TRAIN_DEADLINE); each
# model may use its share of it, and a model over its share fails only its own training tests. On any
# machine the budgets are those seconds times the machine's speed factor (`speed`, measured by
# harness/calibrate.py at the start of each grading), so that the verdict is the same everywhere.
TRAIN_SHARE = {spec.file: spec.train_share for spec in SPECS}
# Seconds any other single call of student code may take (unit tests run on small arrays).
CALL_BUDGET = settings.seconds("GRADER_CALL_BUDGET")
BAND = 0.15  # a training within this fraction of its budget is told that another machine may judge it otherwise
# Graded submissions per student in any 24 hours on Gradescope (packaging/limits.py); None: none.
# Past it, a submission is not graded: it shows the last graded score and when the next can be.
SUBMISSIONS_PER_DAY: int | None = None
# The whole grading's deadline, in seconds of wall-clock time from its start (GRADER_DEADLINE; run_autograder sets
# it to GRADING_DEADLINE_ON_GRADESCOPE): whatever a worker does or writes, each file's workers are stopped in time
# for the files after it to keep FILE_RESERVE seconds each, and results.json is written. A file that overruns is
# charged alone; the files graded before it keep their points.
GRADING_DEADLINE = settings.seconds("GRADER_DEADLINE")
FILE_RESERVE = 30.0

# Gradescope, in one place. GRADESCOPE_TIMEOUT is the assignment's autograder timeout (Gradescope's default is
# 10 minutes): change it here, and on the assignment's settings page, and everything below follows. The stop
# and the budgets there are made from it, and tests/test_deadlines.py checks that the worst case fits:
# every file's training at its whole budget, in wall-clock time on GRADESCOPE_CPUS, plus the imports, unit
# calls and fresh evaluations of all files (OVERHEAD_ON_GRADESCOPE), plus MARGIN, within the grading's deadline.
# How a line of advice begins in a test's output (record_property("advice", ...)): a remark on
# correct code that could be better, which costs no points, on a passed test as on a failed one.
ADVICE = "Advice (costs no points):"

GRADESCOPE_TIMEOUT = 600
GRADESCOPE_CPUS = 0.5  # its default machine's CPU share: a CPU-second there takes 2 s of wall-clock time
RESULTS_MARGIN = 30.0  # run_autograder's last resort stops grading this long before Gradescope would
GRADESCOPE_DEADLINE = GRADESCOPE_TIMEOUT - RESULTS_MARGIN  # that last resort (GRADESCOPE_DEADLINE overrides it)
GRADING_DEADLINE_ON_GRADESCOPE = GRADESCOPE_DEADLINE - FILE_RESERVE  # GRADER_DEADLINE there
# Wall-clock seconds of everything but training for all three files on Gradescope's default machine: the
# reference's took 36 s (57.8 s in all, emulated by make bench, less its training); a student's wider model
# takes longer in the unit calls and the evaluations, hence 2.5 times that.
OVERHEAD_ON_GRADESCOPE = 90.0
MARGIN = 30.0  # wall-clock seconds left over in the worst case
# CPU-seconds of training for a whole submission there (run_autograder sets GRADER_TRAIN_DEADLINE to it, unless
# set), shared out by TRAIN_SHARE as locally: what is left of the grading's deadline, on GRADESCOPE_CPUS.
TRAIN_DEADLINE_ON_GRADESCOPE = int((GRADING_DEADLINE_ON_GRADESCOPE - OVERHEAD_ON_GRADESCOPE - MARGIN)
                                   * GRADESCOPE_CPUS)
# What a CPU-second of the reference machine takes there: its 0.5 vCPU train about 3 times slower than one
# core of the reference machine, half of it for the share and half for the CPU. The budgets everywhere are
# what fits there at that speed, so that make check gives the verdict Gradescope will (run_autograder
# caps the measured speed so that they fit in any case: gradescope.capped_speed).
GRADESCOPE_SPEED = 1.5
TRAIN_DEADLINE = settings.seconds("GRADER_TRAIN_DEADLINE") or int(TRAIN_DEADLINE_ON_GRADESCOPE
                                                                  / GRADESCOPE_SPEED)


def speed() -> float:
    """This machine's CPU-seconds per CPU-second of the reference machine (GRADER_SPEED, which the grader
    sets from harness/calibrate.py; 1 where it is unset)."""
    return settings.factor("GRADER_SPEED") or 1.0


SPEED = speed()
TRAIN_BUDGET = {file: TRAIN_DEADLINE * share * SPEED for file, share in TRAIN_SHARE.items()}
# How long the grader waits on a worker beyond what its calls may use.
GRACE = 10.0  # seconds past a call's budget before the worker is killed
IDLE = 120.0  # seconds a worker may spend between calls (loading data, importing torch)


def budget(file: str, call: str) -> float:
    """Seconds a worker's call may take on each of its cores: the grader's own table, never what a worker says.

    A budget is CPU time, not wall-clock time, so that a busy machine does not
    change the verdict: a call may use `cpu_budget` CPU-seconds in all
    processes and threads of its worker, `budget` on each of `threads()` cores.
    """
    return TRAIN_BUDGET[file] if call == "train" else CALL_BUDGET * SPEED


def cpu_budget(file: str, call: str) -> float:
    """CPU-seconds a call may use in all its worker's threads: `budget` on each core the worker is given."""
    return budget(file, call) * threads()


WALL_FACTOR = 3.0  # a call is also stopped after this many times its budget in wall-clock time (code that sleeps)


def threads() -> int:
    """Threads for NumPy and PyTorch in a worker: GRADER_THREADS, else 1.

    Measured with the reference on 2 cores (CPU-seconds of training, idle / beside
    a busy process on each core): numpy_ann 1.5 / 0.9 on one thread against
    1.8 / 30.7 on two; pytorch_ann 2.7 / 2.2 against 4.2 / 3.2; pytorch_cnn
    20.4 / 20.1 against 30.5 / 46.7 (and 20 s against 26 s of wall-clock time
    idle). For models this small a second thread buys nothing, and beside
    other work its idle spinning makes the verdict depend on the machine's load.
    """
    return settings.whole("GRADER_THREADS")


def cpus() -> int:
    """The CPUs this process may use (for how many gradings run at once).

    A cgroup CPU quota (Gradescope's 0.5 vCPU, a container limit) counts, rounded up to whole CPUs.
    """
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            count = min(count, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, count)


