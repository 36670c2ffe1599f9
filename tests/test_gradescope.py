"""The Gradescope zip, run as Gradescope runs it, in an emulated /autograder.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once, then
for each submission puts the files in /autograder/submission, writes
/autograder/submission_metadata.json and runs /autograder/run_autograder from
/autograder. Here setup.sh cannot run (it needs PyTorch's own package index),
so its two effects are reproduced: /autograder/venv is this project's
virtual environment, and its data step (`utils.py data`) runs for real. As
root the tree is mounted at the real /autograder, in a private mount
namespace over a tmpfs; otherwise it lives in a temporary folder passed as
GRADESCOPE_ROOT.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import utils
from autograder.core import config
from autograder.packaging import gradescope
from tests.conftest import ROOT, failed
from tests.gradescope_schema import problems

CAN_UNSHARE = os.geteuid() == 0 and shutil.which("unshare") and subprocess.run(
    ["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return gradescope.build(tmp_path_factory.mktemp("dist") / "autograder.zip")


def stage(zip_path: Path, submission: Path, tmp: Path) -> Path:
    """An /autograder tree: source/ (the zip, after setup), venv, submission/, metadata, results/."""
    root = tmp / "autograder"
    (root / "source").mkdir(parents=True)
    for folder in (tmp, root):
        folder.chmod(0o755)  # as on Gradescope: the venv under it must be usable by grader-student
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)
    (root / "venv").symlink_to(Path(sys.prefix))
    subprocess.run([str(root / "venv" / "bin" / "python"), "utils.py", "data"], cwd=root / "source", check=True,
                   env=dict(os.environ, FASHION_MNIST_DIR=str(utils.RAW_DIR)), capture_output=True)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps({
        "id": 123456, "created_at": "2026-11-22T10:00:00.000000-08:00", "assignment": {"title": "Fashion-MNIST"},
        "users": [{"email": "student@example.edu", "name": "A Student"}], "previous_submissions": []}))
    return root


def run_autograder(root: Path, real_path: bool = False, env: dict | None = None) -> dict:
    env = dict(os.environ, **(env or {}))
    env.pop("GRADESCOPE_ROOT", None)
    if real_path:
        Path("/autograder").mkdir(exist_ok=True)
        script = (f"set -e; mount -t tmpfs tmpfs /autograder; cp -a {root}/. /autograder/; cd /autograder; "
                  f"./run_autograder; cp /autograder/results/results.json {root}/results/results.json")
        done = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script], env=env,
                              capture_output=True, text=True, timeout=900)
    else:
        done = subprocess.run(["./run_autograder"], cwd=root, env=dict(env, GRADESCOPE_ROOT=str(root)),
                              capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert problems(results) == []
    return results


def test_the_zip_has_setup_and_run_autograder_at_its_root(autograder_zip):
    names = zipfile.ZipFile(autograder_zip).namelist()
    assert "setup.sh" in names and "run_autograder" in names
    assert "expected/numpy_ann/log.jsonl" in names


def test_the_zip_holds_no_reference_code(autograder_zip):
    names = zipfile.ZipFile(autograder_zip).namelist()
    assert not [n for n in names if n.startswith("solutions/") or Path(n).name in
                {"numpy_ann.py", "pytorch_ann.py", "pytorch_cnn.py"}]
    reference = (ROOT / "solutions" / "numpy_ann.py").read_text()
    body = {line.strip() for line in reference.splitlines() if len(line.strip()) > 30}
    student = (ROOT / "student" / "numpy_ann.py").read_text()
    secret = {line for line in body if line not in student}
    with zipfile.ZipFile(autograder_zip) as zf:
        text = "\n".join(zf.read(n).decode(errors="replace") for n in zf.namelist())
    assert secret and not [line for line in secret if line in text]


def test_building_twice_gives_identical_bytes(autograder_zip, tmp_path):
    assert gradescope.build(tmp_path / "again.zip").read_bytes() == autograder_zip.read_bytes()


def test_setup_sh_is_valid_bash(autograder_zip, tmp_path):
    path = tmp_path / "setup.sh"
    path.write_bytes(zipfile.ZipFile(autograder_zip).read("setup.sh"))
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


def test_setup_sh_pins_the_versions_of_requirements_txt(autograder_zip):
    script = zipfile.ZipFile(autograder_zip).read("setup.sh").decode()
    pinned = dict(re.findall(r"(torch|torchvision)==(\S+)", script))
    requirements = dict(re.findall(r"^(torch|torchvision)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    assert pinned == requirements and len(pinned) == 2
    assert "-r requirements.txt" in script and "python3 -m venv" in script


@pytest.fixture(scope="module")
def reference_nested(autograder_zip, tmp_path_factory):
    """The reference, uploaded as students often do: in a folder, with other capitalisation, graded once at the
    real /autograder where this machine allows it. Its results.json."""
    tmp = tmp_path_factory.mktemp("reference")
    nested = tmp / "upload" / "My Submission"
    nested.mkdir(parents=True)
    for path in (ROOT / "solutions").iterdir():
        if path.suffix in (".py", ".png"):
            name = path.name.replace("numpy_ann", "NumPy_ANN").replace("pytorch_ann", "PyTorch_ANN")
            shutil.copy(path, nested / name)
    return run_autograder(stage(autograder_zip, tmp / "upload", tmp / "gs"), real_path=bool(CAN_UNSHARE))


def test_the_reference_scores_100(reference_nested):
    assert failed(reference_nested) == {} and reference_nested["score"] == 100
    assert len(reference_nested["leaderboard"]) == 3


@pytest.mark.slow
def test_the_stubs_score_0_with_every_test_reported(autograder_zip, tmp_path):
    results = run_autograder(stage(autograder_zip, ROOT / "student", tmp_path))
    assert results["score"] == 0
    assert {t["name"] for t in results["tests"]} == set(config.POINTS)


def test_a_submission_nested_in_a_folder_with_other_capitalisation_is_found(reference_nested):
    assert {t["name"] for t in reference_nested["tests"]} == set(config.POINTS)
    assert failed(reference_nested) == {} and reference_nested["score"] == 100


@pytest.mark.slow
def test_a_missing_file_costs_only_its_own_tests(autograder_zip, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(ROOT / "solutions", partial, ignore=shutil.ignore_patterns("pytorch_cnn*", "__pycache__"))
    results = run_autograder(stage(autograder_zip, partial, tmp_path / "gs"))
    assert {n for n in failed(results)} == {n for n in config.POINTS if n.startswith("pytorch_cnn.")}
    assert results["score"] == 100 - sum(p for n, (_, p, _) in config.POINTS.items() if n.startswith("pytorch_cnn."))


@pytest.mark.slow
def test_grading_that_runs_out_of_time_still_leaves_valid_results(autograder_zip, tmp_path):
    root = stage(autograder_zip, ROOT / "solutions", tmp_path)
    results = run_autograder(root, env={"GRADESCOPE_DEADLINE": "3"})
    assert results["score"] == 0
    assert all("Grader error" in t["output"] for t in results["tests"])


def unpacked(zip_path: Path, tmp: Path) -> Path:
    """The zip in tmp/autograder/source, run_autograder beside it, and nothing else (no venv, no setup.sh run)."""
    root = tmp / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    return root


def test_with_no_python_run_autograder_still_leaves_a_grader_error_that_names_the_cause(autograder_zip, tmp_path):
    """An instructor's broken build (no venv), in a bare environment: the shell alone writes the result."""
    root = unpacked(autograder_zip, tmp_path)
    shutil.copytree(ROOT / "student", root / "submission")
    done = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", f"GRADESCOPE_ROOT={root}", "./run_autograder"],
                          cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert problems(results) == []
    assert results["score"] == 0
    assert {t["name"] for t in results["tests"]} == set(config.POINTS)
    assert sum(t["max_score"] for t in results["tests"]) == 100
    assert "venv/bin/python" in results["output"]
    assert "not found" in results["output"] or "No such file" in results["output"]
    assert "rebuild" in results["output"]


def test_the_shell_fallback_is_replaced_by_the_graders_own_result_once_python_starts(autograder_zip, tmp_path):
    """A grader that starts and then fails writes its own result; the shell leaves it alone."""
    root = unpacked(autograder_zip, tmp_path)
    (root / "venv").symlink_to(Path(sys.prefix))
    (root / "submission").mkdir()
    done = subprocess.run(["./run_autograder"], cwd=root, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, GRADESCOPE_ROOT=str(root), GRADESCOPE_DEADLINE="0.01"))
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert problems(results) == []
    assert "@@WHY@@" not in json.dumps(results) and "environment is broken" not in results["output"]
