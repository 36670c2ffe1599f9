"""Find the expected files in a submission folder, as Gradescope or a student delivers it.

The files may sit at the top of the folder or inside one sub-folder (a zipped
folder), and their names may differ in capitalisation (`NumPy_ANN.py`). Only
the expected names are ever taken; everything else in the folder is ignored.
"""

from __future__ import annotations

from pathlib import Path

from autograder import config

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = [f"{f}.py" for f in config.FILES] + list(config.PNG_FILES.values())


def find_files(submission: Path) -> dict[str, Path]:
    """Map each expected file name to where it is in `submission` (absent names are left out)."""
    submission = Path(submission)
    if not submission.is_dir():
        return {}
    candidates = [p for p in submission.iterdir() if p.is_file()]
    folders = [p for p in submission.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(folders) == 1:
        candidates += [p for p in folders[0].iterdir() if p.is_file()]
    found = {}
    for name in EXPECTED:
        matches = [p for p in candidates if p.name == name] or [p for p in candidates if p.name.lower() == name.lower()]
        if matches:
            found[name] = matches[0]
    return found


def shallow_files(submission: Path) -> list[Path]:
    """The files at the top of `submission` and one folder down, where find_files looks.

    Hidden folders (.venv, .git) and __pycache__ are skipped: a student's
    working folder (the handout, graded by `make check`) holds a virtual
    environment of tens of thousands of files.
    """
    def visible(p: Path) -> bool:
        return not p.name.startswith((".", "__"))

    top = sorted(p for p in submission.iterdir() if visible(p))
    return [p for p in top if p.is_file()] + [q for d in top if d.is_dir() and not d.is_symlink()
                                               for q in sorted(d.iterdir()) if q.is_file() and visible(q)]


def is_graders_own(path: Path, submission: Path) -> bool:
    """True for a copy of one of the grader's own files at the same place (the handout's utils.py, autograder/)."""
    own = ROOT / path.relative_to(submission)
    try:
        return own.is_file() and own.stat().st_size == path.stat().st_size and own.read_bytes() == path.read_bytes()
    except OSError:
        return False


def listing(submission: Path, limit: int = 12) -> str:
    """A short description of what the submission folder holds, for error messages."""
    submission = Path(submission)
    if not submission.is_dir():
        return f"{submission} does not exist"
    names = [str(p.relative_to(submission)) for p in shallow_files(submission)]
    if not names:
        return f"{submission} is empty"
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"it holds {shown}"


# Names that would be imported ahead of the real modules, or change how the tests run, if they were used.
DANGEROUS = {"conftest.py", "pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml", "sitecustomize.py",
             "usercustomize.py", "utils.py", "numpy.py", "torch.py", "matplotlib.py", "pytest.py", "autograder.py"}


def notes(submission: Path) -> list[str]:
    """One line for each file of the submission that is ignored although it could matter."""
    submission = Path(submission)
    if not submission.is_dir():
        return [f"The submission folder {submission} does not exist."]
    taken = set(find_files(submission).values())
    out = []
    for path in shallow_files(submission):
        if path in taken or is_graders_own(path, submission):
            continue
        if path.name in DANGEROUS or path.suffix == ".pth" or path.name.lower() in {e.lower() for e in EXPECTED}:
            out.append(f"Ignored {path.relative_to(submission)}: only {', '.join(EXPECTED)} are graded "
                       "(the grader's own utils.py is used).")
    return out
