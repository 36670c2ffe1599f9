"""The budgets' exchange rate: every budget is the reference machine's times this machine's speed factor.

So that `make check` on a laptop, a grading on a busy server and Gradescope's
0.5 vCPU give one submission one verdict (harness/calibrate.py).
"""

import json
import os
import subprocess
import sys

import pytest

from autograder import grade
from autograder.core import config
from autograder.harness import calibrate, evidence
from autograder.packaging import gradescope
from tests.conftest import ROOT


def budgets(speed: str) -> dict:
    code = ("import json; from autograder.core import config; "
            "print(json.dumps([config.cpu_budget('pytorch_cnn', 'train'), config.cpu_budget('numpy_ann', 'relu')]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "GRADER_SPEED": speed, "PYTHONPATH": str(ROOT)})
    return json.loads(done.stdout)


def test_every_budget_is_the_reference_machines_times_the_speed_factor():
    one, two = budgets("1"), budgets("2")
    assert two == [2 * one[0], 2 * one[1]]
    assert one[0] == pytest.approx(config.TRAIN_DEADLINE * config.TRAIN_SHARE["pytorch_cnn"])


def test_a_grading_measures_the_factor_unless_it_is_given(monkeypatch):
    monkeypatch.setattr(calibrate, "speed", lambda: 1.234)
    monkeypatch.delenv("GRADER_SPEED", raising=False)
    assert grade.suite_env()["GRADER_SPEED"] == "1.234"
    assert grade.suite_env({"GRADER_SPEED": "0.8"})["GRADER_SPEED"] == "0.8"


def test_the_workload_measures_this_machine_near_the_reference():
    """This repository's test machine is the reference: its factor is near 1 (the workload is noisy by
    about a tenth on a busy machine, and machines of one kind differ by about a quarter)."""
    assert 0.4 < calibrate.workload_seconds() / calibrate.REFERENCE_SECONDS < 2.5
    assert calibrate.LOWEST <= calibrate.speed() <= calibrate.HIGHEST


def test_a_workload_that_cannot_run_leaves_the_reference_budgets(monkeypatch):
    def broken():
        raise subprocess.CalledProcessError(1, "python")

    monkeypatch.setattr(calibrate, "workload_seconds", broken)
    assert calibrate.speed() == 1.0


def test_on_gradescope_a_slow_machine_keeps_budgets_that_fit_and_says_so(capsys):
    fits = config.TRAIN_DEADLINE_ON_GRADESCOPE / config.TRAIN_DEADLINE
    assert gradescope.capped_speed(fits / 2) == fits / 2
    assert gradescope.capped_speed(fits * 2) == pytest.approx(fits, abs=1e-3)
    assert "to fit in the timeout" in capsys.readouterr().out
    assert config.TRAIN_DEADLINE * config.GRADESCOPE_SPEED <= config.TRAIN_DEADLINE_ON_GRADESCOPE


def test_a_training_stopped_close_to_its_budget_is_told_another_machine_may_differ(tmp_path):
    """Its pace says it needed at most BAND more than its budget: the verdict is not one to trust blindly."""
    budget = config.TRAIN_BUDGET["numpy_ann"]
    pace = budget * (1 + config.BAND / 2) / 2  # two epochs, a little over the budget in all
    (tmp_path / "output.txt").write_text(f"epoch  1/2  train loss 0.5  ({pace:.1f} s)\n")
    log = [{"event": "start", "call": "train", "budget": budget, "output_at": 0},
           {"event": "done", "call": "train", "ok": False, "seconds": None, "cpu_seconds": budget,
            "error": {"type": "WorkerDied", "message": "used more than its budget", "where": ""}}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    message = evidence.Evidence("numpy_ann", tmp_path).too_slow("budget")
    assert "within 15% of the budget" in message and "verdict may differ" in message, message
    far = tmp_path / "far"
    far.mkdir()
    (far / "output.txt").write_text(f"epoch  1/2  train loss 0.5  ({3 * budget:.1f} s)\n")
    (far / "log.jsonl").write_text((tmp_path / "log.jsonl").read_text())
    assert "may differ" not in evidence.Evidence("numpy_ann", far).too_slow("budget")
