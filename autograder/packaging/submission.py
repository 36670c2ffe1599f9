"""`make submission`: zip the student's files for Gradescope into submission.zip.

    python -m autograder.packaging.submission [FOLDER] [--out submission.zip]

Takes exactly the three files of code and the two learning-curve PNGs from
FOLDER (student/ in the course repository, the current folder in the handout),
found as the grader finds them (`intake.find_files`: any capitalisation, at the
top or in one sub-folder), and stores them under their expected names. Each
file of code is the .py or the notebook (.ipynb), whichever the student edited,
as the grader would choose (`notebook.choose`: the .py when both were edited). Refuses,
naming what is missing and what it may have meant, when a file is absent, and
then removes an older zip, so that it cannot be uploaded by mistake; warns
when a PNG is older than the .py file that draws it (it may show an earlier
model). Refuses, in the same way, a file the grader would skip (`intake.refusal`):
a symbolic link, a hard link, a FIFO, or a file over the size limit
(intake.MAX_PY_BYTES, intake.MAX_PNG_BYTES).
"""

from __future__ import annotations

import argparse
import difflib
import sys
import zipfile
from pathlib import Path

from autograder.core import config
from autograder.core.atomic import replacing
from autograder.harness import intake, notebook


def submission_files() -> list[str]:
    return [f"{f}.py" for f in config.FILES] + list(config.PNG_FILES.values())


def sources(folder: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(FILE -> the name zipped for it, FILE.py or FILE.ipynb; broken notebook -> why; notes)."""
    found = intake.find_files(folder)
    chosen, broken, notes = {}, {}, []
    for file in config.FILES:
        py, ipynb = f"{file}.py", f"{file}.ipynb"
        if ipynb not in found:
            if py in found:
                chosen[file] = py
            continue
        data = {name: intake.read_regular(found[name], intake.limit(name), base=folder)[0]
                for name in (py, ipynb) if name in found}
        choice = notebook.choose(file, data.get(py), data.get(ipynb))
        notes += [line for line in choice.notes if line.startswith(("Both", "Ignored"))]
        if choice.code is None:
            broken[ipynb] = f"{intake.shown(found[ipynb].relative_to(folder))}: {choice.why}"
        else:
            chosen[file] = ipynb if choice.from_notebook else py
    return chosen, broken, notes


def refused(folder: Path) -> dict[str, str]:
    """Expected name -> why the grader would skip the file found under it (a link, too large, ...)."""
    return {**{name: f"{intake.shown(path.relative_to(folder))}: {why}"
               for name, (path, why) in intake.examine(folder).items() if why is not None},
            **sources(folder)[1]}


def problems(folder: Path) -> tuple[list[str], list[str]]:
    """(missing files, refused ones included; warnings: stale PNGs, which form is zipped)."""
    found = intake.find_files(folder)
    chosen, _, notes = sources(folder)
    missing = [f"{file}.py" for file in config.FILES if file not in chosen]
    missing += [png for png in config.PNG_FILES.values() if png not in found]
    stale = list(notes) + intake.stale_pngs(folder)  # a .py newer than its PNG
    for file, png in config.PNG_FILES.items():  # a notebook newer than its PNG
        source, image = found.get(chosen.get(file, "")), found.get(png)
        if chosen.get(file, "").endswith(".ipynb") and source and image \
                and image.stat().st_mtime < source.stat().st_mtime:
            stale.append(f"{png} is older than {chosen[file]}, so it may be stale (drawn by an earlier "
                         "version of your code): run its training cell again to draw your current model.")
    return missing, stale


def suggestions(folder: Path, missing: list[str]) -> list[str]:
    """'did you mean' lines: for each missing name, the closest file name where find_files looks."""
    taken = {path for path, _ in intake.examine(folder).values()}  # files found under their expected names
    names = [intake.shown(p.relative_to(folder)) for p in intake.shallow_files(folder) if p not in taken] \
        if folder.is_dir() else []
    lines = []
    for name in missing:
        close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
        if close:
            original = next(n for n in names if n.lower() == close[0])
            lines.append(f"{name}: did you mean {original}? Rename it to {name}.")
    return lines


def build(folder: Path, out: Path) -> list[str]:
    """Write the zip; each file is read as the grader reads it (no link followed, at most its cap).
    Returns the names it holds."""
    found = intake.find_files(folder)
    chosen = sources(folder)[0]
    names = [chosen[file] for file in config.FILES] + list(config.PNG_FILES.values())
    with replacing(out) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for name in names:
            data, why = intake.read_regular(found[name], intake.limit(name), base=folder)
            if data is None:
                raise ValueError(f"{intake.shown(found[name].relative_to(folder))}: {why}")
            info = zipfile.ZipInfo.from_file(found[name], name, strict_timestamps=False)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path("student") if Path("student").is_dir() else Path("."))
    parser.add_argument("--out", type=Path, default=Path("submission.zip"))
    args = parser.parse_args(argv)
    missing, stale = problems(args.folder)
    skipped = refused(args.folder)
    for warning in stale:
        print(f"warning: {warning}", file=sys.stderr)
    absent = [name for name in missing
              if name not in skipped and name.replace(".py", ".ipynb") not in skipped]
    if missing:
        removed = args.out.is_file()
        args.out.unlink(missing_ok=True)
        why = [f"Missing from {intake.shown(args.folder)}/: {', '.join(absent)}"] if absent else []
        why += [f"Not taken, as the grader would not take it: {line}" for line in skipped.values()]
        print(f"error: not written: {args.out}{' (the older one is removed)' if removed else ''}. " + ". ".join(why),
              file=sys.stderr)
        if skipped:
            print("Put the files themselves in the folder: a copy, not a link, of at most "
                  f"{intake.MAX_PY_BYTES // 1_000_000} MB per .py file and {intake.MAX_PNG_BYTES // 1_000_000} MB "
                  "per PNG.", file=sys.stderr)
        for line in suggestions(args.folder, absent):
            print(line, file=sys.stderr)
        if any(name.endswith(".png") for name in absent):
            print("The PNGs are written by running the PyTorch files, e.g. "
                  "`make run FILE=pytorch_ann.py`.", file=sys.stderr)
        return 1
    try:
        names = build(args.folder, args.out)
    except ValueError as e:  # a file changed after it was checked
        args.out.unlink(missing_ok=True)
        print(f"error: not written: {args.out}. Not taken, as the grader would not take it: {e}", file=sys.stderr)
        return 1
    print(f"{args.out} holds {', '.join(names)}. Upload it to Gradescope.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
