"""Find the expected files in a submission folder, as Gradescope or a student delivers it, and copy them safely.

The files may sit at the top of the folder or inside one sub-folder (a zipped
folder), and their names may differ in capitalisation (`NumPy_ANN.py`). Only
the expected names are ever taken; everything else in the folder is ignored.
A file may come as a notebook instead (`numpy_ann.ipynb`, NOTEBOOKS): `snapshot`
takes the code that `notebook` extracts from it, by parsing alone, as that
file's .py, or the .py when both were edited.

The folder is written by the student and read by the grader, as root on
Gradescope. A name there may be a symbolic link to a file only root may read
(or to /proc/self/pagemap), a hard link to one, a FIFO that blocks its
reader, a 1 GB sparse file, or a name that is not valid UTF-8. So no link is
ever followed (neither a file's nor a folder's), a file is opened without
blocking and checked on its open descriptor (a regular file with one name,
under a size cap), at most the cap is read, and `snapshot` copies what passes
into a folder of the grader's own before anything else reads the
submission. Names reach messages through `shown`, which never fails.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autograder import ROOT
from autograder.core import config
from autograder.harness import notebook

EXPECTED = [f"{f}.py" for f in config.FILES] + list(config.PNG_FILES.values())
NOTEBOOKS = [f"{f}.ipynb" for f in config.FILES]  # each in place of its .py, or beside it
GRADED_NAMES = {name.lower() for name in EXPECTED + NOTEBOOKS}

MAX_PY_BYTES = 1_000_000  # a .py file of the assignment is a few kB
MAX_PNG_BYTES = 5_000_000  # a learning-curve plot is well under 1 MB
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # no link followed, no FIFO waited on
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def limit(name: str) -> int:
    """The most bytes a submitted file of this name may have."""
    lower = name.lower()
    if lower.endswith(".png"):
        return MAX_PNG_BYTES
    return notebook.MAX_NOTEBOOK_BYTES if lower.endswith(".ipynb") else MAX_PY_BYTES


def shown(name) -> str:
    """A file name or path as it can be printed or written to JSON: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def refusal(st: os.stat_result, cap: int) -> str | None:
    """None if a file of this status may be graded (a regular file with one name, at most `cap` bytes); else why not."""
    mode = st.st_mode
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else None if stat.S_ISREG(mode) else "not a regular file")
    if kind is not None:
        return f"it is {kind}; only regular files are graded"
    if st.st_nlink != 1:
        return f"it is a hard link (one of {st.st_nlink} names of one file); only files with a single name are graded"
    if st.st_size > cap:
        return f"it is {st.st_size:,} bytes, over the limit of {cap // 1_000_000} MB for this file"
    return None


def open_nofollow(path: Path, base: Path | None = None) -> int:
    """A descriptor of `path`, opened with OPEN_FLAGS; below `base`, no folder on the way may be a link either."""
    path = Path(path)
    if base is None:
        return os.open(path, OPEN_FLAGS)
    parts = path.relative_to(base).parts
    folder = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the grader names base: it may be a link
    try:
        for part in parts[:-1]:
            inner = os.open(part, FOLDER_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], OPEN_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)


def read_regular(path: Path, cap: int, base: Path | None = None) -> tuple[bytes | None, str | None]:
    """(the bytes of `path`, None) if `refusal` accepts it, else (None, why not).

    No symbolic link is followed: not `path`, nor a folder between `base` and
    it. The file is opened without blocking and checked on its descriptor (it
    cannot be swapped after the check), and at most cap + 1 bytes are read.
    """
    try:
        fd = open_nofollow(path, base)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            return None, "it is a symbolic link, or in a linked folder; only regular files are graded"
        return None, f"it cannot be opened ({e.strerror})"
    try:
        why = refusal(os.fstat(fd), cap)
        if why is not None:
            return None, why
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            return None, f"it is over the limit of {cap // 1_000_000} MB for this file"
        return b"".join(chunks), None
    except OSError as e:
        return None, f"it cannot be read ({e.strerror})"
    finally:
        os.close(fd)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _is_folder(path: Path) -> bool:
    """A real folder, not a link to one."""
    st = _lstat(path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "__"))


def _entries(folder: Path, follow: bool = False) -> list[Path]:
    """Everything in `folder`, of any type and any name (bytes that are not UTF-8 survive as surrogates), sorted.

    Listed through a descriptor opened without following a link (unless `follow`: the submission folder itself,
    which the grader names): a folder swapped for a link after it was looked at lists nothing.
    """
    try:
        fd = os.open(folder, (FOLDER_FLAGS & ~os.O_NOFOLLOW) if follow else FOLDER_FLAGS)
    except OSError:
        return []
    try:
        return [folder / name for name in sorted(os.listdir(fd))]
    except OSError:
        return []
    finally:
        os.close(fd)


def examine(submission: Path) -> dict[str, tuple[Path, str | None]]:
    """Each expected name found in `submission` -> (where, None), or (where, why it is not graded).

    Looks at the top and in the one visible sub-folder if there is exactly
    one real folder (a linked folder is not looked into); an exact name first,
    then any capitalisation. Only lstat is used: nothing is opened or read.
    """
    submission = Path(submission)
    if not submission.is_dir():
        return {}
    top = _entries(submission, follow=True)
    candidates = list(top)
    folders = [p for p in top if _visible(p) and _is_folder(p)]
    if len(folders) == 1:
        candidates += _entries(folders[0])
    found = {}
    for name in EXPECTED + NOTEBOOKS:
        matches = [p for p in candidates if p.name == name] or [p for p in candidates if p.name.lower() == name.lower()]
        if matches:
            st = _lstat(matches[0])
            found[name] = (matches[0], refusal(st, limit(name)) if st else "it vanished while it was looked at")
    return found


def find_files(submission: Path) -> dict[str, Path]:
    """Map each expected file name to where it is in `submission` (absent names, and refused files, are left out)."""
    return {name: path for name, (path, why) in examine(submission).items() if why is None}


@dataclass
class Snapshot:
    """What `snapshot` took: the grader's copies, and what it skipped and why."""
    files: dict[str, Path] = field(default_factory=dict)  # expected name -> the grader's own copy
    skipped: dict[str, str] = field(default_factory=dict)  # expected name -> why it was not taken
    notes: list[str] = field(default_factory=list)  # one line per skipped file, for results.NOTES


def take(submission: Path) -> tuple[Snapshot, dict[str, bytes]]:
    """What grading takes: (what was skipped and noted, expected name -> the bytes graded).

    Each file is read safely (`read_regular`); a notebook's code, chosen by
    `notebook.choose`, stands for its .py. Nothing is written: `snapshot` writes
    the copies, `similarity` reads the bytes.
    """
    taken, read = Snapshot(), {}
    for name, (path, why) in examine(submission).items():
        data = None
        if why is None:
            data, why = read_regular(path, limit(name), base=submission)
        if why is not None:
            taken.skipped[name] = why
            taken.notes.append(f"Skipped {shown(path.relative_to(submission))}: {why}.")
            continue
        read[name] = data
    for file in config.FILES:
        py, ipynb = f"{file}.py", f"{file}.ipynb"
        if ipynb in read:
            choice = notebook.choose(file, read.get(py), read.pop(ipynb))
            taken.notes += choice.notes
            read.pop(py, None)
            if choice.code is not None:
                read[py] = choice.code
            else:
                taken.skipped[py] = choice.why
        elif ipynb in taken.skipped and py not in read:
            taken.skipped[py] = f"{ipynb} was skipped: {taken.skipped[ipynb]}"
    return taken, read


def snapshot(submission: Path, into: Path) -> Snapshot:
    """Copy each expected file of `submission` that may be graded into `into` (0700, files 0600); note the others.

    Run before anything else reads the submission: from then on the grader
    reads its own regular files only. A skipped file counts as missing. A
    notebook is never copied: the code chosen for FILE.py (`notebook.choose`)
    is written there in its place.
    """
    submission, into = Path(submission), Path(into)
    if _is_folder(into):  # a copy left by an earlier run with the same --work
        shutil.rmtree(into)
    elif into.is_symlink() or into.exists():
        into.unlink()
    into.mkdir(mode=0o700, parents=True)
    into.chmod(0o700)
    taken, read = take(submission)
    for name, data in read.items():
        copy = into / name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as f:
            f.write(data)
        taken.files[name] = copy
    return taken


def shallow_files(submission: Path) -> list[Path]:
    """What is at the top of `submission` and one real folder down, where examine looks; folders left out.

    Links, FIFOs and the like are listed (they are never followed or read).
    Hidden folders (.venv, .git) and __pycache__ are skipped: a student's
    working folder (the handout, graded by `make check`) holds a virtual
    environment of tens of thousands of files.
    """
    top = [p for p in _entries(Path(submission), follow=True) if _visible(p)]
    return [p for p in top if not _is_folder(p)] + [q for d in top if _is_folder(d)
                                                    for q in _entries(d) if _visible(q) and not _is_folder(q)]


def is_graders_own(path: Path, submission: Path) -> bool:
    """True for a copy of one of the grader's own files at the same place (the handout's utils.py, autograder/)."""
    own = ROOT / path.relative_to(submission)
    st = _lstat(path)
    try:
        if not own.is_file() or st is None or own.stat().st_size != st.st_size:
            return False
        mine = own.read_bytes()
    except OSError:
        return False
    theirs, _ = read_regular(path, len(mine), base=submission)
    return theirs == mine


def _remark(path: Path) -> str:
    """' (skipped: why)' for a file that looks expected but is refused, or that is not a regular file; else ''."""
    st = _lstat(path)
    if st is None:
        return ""
    why = refusal(st, limit(path.name))
    if why is None or (stat.S_ISREG(st.st_mode) and path.name.lower() not in GRADED_NAMES):
        return ""
    return f" (skipped: {why.split(';')[0]})"


def listing(submission: Path, limit: int = 12) -> str:
    """A short description of what the submission folder holds, for error messages."""
    submission = Path(submission)
    if not submission.is_dir():
        return f"{shown(submission)} does not exist"
    names = [shown(p.relative_to(submission)) + _remark(p) for p in shallow_files(submission)]
    if not names:
        return f"{shown(submission)} is empty"
    shown_names = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"it holds {shown_names}"


# Names that would be imported ahead of the real modules, or change how the tests run, if they were used.
DANGEROUS = {"conftest.py", "pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml", "sitecustomize.py",
             "usercustomize.py", "utils.py", "numpy.py", "torch.py", "matplotlib.py", "pytest.py", "autograder.py"}


def renamed(submission: Path) -> list[str]:
    """One line for each expected file taken under another capitalisation of its name."""
    return [f"Took {shown(path.relative_to(submission))} as {name}: the grader matches names "
            "whatever their capitalisation, Gradescope's copy of the course may not; rename it "
            f"{name}." for name, (path, why) in examine(submission).items()
            if why is None and path.name != name]


def stale_pngs(submission: Path) -> list[str]:
    """One line for each learning-curve PNG older than the .py file that draws it: it may be
    stale, a plot of an earlier model."""
    found, out = find_files(submission), []
    for file, png in config.PNG_FILES.items():
        source, image = found.get(f"{file}.py"), found.get(png)
        if source is None or image is None:
            continue
        source_st, image_st = _lstat(source), _lstat(image)
        if source_st and image_st and image_st.st_mtime < source_st.st_mtime:
            out.append(f"{png} is older than {file}.py, so it may be stale (drawn by an earlier "
                       f"version of your code): run `make run FILE={file}.py` again to draw your "
                       "current model.")
    return out


# Folders never a student's: not looked into for misplaced files.
NOT_A_SUBMISSION = {"autograder", "data", "build", "dist", "node_modules", "venv", "env"}


def misplaced(submission: Path, depth: int = 3) -> str | None:
    """One sentence when .py files missing where the grader looks lie in a deeper sub-folder.

    The grader looks at the top and in the only sub-folder (examine): in the handout, which
    also holds autograder/ and data/, a folder of the student's own is not looked into.
    """
    submission = Path(submission)
    if not submission.is_dir():
        return None
    found = examine(submission)
    wanted = {name.lower() for name in EXPECTED if name.endswith(".py") and name not in found}
    if not wanted:
        return None
    todo = [(submission, 0)]
    while todo:
        folder, level = todo.pop(0)
        entries = _entries(folder, follow=folder == submission)
        if level and any(p.name.lower() in wanted for p in entries if not _is_folder(p)):
            inside = ", ".join(sorted(shown(p.name) for p in entries if p.name.lower() in wanted))
            where = shown(folder.relative_to(submission))
            return (f"{inside} lie in the sub-folder {where}/, where the grader does not look: "
                    "move them to the top of the submission folder (in the handout, beside the "
                    "Makefile), with the two PNGs.")
        if level < depth:
            todo += [(p, level + 1) for p in entries
                     if _visible(p) and _is_folder(p) and p.name.lower() not in NOT_A_SUBMISSION]
    return None


def notes(submission: Path) -> list[str]:
    """One line for each file of the submission that is ignored although it could matter, or
    taken with a remark: under another capitalisation of its name, a PNG older than its code;
    one for files in a sub-folder where the grader does not look.

    The expected files that are found but refused are noted by `snapshot`.
    """
    submission = Path(submission)
    if not submission.is_dir():
        return [f"The submission folder {shown(submission)} does not exist."]
    taken = {path for path, _ in examine(submission).values()}
    elsewhere = misplaced(submission)
    out = [*filter(None, [elsewhere]), *renamed(submission), *stale_pngs(submission)]
    for path in shallow_files(submission):
        if path in taken or (elsewhere and path.parent != submission and path.name.lower() in
                             {e.lower() for e in EXPECTED}):  # said once, by `misplaced`
            continue
        if path.is_symlink():
            out.append(f"Skipped {shown(path.relative_to(submission))}: it is a symbolic link, which the grader does "
                       "not follow; only regular files and folders are graded.")
        elif is_graders_own(path, submission):
            continue
        elif path.name in DANGEROUS or path.suffix == ".pth" or path.name.lower() in GRADED_NAMES:
            out.append(f"Ignored {shown(path.relative_to(submission))}: only {', '.join(EXPECTED)} "
                       f"(or {', '.join(NOTEBOOKS)} in place of a .py) are graded "
                       "(the grader's own utils.py is used).")
    return out
