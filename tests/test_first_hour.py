"""A student's first hour: running a file, seeing what it prints, being told what is off.

Each message checked here names its cause: a name in other capitals, files in a sub-folder where
the grader does not look, a PNG older than its code, one file's result written beside the whole
one, training's own output echoed (capped, made printable), a phase that runs long, a DataLoader
whose workers would receive the dataset through shared memory. Fast: no grading, no training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import grade
from autograder.core import config
from autograder.harness import evidence, intake
from autograder.packaging import handout
from tests.conftest import ROOT

PNG = config.PNG_FILES["pytorch_ann"]


@pytest.fixture
def submission(tmp_path):
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for png in config.PNG_FILES.values():  # newer than the code, whatever the checkout's order
        os.utime(folder / png)
    return folder


def test_a_file_taken_under_other_capitals_is_named(submission):
    (submission / "numpy_ann.py").rename(submission / "NumPy_ANN.py")
    assert intake.notes(submission) == [
        "Took NumPy_ANN.py as numpy_ann.py: the grader matches names whatever their "
        "capitalisation, "
        "Gradescope's copy of the course may not; rename it numpy_ann.py."
    ]


def test_a_png_older_than_its_code_may_be_stale(submission):
    os.utime(submission / PNG, (1_000_000, 1_000_000))
    [note] = intake.notes(submission)
    assert note.startswith(f"{PNG} is older than pytorch_ann.py, so it may be stale")
    assert "make run FILE=pytorch_ann.py" in note


def test_files_in_a_sub_folder_where_the_grader_does_not_look_are_named_in_one_sentence(tmp_path):
    """The handout: autograder/ and data/ beside the student's own folder, not looked into."""
    handout_copy = tmp_path / "handout"
    for folder in ("autograder", "data", "mywork"):
        (handout_copy / folder).mkdir(parents=True)
    for file in config.FILES:
        shutil.copy(ROOT / "solutions" / f"{file}.py", handout_copy / "mywork" / f"{file}.py")
    sentence = intake.misplaced(handout_copy)
    assert sentence == (
        "numpy_ann.py, pytorch_ann.py, pytorch_cnn.py lie in the sub-folder mywork/, where the "
        "grader does not look: move them to the top of the submission folder (in the handout, "
        "beside the Makefile), with the two PNGs."
    )
    assert intake.notes(handout_copy) == [sentence]
    assert intake.misplaced(ROOT / "solutions") is None


def test_a_repeated_reason_is_spelt_out_once_per_file():
    why = "numpy_ann.py is not in the submission (numpy_ann.py lies in the sub-folder x/, ...)"
    tests = [
        {
            "name": f"numpy_ann.relu: t{i}",
            "number": f"1.{i}",
            "score": 0,
            "max_score": 1,
            "status": "failed",
            "output": why,
        }
        for i in (1, 2, 3)
    ]
    text = grade.table({"tests": tests, "score": 0})
    assert (
        text.count("not in the submission") == 1 and text.count("(the same reason as above)") == 2
    )


def test_make_check_prints_the_notes_on_the_submission():
    results = {
        "output": "Graded 3 tests.\nTook NumPy_ANN.py as numpy_ann.py: ...\nWorkers run as x.\n"
    }
    assert grade.notes(results) == ["Took NumPy_ANN.py as numpy_ann.py: ..."]


def test_one_files_grading_keeps_the_whole_result(tmp_path, monkeypatch, capsys):
    """`make check ONLY=numpy_ann` writes results_numpy_ann.json, says results.json stays."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results.json").write_text("the whole result")
    (tmp_path / "student").mkdir()

    def run_suite(submission, results, *args, **kwargs):
        results.write_text(
            json.dumps(
                {"tests": [], "score": 0, "execution_time": 1.0, "output": "Graded 0 tests."}
            )
        )
        return 0

    monkeypatch.setattr(grade, "run_suite", run_suite)
    assert grade.main(["student", "--visible-only", "--only", "numpy_ann"]) == 0
    assert (tmp_path / "results.json").read_text() == "the whole result"
    assert (tmp_path / "results_numpy_ann.json").exists()
    assert (
        "Results written to results_numpy_ann.json (of numpy_ann.py alone; "
        "results.json is left as it was)"
        in capsys.readouterr().out
    )


@pytest.fixture
def progress_pipe(monkeypatch):
    """The progress lines the grader sends while it grades, as make check would print them."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    monkeypatch.setenv("GRADER_PROGRESS_FD", str(write_end))

    def lines() -> list[str]:
        try:
            return os.read(read_end, 1 << 20).decode().splitlines()
        except BlockingIOError:
            return []

    yield lines
    os.close(read_end)
    os.close(write_end)


def test_training_output_is_echoed_capped_and_printable(tmp_path, progress_pipe):
    printed = [
        "epoch  1/2  train loss 0.5 (1.0 s)",
        "my own debug print \x1b[2K",
        "x" * 500,
        "50%|###  \r100%|######",
        *[f"line {i}" for i in range(evidence.ECHO_LINES)],
    ]
    (tmp_path / "output.txt").write_bytes("".join(f"{line}\n" for line in printed).encode())
    echo = evidence.TrainingEcho("pytorch_ann", tmp_path)
    echo.started({"call": "train", "output_at": 0, "budget": 48})
    echo.finished()
    lines = progress_pipe()
    assert lines[0].startswith("pytorch_ann.py: training with your defaults")
    assert lines[1].strip() == "epoch  1/2  train loss 0.5 (1.0 s)"
    assert lines[2].strip() == "my own debug print \\x1b[2K"  # an escape shows, never acts
    assert lines[3].strip() == "x" * evidence.ECHO_WIDTH + "..."
    assert lines[4].strip() == "100%|######"  # a redrawn bar: its last drawing
    assert len(lines) == 1 + evidence.ECHO_LINES + 1
    assert lines[-1].strip() == (
        f"(4 more lines of training's output not shown here; the first {evidence.ECHO_LINES} are)"
    )


def test_a_long_call_says_what_still_runs(monkeypatch, progress_pipe):
    records = evidence.Records("pytorch_cnn", Path("."), -1, ["train"], set())
    records.current = "train"
    records.read_cpu = lambda: 45.0
    evidence.last_progress[0] = time.monotonic() - evidence.HEARTBEAT - 1
    evidence.heartbeat(records)
    assert progress_pipe() == [
        "pytorch_cnn.py: still running: training, 45 s of CPU time so far ..."
    ]
    evidence.heartbeat(records)  # the line just sent resets the clock
    assert progress_pipe() == []


def test_a_dataloader_that_spawns_its_workers_is_named():
    message = "unable to resize file </torch_2_1910823661_2> to the right size: File too large (27)"
    text = evidence.describe({"type": "RuntimeError", "message": message, "where": ""})
    assert "DataLoader's workers started by spawn or forkserver" in text and "num_workers=0" in text


def test_the_worker_starts_child_processes_by_fork_on_linux():
    code = (
        "import multiprocessing, sys; from autograder.runtime import worker; "
        "worker.fork_by_default(); "
        "print(multiprocessing.get_start_method())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ("fork" if sys.platform == "linux" else done.stdout.strip())


# ---------------------------------------------------------- running a file, installing torch

MAKEFILES = {
    "project": ROOT / "Makefile",
    "handout": ROOT / "autograder/packaging/handout_files/Makefile",
}


def make(makefile: Path, *args: str, py: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(makefile), *args, f"PY={py}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("which", MAKEFILES)
def test_make_run_runs_the_named_file_and_asks_for_one(which):
    planned = make(MAKEFILES[which], "-n", "run", "FILE=numpy_ann.py")
    assert planned.returncode == 0 and f'{sys.executable} -- "$GIVEN_FILE"' in planned.stdout
    refused = make(MAKEFILES[which], "run", "FILE=")
    assert refused.returncode != 0 and "Name the file: make run FILE=" in refused.stderr


@pytest.mark.parametrize("which", MAKEFILES)
def test_the_venv_tries_the_cpu_index_first_briefly_and_falls_back_to_pypi(which):
    planned = make(
        MAKEFILES[which], "-n", "venv", "VENV=/nonexistent/venv", py="/nonexistent/venv/bin/python"
    )
    steps = planned.stdout.splitlines()
    cpu = next(
        i for i, s in enumerate(steps) if '--index-url "https://download.pytorch.org/whl/cpu"' in s
    )
    assert "--no-deps" in steps[cpu] and "--timeout 10 --retries 1" in steps[cpu]
    assert re.search(r"torch==\S+ torchvision==\S+ \|\| echo \"No CPU build of torch", steps[cpu])
    pypi = next(i for i, s in enumerate(steps) if "-r requirements.txt" in s)
    assert pypi > cpu and "--index-url" not in steps[pypi] and "--timeout 10" in steps[pypi]
    gpu = make(
        MAKEFILES[which],
        "-n",
        "venv",
        "VENV=/nonexistent/venv",
        "TORCH_INDEX=",
        py="/nonexistent/venv/bin/python",
    )
    assert "download.pytorch.org" not in gpu.stdout and "-r requirements.txt" in gpu.stdout


def test_setup_sh_tries_the_cpu_index_briefly_and_falls_back_to_pypi():
    text = (ROOT / "autograder/packaging/gradescope_files/setup.sh").read_text()
    assert "--timeout 10 --retries 1" in text
    assert re.search(
        r'--no-deps --index-url "\$TORCH_INDEX" torch==@TORCH@ torchvision==@TORCHVISION@ \\\n'
        r'\s+\|\| echo "No CPU build of torch',
        text,
    )


def test_the_handouts_requirements_hold_the_pins_and_no_comment_on_files_students_lack():
    text = handout.requirements()
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    comments = " ".join(line for line in text.splitlines() if line.startswith("#"))
    for absent in ("pngcheck", "setup.sh", "bench", "grade_all", "tests/"):
        assert absent not in comments
