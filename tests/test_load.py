"""The same files get the same score on a busy machine: budgets are CPU time, and workers use one thread."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.core import config
from autograder.suite.results import plain
from tests.conftest import ROOT, failed

FILE = "pytorch_ann"
ACCURACY = f"{FILE}.accuracy: at least {config.THRESHOLDS[FILE]:.0%} on the test set"


def training_cpu(evidence: Path) -> float:
    """The CPU-seconds the grader measured for the training call."""
    for line in (evidence / FILE / "log.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["event"] == "done" and entry["call"] == "train":
            return entry["cpu_seconds"]
    raise AssertionError("no training was recorded")


def test_a_busy_machine_changes_neither_the_score_nor_the_budget_verdict(run_grader):
    work = Path(tempfile.mkdtemp(prefix="load-"))
    work.chmod(0o755)
    idle = run_grader(ROOT / "solutions", only=FILE, work=work)
    used = training_cpu(work / "evidence")
    # A deadline at which training takes about 60 % of its budget.
    deadline = used / (0.6 * config.TRAIN_SHARE[FILE])
    env = {"GRADER_TRAIN_DEADLINE": f"{deadline:.2f}"}
    calm = run_grader(ROOT / "solutions", only=FILE, env=env)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(config.cpus())]
    try:
        busy = run_grader(ROOT / "solutions", only=FILE, env=env)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert failed(idle) == {}
    assert failed(calm) == {} and failed(busy) == {}, (failed(calm), failed(busy))
    assert calm["score"] == busy["score"]
    for results in (calm, busy):
        accuracy = next(plain(t) for t in results["tests"] if t["name"] == ACCURACY)
        assert "of CPU time for" in accuracy  # trained to the end: not stopped at the budget


def test_training_over_its_budget_is_stopped_with_cpu_seconds_epochs_and_the_budget(run_grader):
    results = run_grader(ROOT / "solutions", only=FILE, env={"GRADER_TRAIN_DEADLINE": "4"})
    why = failed(results)[ACCURACY]
    assert "training was stopped at its budget of 0.8 s of CPU time" in why, why
    assert "(it used" in why and ("epochs" in why or "first epoch" in why), why
