"""`make handout`: build dist/handout.zip, what students receive.

    python -m autograder.packaging.handout [dist/handout.zip]

At the top level of the zip: the three stubs of student/ (where `make
submission` looks for them), and each also as a notebook (`numpy_ann.ipynb`,
made from the .py by `notebook.stub_notebook`: the .py stay the source) for
students who work in Jupyter or Colab, utils.py, a student Makefile (`data`, `check`,
`submission`), environment.yml, requirements.txt and a README with the
assignment and its mathematics (templates in autograder/packaging/handout_files/).
Under autograder/: the modules that `make check` and the visible tests
import, the expected values of the visible tests (autograder/expected/), and
a copy of the stubs (autograder/stubs/*.stub), by which the grader tells an
untouched file from an edited one when both forms are there.

Nothing of solutions/, of the hidden tests (autograder/hidden/test_hidden.py,
their inputs and points in autograder/hidden/__init__.py) or of their expected values
goes in. The zip is written like the Gradescope
one (`gradescope.write_zip`): the same commit gives the same bytes.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from autograder import ROOT, hidden, packaging
from autograder.core import config
from autograder.harness import expected, notebook, sandbox
from autograder.packaging import gradescope

FILES = Path(__file__).resolve().parent / "handout_files"
HIDDEN = "autograder/hidden/"  # the hidden tests, their inputs and their points: the whole folder stays out
HIDDEN_TESTS = HIDDEN + "test_hidden.py"
# The expected values that only the hidden tests read (tests/test_handout.py checks this against test_hidden.py).
HIDDEN_CALLS = hidden.CALLS
EXPECTED_IN_ZIP = "autograder/expected"


def entry_points() -> list[str]:
    """What `make check` and `make submission` run: the grader, its plugin, conftest, the visible tests, the worker."""
    visible = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "autograder" / "suite").glob("test_*.py"))
    return ["autograder/grade.py", "autograder/packaging/submission.py", "autograder/suite/results.py",
            "autograder/suite/fixtures.py", *visible, *[p for p in sandbox.lib_files() if not p.startswith(HIDDEN)]]


def module_file(name: str) -> str | None:
    """autograder.x.y -> autograder/x/y.py (or its package __init__.py), if that is a file of this project."""
    parts = name.split(".")
    if parts[0] not in ("autograder", "utils"):
        return None
    for rel in ("/".join(parts) + ".py", "/".join(parts) + "/__init__.py"):
        if (ROOT / rel).is_file():
            return rel
    return None


def grading_files() -> list[str]:
    """The entry points and every project module they import, transitively, with the packages' __init__.py."""
    todo, found = entry_points(), set()
    while todo:
        rel = todo.pop()
        if rel in found or rel.startswith(HIDDEN):
            continue
        found.add(rel)
        for node in ast.walk(ast.parse((ROOT / rel).read_bytes(), rel)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            todo += [f for f in map(module_file, names) if f]
    packages = {str(Path(rel).parent / "__init__.py") for rel in found if rel.startswith("autograder/")}
    return sorted(found | {p for p in packages if (ROOT / p).is_file()}) + ["autograder/suite/pytest.ini"]


def expected_members(expected_dir: Path) -> list[tuple[str, bytes, int]]:
    """The expected values of every call but HIDDEN_CALLS: their log lines and .npz files."""
    members = []
    for file in expected.FILES:
        folder = expected_dir / file
        lines = [line for line in (folder / "log.jsonl").read_text().splitlines()
                 if line.strip() and json.loads(line)["call"] not in HIDDEN_CALLS]
        members.append((f"{EXPECTED_IN_ZIP}/{file}/log.jsonl", "".join(f"{line}\n" for line in lines).encode(), 0o644))
        for path in sorted(folder.glob("*.npz")):
            if path.stem not in HIDDEN_CALLS:
                members.append((f"{EXPECTED_IN_ZIP}/{file}/{path.name}", path.read_bytes(), 0o644))
    return members


def readme() -> str:
    """The student README, with the thresholds and points of config filled in."""

    def points(file: str = "", visible: bool = True) -> float:
        return sum(p for name, (_, p, v) in config.POINTS.items() if (v == "visible") == visible
                   and name.startswith(file))

    values = {"VISIBLE_POINTS": points(), "HIDDEN_POINTS": config.HIDDEN_POINTS}
    for file in config.FILES:
        values[f"THRESHOLD_{file}"] = round(100 * config.THRESHOLDS[file])
        values[f"POINTS_{file}"] = points(file + ".")
    text = (FILES / "README.md").read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", f"{value:g}")
    return text


STUDENT_REQUIREMENTS = """\
# The packages the grader uses, at its versions: `make check` installs them into .venv (torch and
# torchvision as CPU builds where PyTorch's CPU index serves your platform; see the Makefile), or
# `pip install -r requirements.txt` into an environment of your own. environment.yml pins the same.
"""


def requirements() -> str:
    """The student's requirements.txt: the project's pins alone, without its comments, which
    speak of files and targets the handout does not hold (the benchmark, Gradescope's setup.sh)."""
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    return STUDENT_REQUIREMENTS + "".join(f"{line}\n" for line in pins)


def zip_members(expected_dir: Path) -> list[tuple[str, bytes, int]]:
    """(name in the zip, content, mode) for everything the handout holds."""
    top = [(f"{file}.py", (ROOT / "student" / f"{file}.py").read_bytes()) for file in config.FILES]
    top += [(f"{file}.ipynb", notebook.stub_notebook(file).encode()) for file in config.FILES]
    top += [(notebook.STUB_PLACES[1].format(file), (ROOT / "student" / f"{file}.py").read_bytes())
            for file in config.FILES]
    top += [("Makefile", (FILES / "Makefile").read_bytes()), ("README.md", readme().encode()),
            ("requirements.txt", requirements().encode())]
    top += [(name, (ROOT / name).read_bytes()) for name in ("utils.py", "environment.yml")]
    members = [(name, data, 0o644) for name, data in top]
    members += [(rel, (ROOT / rel).read_bytes(), 0o644) for rel in grading_files() if rel != "utils.py"]
    return sorted(members + expected_members(expected_dir))


def build(out: Path) -> Path:
    """Write the handout zip to `out`, byte-for-byte reproducibly."""
    return gradescope.write_zip(out, zip_members(expected.ensure()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "dist" / "handout.zip")
    args = parser.parse_args(argv)
    packaging.show(build(args.out), "Give it to the students: unzipped, `make check` grades their three files "
                   "with the visible tests.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
