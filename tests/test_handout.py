"""`make handout`: dist/handout.zip holds what a student needs, nothing of the solutions or the hidden tests, and
`make check` works in it once unzipped."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

import utils
from autograder.core import config
from autograder.harness import notebook
from autograder.packaging import handout
from tests.conftest import ROOT

STUBS = [f"{file}.py" for file in config.FILES]
# Other graders on this machine kill grader-student's processes when they finish: these runs get their own user.
ENV = dict(os.environ, FASHION_MNIST_DIR=str(utils.RAW_DIR), GRADER_STUDENT_USER="grader-student-handout",
           GRADER_TRAIN_DEADLINE="1500")


@pytest.fixture(scope="module")
def handout_zip(tmp_path_factory):
    return handout.build(tmp_path_factory.mktemp("dist") / "handout.zip")


@pytest.fixture(scope="module")
def texts(handout_zip) -> dict[str, str]:
    with zipfile.ZipFile(handout_zip) as zf:
        return {name: zf.read(name).decode(errors="replace") for name in zf.namelist()}


@pytest.fixture(scope="module")
def unzipped(handout_zip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("handout")
    assert not list(folder.iterdir())
    with zipfile.ZipFile(handout_zip) as zf:
        zf.extractall(folder)
    return folder


def make(folder: Path, *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *targets, f"PY={sys.executable}"], cwd=folder, env=ENV, capture_output=True,
                          text=True, timeout=900)


def test_the_stubs_sit_at_the_top_with_what_students_need(texts):
    for name in [*STUBS, "utils.py", "Makefile", "README.md", "environment.yml", "requirements.txt",
                 "autograder/grade.py", "autograder/packaging/submission.py", "autograder/suite/pytest.ini",
                 "autograder/suite/test_numpy_ann.py", "autograder/suite/test_pytorch_cnn.py",
                 "autograder/expected/numpy_ann/log.jsonl"]:
        assert name in texts, f"{name} is missing from the handout"
    for name in STUBS:
        assert texts[name] == (ROOT / "student" / name).read_text()
    notebooks = {name.replace(".py", ".ipynb") for name in STUBS}
    assert {n.split("/")[0] for n in texts} == {*STUBS, *notebooks, "utils.py", "Makefile",
                                                 "README.md", "environment.yml", "requirements.txt",
                                                 "autograder"}
    for name in STUBS:
        assert texts[f"autograder/stubs/{name[:-3]}.stub"] == texts[name]


def test_the_stubs_ship_as_notebooks_made_from_the_py_stubs(texts):
    for name in STUBS:
        document = nbformat.reads(texts[name.replace(".py", ".ipynb")], as_version=4)
        nbformat.validate(document)
        assert notebook.is_stub_notebook(name[:-3], document)
    assert "notebook" in texts["README.md"] and ".ipynb" in texts["README.md"]


def test_the_student_makefile_has_data_check_and_submission(texts):
    makefile = texts["Makefile"]
    for target in ("data:", "check:", "submission:"):
        assert f"\n{target}" in makefile
    assert "autograder.grade . --visible-only --expected autograder/expected" in makefile


def test_the_readme_has_the_assignment_and_its_mathematics(texts):
    readme = texts["README.md"]
    for phrase in ("numpy_ann.py", "pytorch_cnn.py", "make check", "make submission", "ReLU and its derivative",
                   "Cross-entropy", "Forward pass", "Backpropagation", "gradient-descent update",
                   r"\mathrm{relu}'(z)", r"\frac{1}{n}\,(P - Y)", r"W_1 \leftarrow W_1 - \eta\, dW_1"):
        assert phrase in readme, f"the README lacks {phrase!r}"
    for file in config.FILES:
        assert f"{round(100 * config.THRESHOLDS[file])} %" in readme
    assert not re.search(r"@\w+@", readme), "a placeholder was left unfilled"


def test_nothing_of_the_solutions_or_the_hidden_tests(texts):
    assert not [n for n in texts if n.startswith(("solutions/", "student/")) or "hidden" in n]
    assert not [n for n in texts if n.startswith("autograder/") and Path(n).name in STUBS]
    hidden = ast.parse((ROOT / handout.HIDDEN_TESTS).read_text())
    hidden_tests = [node.name for node in ast.walk(hidden) if isinstance(node, ast.FunctionDef)]
    assert hidden_tests and not [t for t in hidden_tests if any(t in text for text in texts.values())]
    logged = [json.loads(line)["call"] for line in texts["autograder/expected/numpy_ann/log.jsonl"].splitlines()]
    assert "forward" in logged and not set(logged) & set(handout.HIDDEN_CALLS)
    assert not [n for n in texts if Path(n).stem in handout.HIDDEN_CALLS]


def test_nothing_of_the_hidden_tests_inputs_names_or_calls(texts):
    """Not the hidden tests' names (config.POINTS there has only visible rows), inputs or probe names."""
    from autograder import hidden

    names = [row.name for rows in hidden.ROWS.values() for row in rows]
    secrets = [*names, *hidden.CALLS, "TEXTBOOK_HISTORIES",
               repr(hidden.OTHER), *(repr(h["train_loss"]) for h in hidden.TEXTBOOK_HISTORIES.values())]
    found = {(secret, name) for secret in secrets for name, text in texts.items() if secret in text}
    assert not found


def test_no_line_of_reference_code_that_the_stubs_lack(texts):
    """Every line of solutions/*.py with a letter or digit in it is either in a stub or nowhere in the handout."""
    def lines(text):
        return {line.strip() for line in text.splitlines() if any(c.isalnum() for c in line)}

    stubs = set().union(*(lines((ROOT / "student" / name).read_text()) for name in STUBS))
    secret = set().union(*(lines(path.read_text()) for path in (ROOT / "solutions").glob("*.py"))) - stubs
    shipped = set().union(*(lines(text) for text in texts.values()))
    assert len(secret) > 50
    assert not sorted(secret & shipped)


def test_the_hidden_calls_are_those_only_the_hidden_tests_read(expected_dir):
    """HIDDEN_CALLS: the probes' calls named in test_hidden.py and in no visible test module."""
    def strings(path):
        return {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                and isinstance(n.value, str)}

    def yielded(path):  # the names of the probes: `yield "name", probe`
        return {n.value.elts[0].value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Yield)
                and isinstance(n.value, ast.Tuple) and isinstance(n.value.elts[0], ast.Constant)}

    calls = {json.loads(line)["call"] for line in (expected_dir / "numpy_ann" / "log.jsonl").read_text().splitlines()}
    probed = yielded(ROOT / "autograder" / "runtime" / "probes.py") | yielded(ROOT / "autograder" / "hidden" / "__init__.py")
    assert calls - {"import"} <= probed
    calls |= probed
    visible = set().union(*(strings(p) for p in (ROOT / "autograder" / "suite").glob("*.py")))
    assert (strings(ROOT / handout.HIDDEN_TESTS) & calls) - visible == set(handout.HIDDEN_CALLS)


def test_building_twice_gives_identical_bytes(handout_zip, tmp_path):
    assert handout.build(tmp_path / "again.zip").read_bytes() == handout_zip.read_bytes()


@pytest.mark.slow
def test_make_check_works_in_the_unzipped_handout(unzipped):
    done = make(unzipped, "check")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    visible = {name for name, (_, _, vis) in config.POINTS.items() if vis == "visible"}
    top = sum(config.POINTS[n][1] for n in visible)
    assert f"Score: 0/{top:g}" in done.stdout and "FAIL" in done.stdout and "numpy_ann.relu" in done.stdout
    results = json.loads((unzipped / "results.json").read_text())
    assert {t["name"] for t in results["tests"]} == visible


@pytest.mark.slow
def test_the_reference_passes_every_visible_numpy_test_with_the_handout_expected_values(unzipped, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(unzipped, folder, ignore=shutil.ignore_patterns("data", "results.json"))
    (folder / "data").symlink_to(unzipped / "data")
    shutil.copy(ROOT / "solutions" / "numpy_ann.py", folder / "numpy_ann.py")
    done = subprocess.run([sys.executable, "-m", "autograder.grade", ".", "--visible-only", "--expected",
                           "autograder/expected", "--only", "numpy_ann", "--results", "r.json"], cwd=folder, env=ENV,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((folder / "r.json").read_text())
    assert [t["name"] for t in results["tests"] if t["status"] != "passed"] == []
    assert len(results["tests"]) == sum(n.startswith("numpy_ann.") and v == "visible"
                                        for n, (_, _, v) in config.POINTS.items())


def test_make_submission_works_in_the_unzipped_handout(unzipped, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(unzipped, folder, ignore=shutil.ignore_patterns("data"))
    for path in (ROOT / "solutions").glob("*.png"):
        shutil.copy(path, folder / path.name)
    done = make(folder, "submission")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(zipfile.ZipFile(folder / "submission.zip").namelist()) == sorted(
        [*STUBS, *config.PNG_FILES.values()])
