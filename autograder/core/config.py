"""Every number an instructor may want to change: points, visibility, budgets.

The accuracy thresholds live in `utils.THRESHOLDS`, because the student files
print them too; they are re-exported here (read from utils.py's source, so
that the processes that only wait on the grading never load NumPy).

POINTS is the one table of tests. Each row is
    name: (number, points, visibility)
with the name `<file>.<part>: <what it checks>` exactly as results.json shows
it. Visibility is Gradescope's: "visible" tests run in `make check` and ship
in the handout; the others ("after_due_date", "after_published", "hidden")
run only in `make grade` and on Gradescope; their rows are in hidden.py,
which the handout leaves out. The points must add up to 100:
`tests/test_points.py` checks this, and that every row has exactly one test.
"""

import ast
import os

from autograder import ROOT
from autograder.core import settings


def _from_utils(name: str):
    """The literal `NAME = ...` of utils.py, beside the autograder package (as in every tree that holds it)."""
    source = (ROOT / "utils.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise RuntimeError(f"utils.py defines no {name} = ...")


THRESHOLDS = _from_utils("THRESHOLDS")
# Training data handed to `fit`: the 60,000 training images less this many for validation (utils.VAL_SIZE).
VAL_SIZE = _from_utils("VAL_SIZE")
FILES = ("numpy_ann", "pytorch_ann", "pytorch_cnn")
CLASSES = {"numpy_ann": "NumpyANN", "pytorch_ann": "PyTorchANN", "pytorch_cnn": "PyTorchCNN"}  # the class each defines
LAYOUTS = {"numpy_ann": "numpy", "pytorch_ann": "flat", "pytorch_cnn": "image"}  # the data its fit gets (utils.load_data)
PNG_FILES = {
    "pytorch_ann": "pytorch_ann_train_val_metrics.png",
    "pytorch_cnn": "pytorch_cnn_train_val_metrics.png",
}

HIDDEN = "after_due_date"  # hidden tests appear to students once the deadline has passed

try:
    from autograder import hidden
except ImportError:  # the student handout holds no hidden tests
    hidden = None


def _torch_rows(part: str, first: int) -> dict:
    rows = [
        (f"{part}.forward: logits of shape (n, 10) for (n, 784) input", 1),
        (f"{part}.forward: logits of shape (n, 10) for (n, 1, 28, 28) input", 1),
        (f"{part}.forward: returns logits, not probabilities", 2),
        (f"{part}.fit: the loss falls", 2),
        (f"{part}.fit: gradients do not accumulate across steps", 2),
        (f"{part}.fit: the parameters change", 1),
        (f"{part}.fit: the history has the contract's keys, one float per epoch", 1),
        (f"{part}.predict: int64 class indices of shape (n,)", 1),
        (f"{part}.predict: runs in eval mode without gradients", 2),
        (f"{part}.plot: writes a valid PNG and returns its Figure", 1),
        (f"{part}.judgement: one of the three words, by the rule, on your history", 1),
        (f"{part}.accuracy: at least {THRESHOLDS[part]:.0%} on the test set", 6),
        (f"{part}.artifact: {PNG_FILES[part]} is in the submission", 1),
        (f"{part}.artifact: the PNG is at least 300x200 pixels and not blank", 1),
    ]
    if part == "pytorch_cnn":
        rows.insert(0, (f"{part}.architecture: holds at least one nn.Conv2d", 1))
    table = {name: (f"{first}.{i}", pts, "visible") for i, (name, pts) in enumerate(rows, 1)}
    for i, (name, pts) in enumerate(hidden.TORCH_ROWS if hidden else [], len(rows) + 1):
        table[name.format(part=part)] = (f"{first}.{i}", pts, HIDDEN)
    return table


def _numpy_rows() -> dict:
    rows = [
        ("numpy_ann.relu: max(0, z) elementwise", 1),
        ("numpy_ann.relu: keeps the input's shape", 1),
        ("numpy_ann.relu_prime: 1 where z > 0 and 0 where z < 0", 1),
        ("numpy_ann.relu_prime: zero at z == 0", 1),
        ("numpy_ann.relu_prime: keeps the input's shape", 1),
        ("numpy_ann.softmax: rows sum to 1", 1),
        ("numpy_ann.softmax: matches the reference", 1),
        ("numpy_ann.softmax: finite for logits near 1e4", 2),
        ("numpy_ann.softmax: unchanged when a row is shifted by a constant", 1),
        ("numpy_ann.cross_entropy: the mean over rows, not the sum", 2),
        ("numpy_ann.cross_entropy: finite where a probability is 0", 1),
        ("numpy_ann.init: parameters have the contract's shapes", 1),
        ("numpy_ann.forward: matches the reference on fixed weights", 3),
    ]
    for p in ("W1", "b1", "W2", "b2"):
        rows += [(f"numpy_ann.backward: d{p} matches the reference", 2),
                 (f"numpy_ann.backward: d{p} matches finite differences", 1)]
    rows += [
        ("numpy_ann.backward: changes no parameter", 1),
        ("numpy_ann.step: subtracts lr times each gradient", 2),
        ("numpy_ann.fit: the loss falls over a few epochs on a fixed batch", 2),
        ("numpy_ann.fit: every sample is seen once per epoch", 2),
        ("numpy_ann.fit: the order is reshuffled between epochs", 1),
        ("numpy_ann.fit: the history has the contract's keys, one float per epoch", 1),
        ("numpy_ann.predict: class indices of shape (n,)", 1),
        (f"numpy_ann.accuracy: at least {THRESHOLDS['numpy_ann']:.0%} on the test set", 5),
        ("numpy_ann.imports: only NumPy and the standard library", 1),
    ]
    table = {name: (f"1.{i}", pts, "visible") for i, (name, pts) in enumerate(rows, 1)}
    for i, (name, pts) in enumerate(hidden.NUMPY_ROWS if hidden else [], len(rows) + 1):
        table[name] = (f"1.{i}", pts, HIDDEN)
    return table


POINTS = {**_numpy_rows(), **_torch_rows("pytorch_ann", 2), **_torch_rows("pytorch_cnn", 3)}
TOTAL = 100  # what POINTS adds up to with the hidden rows; without them (the handout), the rest is hidden
HIDDEN_POINTS = TOTAL - sum(points for _, points, visibility in POINTS.values() if visibility == "visible")

# Training budgets. All of a submission's training (one call of each model's
# `fit` with the student's defaults) must fit in TRAIN_DEADLINE seconds; each
# model may use its share of it, and a model over its share fails only its own
# training tests. Raise the deadline on a slower machine (GRADER_TRAIN_DEADLINE);
# the Gradescope zip sets it to TRAIN_DEADLINE_ON_GRADESCOPE.
TRAIN_DEADLINE = settings.seconds("GRADER_TRAIN_DEADLINE")
TRAIN_SHARE = {"numpy_ann": 0.2, "pytorch_ann": 0.2, "pytorch_cnn": 0.6}
TRAIN_BUDGET = {file: TRAIN_DEADLINE * share for file, share in TRAIN_SHARE.items()}
# Seconds any other single call of student code may take (unit tests run on small arrays).
CALL_BUDGET = settings.seconds("GRADER_CALL_BUDGET")
# Gradescope's default machine (0.5 vCPU) trains about 3 times slower than one core here; its default timeout is
# 600 s. There, training gets this much of it (`run_autograder` sets GRADER_TRAIN_DEADLINE to it, unless set);
# the rest is imports and unit tests.
TRAIN_DEADLINE_ON_GRADESCOPE = 420
# Graded submissions per student in any 24 hours on Gradescope (packaging/limits.py); None: none.
# Past it, a submission is not graded: it shows the last graded score and when the next can be.
SUBMISSIONS_PER_DAY: int | None = None
# The whole grading's deadline, in seconds of wall-clock time from its start (GRADER_DEADLINE; run_autograder sets
# it to GRADESCOPE_DEADLINE less FILE_RESERVE): whatever a worker does or writes, each file's workers are stopped
# in time for the files after it to keep FILE_RESERVE seconds each, and results.json is written. A file that
# overruns is charged alone; the files graded before it keep their points.
GRADING_DEADLINE = settings.seconds("GRADER_DEADLINE")
FILE_RESERVE = 30.0
# How long the grader waits on a worker beyond what its calls may use.
GRACE = 10.0  # seconds past a call's budget before the worker is killed
IDLE = 120.0  # seconds a worker may spend between calls (loading data, importing torch)


def budget(file: str, call: str) -> float:
    """Seconds a worker's call may take on each of its cores: the grader's own table, never what a worker says.

    A budget is CPU time, not wall-clock time, so that a busy machine does not
    change the verdict: a call may use `cpu_budget` CPU-seconds in all
    processes and threads of its worker, `budget` on each of `threads()` cores.
    """
    return TRAIN_BUDGET[file] if call == "train" else CALL_BUDGET


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


