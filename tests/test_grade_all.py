"""`make grade-all` on a small generated class: the CSV, the report, resuming, and Gradescope's export layout.

The plain class: a correct submission unlike the reference (variant_b) handed in as Colab
notebooks with the cells a student leaves (magics, a shell line, a training cell with its plot),
the stubs, a file with two typical mistakes beside a notebook cut short, and an empty folder. The
Gradescope export: a group submission (the stubs), one that crashes its worker, one that hangs (stopped by
grade-all's timeout) and one that the metadata lists but whose folder is missing.
"""

import csv
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder import batch as grade_all
from autograder.batch import accounts as batch_accounts
from autograder.batch import report as batch_report
from autograder.batch import run as batch_run
from autograder.batch import submissions as batch_submissions
from autograder.core import atomic, config
from autograder.harness import sandbox
from autograder.suite import pngcheck
from autograder.suite.results import error_results, plain
from tests.conftest import ROOT
from tests.gradescope_schema import problems
from tests.notebooks import colab
from tests.test_mistakes import MISTAKES, apply

# Generous training deadlines, as in tests/conftest.py: these tests check what is graded, not how fast.
ENV = {"GRADER_TRAIN_DEADLINE": "1500"}
MISTAKEN = ["relu_prime is 1 at zero", "cross-entropy summed instead of averaged"]
METADATA = """submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  - :name: "Charles Babbage"
    :sid: '1002'
    :email: charles@example.edu
  :created_at: 2026-11-20 10:00:00.000000000 -08:00
  :score: 0.0
submission_1003:
  :submitters:
    - :name: Grace O'Hopper
      :sid: '1003'
      :email: grace@example.edu
submission_1004:
  :submitters:
  - :name: Hung Up
    :sid: '1004'
submission_1005:
  :submitters:
  - :name: Not There
    :sid: '1005'
"""


def make_grade_all(submissions: Path, grades: Path, force=False, env=None) -> subprocess.CompletedProcess:
    cmd = ["make", "grade-all", f"SUBMISSIONS={submissions}", f"GRADES={grades}", f"PY={sys.executable}"]
    done = subprocess.run(cmd + (["FORCE=1"] if force else []), cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **ENV, **(env or {})), timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def read_csv(grades: Path) -> dict[str, dict]:
    with open(grades / "grades.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def leftover_processes() -> list[str]:
    """Live processes of grade-all's sandbox users (grader-student-<n>)."""
    ps = subprocess.run(["ps", "-eo", "user:32,stat,args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in ps[1:] if re.match(r"grader-student-\d+\s", line) and line.split()[1][0] != "Z"]


def column(name: str) -> str:
    return f"{config.POINTS[name][0]} {name}"


@pytest.fixture(scope="module")
def plain_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    (folder / "alice").mkdir()
    for file in config.FILES:
        code = (ROOT / "tests" / "submissions" / "variant_b" / f"{file}.py").read_text()
        (folder / "alice" / f"{file}.ipynb").write_bytes(colab(code, f"{file}.ipynb"))
    for png in config.PNG_FILES.values():
        shutil.copy(ROOT / "solutions" / png, folder / "alice" / png)
    shutil.copytree(ROOT / "student", folder / "bob", ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    (folder / "carol").mkdir()
    shutil.copy(ROOT / "solutions" / "numpy_ann.py", folder / "carol" / "numpy_ann.py")
    for mistake in MISTAKES:
        if mistake.name in MISTAKEN:
            apply(mistake, folder / "carol")
    (folder / "carol" / "pytorch_ann.ipynb").write_text('{"nbformat": 4, "cells": [')  # cut short
    (folder / "erin").mkdir()
    grades = tmp_path_factory.mktemp("grades")
    started = time.monotonic()
    done = make_grade_all(folder, grades)
    return folder, grades, done.stdout, time.monotonic() - started


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("download") / "assignment_42_export"
    folder.mkdir()
    (folder / "submission_metadata.yml").write_text(METADATA)
    shutil.copytree(ROOT / "student", folder / "submission_1001" / "Fashion MNIST",
                    ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    (folder / "submission_1003").mkdir()
    (folder / "submission_1003" / "pytorch_ann.py").write_text("import os\n\nos._exit(3)\n")
    (folder / "submission_1004").mkdir()
    (folder / "submission_1004" / "numpy_ann.py").write_text("while True:\n    pass\n")
    grades = tmp_path_factory.mktemp("grades")
    # Calls may take long, so that only grade-all's own timeout can stop the hanging submission.
    env = {"GRADE_TIMEOUT": "20", "GRADER_CALL_BUDGET": "600"}
    done = make_grade_all(folder.parent, grades, env=env)
    return folder, grades, done.stdout, env


def test_every_student_has_a_row_with_every_test_the_total_and_the_accuracies(plain_class):
    _, grades, _, _ = plain_class
    rows = read_csv(grades)
    assert set(rows) == {"alice", "bob", "carol", "erin"}
    header = list(rows["alice"])
    assert header[:7] == ["student", "email", "sid", "submission", "status", "reason", "total"]
    assert header[10:] == [column(name) for name in batch_report.TESTS] and len(header[10:]) == len(config.POINTS)
    alice = rows["alice"]
    assert alice["status"] == "graded" and alice["total"] == "100", alice
    for file, name in batch_report.ACCURACIES.items():
        assert float(alice[f"{name} (%)"]) >= 100 * config.THRESHOLDS[file]
    assert rows["bob"]["status"] == "graded" and rows["bob"]["total"] == "0"
    carol = rows["carol"]
    lost = {name for name in config.POINTS if carol[column(name)] == "0"}
    targets = {name for m in MISTAKES if m.name in MISTAKEN for name in m.targets}
    assert lost == targets | {name for name in config.POINTS if not name.startswith("numpy_ann.")}
    assert float(carol["NumPy ANN accuracy (%)"]) >= 100 * config.THRESHOLDS["numpy_ann"]
    assert carol["PyTorch CNN accuracy (%)"] == ""
    assert rows["erin"]["status"] == "empty" and "nothing to grade" in rows["erin"]["reason"]
    assert rows["erin"]["total"] == "0" and rows["erin"][column(batch_report.TESTS[0])] == "0"


def test_each_student_has_a_valid_results_json(plain_class):
    _, grades, _, _ = plain_class
    for student in ("alice", "bob", "carol", "erin"):
        results = json.loads((grades / student / "results.json").read_text())
        assert problems(results) == []
        assert results["extra_data"]["grade_all"]["status"] in ("graded", "empty")
    assert not list(grades.rglob("*.tmp"))


def test_the_report_has_the_totals_the_pass_rates_the_failures_and_the_accuracies(plain_class):
    _, grades, stdout, _ = plain_class
    report = (grades / "report.md").read_text()
    rows = read_csv(grades)
    totals = [float(rows[s]["total"]) for s in rows]
    assert f"| 4 | {sum(totals) / 4:.1f} |" in report
    assert "| 90-100 | 1 | # |" in report and "| 0-9 | 2 | ## |" in report
    assert "| erin | empty | nothing to grade" in report
    rates = report.split("## Pass rate of every test, hardest first")[1].split("##")[0]
    percents = [int(line.rsplit("|", 2)[1].strip().rstrip("%")) for line in rates.splitlines()
                if line.startswith("| 1.") or line.startswith("| 2.") or line.startswith("| 3.")]
    assert len(percents) == len(config.POINTS) and percents == sorted(percents)
    assert "| 1.4 numpy_ann.relu_prime: zero at z == 0 | 1 | 1/3 | 33% |" in rates
    failures = report.split("## Most common failure messages")[1].split("##")[0]
    assert "is not implemented yet" in failures and failures.count("\n| ") == 2 + 15  # the header and 15 messages
    numpy_ann, cnn = (round(100 * config.THRESHOLDS[f]) for f in ("numpy_ann", "pytorch_cnn"))
    assert f"| NumPy ANN | {numpy_ann} | 2/3 | 2 |" in report and f"| PyTorch CNN | {cnn} | 1/3 | 1 |" in report
    png = (grades / "report.png").read_bytes()
    assert pngcheck.problem(png) is None
    assert "4/4" in stdout and "left" in stdout and "Wrote" in stdout


def test_a_notebook_export_is_graded_as_its_code_and_says_what_it_left_out(plain_class):
    _, grades, _, _ = plain_class
    results = json.loads((grades / "alice" / "results.json").read_text())
    assert results["score"] == 100
    lines = [line for line in results["output"].split("\n") if "not run while grading" in line]
    assert len(lines) == len(config.FILES)
    assert all("top-level call to fit" in line and "shell line !pip" in line for line in lines)


def test_a_bad_notebook_fails_its_file_and_every_pair_is_in_the_similarity_csv(plain_class):
    _, grades, stdout, _ = plain_class
    carol = json.loads((grades / "carol" / "results.json").read_text())
    skipped = "Skipped pytorch_ann.ipynb: it is not a notebook: it is not valid JSON"
    assert skipped in carol["output"]
    why = {plain(t) for t in carol["tests"] if t["name"].startswith("pytorch_ann.forward")}
    assert all("pytorch_ann.ipynb cannot be graded: it is not a notebook" in w for w in why), why
    with open(grades / "similarity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student_a", "student_b", "file", "similarity"]
    assert len(rows) == 3 + 1 + 1  # numpy_ann: alice, bob, carol; the PyTorch files: alice and bob
    with_stubs = [r for r in rows if "bob" in (r["student_a"], r["student_b"])]
    assert all(float(r["similarity"]) == 0 for r in with_stubs)  # the stubs are boilerplate
    report = (grades / "report.md").read_text()
    assert "## Code similarity" in report and "not that anyone copied" in report
    assert "similarity.csv" in stdout


@pytest.mark.slow
def test_a_second_run_skips_what_is_graded_and_grades_what_is_missing_or_changed(plain_class):
    folder, grades, _, _ = plain_class
    before = {s: (grades / s / "results.json").stat().st_mtime_ns for s in ("alice", "bob", "carol", "erin")}
    again = make_grade_all(folder, grades)
    assert "4 already graded there: skipped" in again.stdout and "Grading" not in again.stdout
    assert before == {s: (grades / s / "results.json").stat().st_mtime_ns for s in before}
    (grades / "bob" / "results.json").unlink()
    resumed = make_grade_all(folder, grades)
    assert "3 already graded there: skipped" in resumed.stdout and "Grading 1 submission(s)" in resumed.stdout
    assert read_csv(grades)["bob"]["total"] == "0"
    assert (grades / "alice" / "results.json").stat().st_mtime_ns == before["alice"]
    with open(folder / "carol" / "numpy_ann.py", "a") as f:
        f.write("# changed after grading\n")
    changed = make_grade_all(folder, grades)
    assert "3 already graded there: skipped" in changed.stdout and "carol: 46/100" in changed.stdout


def test_the_gradescope_export_gives_one_row_per_submitter(export):
    _, grades, stdout, _ = export
    rows = read_csv(grades)
    assert set(rows) == {"Ada Lovelace", "Charles Babbage", "Grace O'Hopper", "Hung Up", "Not There"}
    ada, charles = rows["Ada Lovelace"], rows["Charles Babbage"]
    assert ada["submission"] == charles["submission"] == "submission_1001"
    assert (ada["email"], ada["sid"], charles["sid"]) == ("ada@example.edu", "1001", "1002")
    assert ada["status"] == "graded" and ada["total"] == "0"
    assert "4 submission(s) in" in stdout and "assignment_42_export" in stdout


def test_a_crash_a_hang_and_a_missing_folder_each_get_their_row_with_the_reason(export):
    _, grades, _, env = export
    rows = read_csv(grades)
    crash = json.loads((grades / "submission_1003" / "results.json").read_text())
    assert rows["Grace O'Hopper"]["status"] == "graded"
    outputs = [plain(t) for t in crash["tests"] if t["name"].startswith("pytorch_ann.forward")]
    assert outputs and all("exited with status 3" in o for o in outputs), outputs
    hung = rows["Hung Up"]
    assert hung["status"] == "timeout" and f"longer than {env['GRADE_TIMEOUT']} s" in hung["reason"]
    assert hung["total"] == "0"
    assert rows["Not There"]["status"] == "empty" and "folder is missing" in rows["Not There"]["reason"]
    report = (grades / "report.md").read_text()
    assert "| submission_1004 | timeout |" in report and "| submission_1005 | empty |" in report
    assert leftover_processes() == [], "the hanging submission's processes outlived its grading"


def test_force_regrades_every_submission(export):
    folder, grades, _, env = export
    before = (grades / "submission_1001" / "results.json").stat().st_mtime_ns
    done = make_grade_all(folder, grades, force=True, env=env)
    assert "Grading 4 submission(s)" in done.stdout and "already graded" not in done.stdout
    assert (grades / "submission_1001" / "results.json").stat().st_mtime_ns > before


def test_bad_input_is_refused_with_a_clear_message(tmp_path, capsys):
    assert grade_all.main([str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert grade_all.main([]) == 2
    assert "SUBMISSIONS=<folder>" in capsys.readouterr().err
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "numpy_ann.py").write_text("")
    assert grade_all.main([str(tmp_path / "flat")]) == 2
    assert "one folder per student" in capsys.readouterr().err


def test_the_metadata_reader_takes_names_emails_and_ids(tmp_path):
    path = tmp_path / "submission_metadata.yml"
    path.write_text(METADATA)
    metadata = batch_submissions.read_metadata(path)
    assert list(metadata) == ["submission_1001", "submission_1003", "submission_1004", "submission_1005"]
    assert metadata["submission_1001"] == [
        {"name": "Ada Lovelace", "sid": "1001", "email": "ada@example.edu"},
        {"name": "Charles Babbage", "sid": "1002", "email": "charles@example.edu"}]
    assert metadata["submission_1003"] == [{"name": "Grace O'Hopper", "sid": "1003", "email": "grace@example.edu"}]


def test_the_output_folder_is_no_student_even_inside_the_class(tmp_path):
    for name in ("alice", "grades", ".git", "__MACOSX"):
        (tmp_path / name).mkdir()
    _, subs = batch_submissions.discover(tmp_path, tmp_path / "grades")
    assert [sub.key for sub in subs] == ["alice"]


def test_a_metadata_key_that_is_a_path_is_refused(tmp_path):
    (tmp_path / "submission_metadata.yml").write_text("../outside:\n  :submitters:\n  - :name: Eve\n")
    (tmp_path / "submission_1").mkdir()
    with pytest.raises(batch_submissions.InputError, match="no folder name"):
        batch_submissions.discover(tmp_path)


def test_a_metadata_file_that_is_not_yaml_is_refused_naming_it(tmp_path, capsys):
    (tmp_path / "submission_1").mkdir()
    for text, why in (("submission_1:\n\t:submitters: []\n", "not readable YAML at line 2"),
                      ("- submission_1\n", "not Gradescope's submission metadata")):
        (tmp_path / "submission_metadata.yml").write_text(text)
        assert grade_all.main([str(tmp_path)]) == 2
        assert f"{tmp_path / 'submission_metadata.yml'} is {why}" in capsys.readouterr().err


# ------------------------------------------------------------ private folders, sandbox users, planted symlinks

def submission(folder: Path, key: str) -> batch_submissions.Submission:
    (folder / key).mkdir(parents=True)
    (folder / key / "numpy_ann.py").write_text(f"# {key}\n")
    return batch_submissions.Submission(key, folder / key)


def as_nobody(*cmd: str) -> bool:
    """Whether `cmd` succeeds when run as the user nobody."""
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd],
                          capture_output=True).returncode == 0


def test_each_grading_has_its_own_private_results_folder_and_tmpdir(tmp_path, monkeypatch):
    nobody = pwd.getpwnam("nobody") if sandbox.is_root() else None
    other = pwd.struct_passwd(("grade-all-test-other", "x", 65533, 65533, "", "/", "/bin/false"))
    accounts = {"grade-all-test-a": nobody, "grade-all-test-b": other if nobody else None}
    monkeypatch.setattr(batch_accounts, "sandbox_account", accounts.get)
    stopped = []
    monkeypatch.setattr(sandbox, "stop_user", stopped.append)  # no real user's processes are touched
    shared = Path(tempfile.gettempdir())
    nobody_reaches_tmp = nobody is not None and as_nobody("test", "-x", str(shared))
    seen = []

    def run_suite(path, results, expected=None, timeout=None, env=None, **_):
        tmp = Path(env["TMPDIR"])
        seen.append({"results": results, "tmp": tmp, "user": env["GRADER_STUDENT_USER"],
                     "folder": results.parent.lstat(), "tmpdir": tmp.lstat(),
                     "nobody writes tmp": nobody_reaches_tmp and as_nobody("touch", str(tmp / "mine")),
                     "nobody enters results": nobody_reaches_tmp and as_nobody("touch", str(results.parent / "x"))})
        (tmp / "scratch").write_text("the grader's")
        results.write_text(json.dumps(error_results("graded by a stand-in")))
        return 0

    monkeypatch.setattr(batch_run.grade, "run_suite", run_suite)
    subs = [submission(tmp_path, "alice"), submission(tmp_path, "bob")]
    for sub, user in zip(subs, accounts, strict=True):
        got = batch_run.grade_one(sub, tmp_path, 60, 1, user)
        assert got["extra_data"]["grade_all"]["status"] == "graded"
        assert "stand-in" in plain(got["tests"][0])
    a, b = seen
    assert a["results"].parent != b["results"].parent and a["tmp"] != b["tmp"]  # its own folders...
    assert a["user"] != b["user"]  # ... and its own sandbox user
    for one in seen:
        folder, tmp = one["results"].parent, one["tmp"]
        # Fresh from mkdtemp: each folder is its own, not the shared temp folder, not one inside the other.
        assert shared not in (folder, tmp) and folder != tmp
        assert tmp not in folder.parents and folder not in tmp.parents and one["results"].name == "results.json"
        # Unpredictable names: nothing in them comes from the submission, the user or the process.
        for name in (folder.name, tmp.name):
            assert not any(known in name for known in ("alice", "bob", "grade-all-test", str(os.getpid())))
        assert stat.S_ISDIR(one["folder"].st_mode) and stat.S_IMODE(one["folder"].st_mode) == 0o700
        assert one["folder"].st_uid == os.geteuid()
        assert stat.S_ISDIR(one["tmpdir"].st_mode) and one["tmpdir"].st_uid == os.geteuid()
        assert stat.S_IMODE(one["tmpdir"].st_mode) & 0o007 == 0, oct(one["tmpdir"].st_mode)  # not world-writable
        assert not folder.exists() and not tmp.exists()  # removed afterwards
    assert len({a["results"].parent.name, b["results"].parent.name, a["tmp"].name, b["tmp"].name}) == 4
    assert stopped == ["grade-all-test-a", "grade-all-test-b"]  # each user's leftovers killed after its grading
    if nobody_reaches_tmp:  # as root: its TMPDIR is open to its own sandbox user alone, the results to nobody
        assert a["nobody writes tmp"] and not b["nobody writes tmp"]
        assert not a["nobody enters results"] and not b["nobody enters results"]
        assert a["tmpdir"].st_mode & stat.S_ISVTX  # sticky: the user cannot rename the grader's files


def test_concurrent_gradings_never_share_a_sandbox_user(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "is_root", lambda: False)  # no user is created
    monkeypatch.setattr(batch_run.expected, "ensure", lambda: tmp_path)
    busy, clash, lock = set(), [], threading.Lock()

    def grade_one(sub, expected_dir, timeout, threads, user):
        with lock:
            clash.extend([user] if user in busy else [])
            busy.add(user)
        time.sleep(0.05)
        with lock:
            busy.discard(user)
        return batch_run.finish(sub, error_results("stand-in"), "graded", "", time.monotonic())

    monkeypatch.setattr(batch_run, "grade_one", grade_one)
    subs = [submission(tmp_path / "class", f"s{i}") for i in range(9)]
    batch_run.grade_many(subs, tmp_path / "grades", 3, 60)
    assert clash == [] and all((tmp_path / "grades" / f"s{i}" / "results.json").is_file() for i in range(9))


def test_two_batches_never_claim_the_same_sandbox_user(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "is_root", lambda: True)
    monkeypatch.setattr(sandbox, "LOCKS", tmp_path)
    (tmp_path / f"autograder-batch-{sandbox.USER}-3.lock").symlink_to(tmp_path / "elsewhere")  # planted: skipped
    first = batch_accounts.claim_users(2)
    second = batch_accounts.claim_users(2)
    try:
        assert first == [f"{sandbox.USER}-1", f"{sandbox.USER}-2"]
        assert second == [f"{sandbox.USER}-4", f"{sandbox.USER}-5"] and not (tmp_path / "elsewhere").exists()
        batch_accounts.release(first)
        assert batch_accounts.claim_users(2) == first  # free again once the first batch ends
    finally:
        batch_accounts.release(first + second)


def test_a_planted_symlink_in_the_output_folder_is_not_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = {name: outside / name for name in ("results.json", "grades.csv", "report.md", "report.png")}
    for victim in victims.values():
        victim.write_text("not yours\n")
    out = tmp_path / "grades"
    (out / "alice").mkdir(parents=True)
    (out / "alice" / "results.json").symlink_to(victims["results.json"])
    (out / "bob").symlink_to(outside, target_is_directory=True)  # a whole folder elsewhere
    for name in ("grades.csv", "report.md", "report.png"):
        (out / name).symlink_to(victims[name])
    subs = [submission(tmp_path / "class", "alice"), submission(tmp_path / "class", "bob")]
    for sub in subs:
        batch_run.save_results(out, sub, batch_run.finish(sub, error_results("x"), "error", "x", time.monotonic()))
    graded = batch_report.write_reports(subs, out, tmp_path / "class")
    assert [sub.key for sub, _ in graded] == ["alice", "bob"]
    assert all(victim.read_text() == "not yours\n" for victim in victims.values())
    assert sorted(p.name for p in outside.iterdir()) == sorted(victims)
    assert not (out / "bob").is_symlink() and (out / "bob").is_dir()
    for path in (out / "alice" / "results.json", out / "bob" / "results.json", out / "grades.csv",
                 out / "report.md", out / "report.png"):
        assert not path.is_symlink() and path.is_file(), path
    assert set(read_csv(out)) == {"alice", "bob"} and pngcheck.problem((out / "report.png").read_bytes()) is None
    assert not list(out.rglob("*.tmp"))


def test_atomic_writes_use_an_unpredictable_temporary_file(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("not yours\n")
    path = tmp_path / "results.json"
    for name in (f".{path.name}.{os.getpid()}.tmp", f".{path.name}.tmp"):  # the names it used to write to
        (tmp_path / name).symlink_to(victim)
    path.symlink_to(victim)
    atomic.write_json_atomically(path, {"score": 1})
    assert victim.read_text() == "not yours\n" and json.loads(path.read_text()) == {"score": 1}
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o666 & ~atomic.umask()
    assert len(list(tmp_path.iterdir())) == 4  # no temporary file of its own left behind
