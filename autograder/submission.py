"""`make submission`: zip the student's files for Gradescope into submission.zip.

    python -m autograder.submission [FOLDER] [--out submission.zip]

Takes exactly the three .py files and the two learning-curve PNGs from FOLDER
(student/ in the course repository, the current folder in the handout).
Refuses, naming what is missing, when a file is absent; warns when a PNG is
older than the .py file that draws it (it may show an earlier model).
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

from autograder import config


def submission_files() -> list[str]:
    return [f"{f}.py" for f in config.FILES] + list(config.PNG_FILES.values())


def problems(folder: Path) -> tuple[list[str], list[str]]:
    """(missing files, warnings about stale PNGs)."""
    missing = [name for name in submission_files() if not (folder / name).is_file()]
    stale = []
    for file, png in config.PNG_FILES.items():
        source, image = folder / f"{file}.py", folder / png
        if source.is_file() and image.is_file() and image.stat().st_mtime < source.stat().st_mtime:
            stale.append(f"{png} is older than {file}.py: run `python {file}.py` again so that it shows your "
                         "current model")
    return missing, stale


def build(folder: Path, out: Path) -> Path:
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as zf:
        for name in submission_files():
            zf.write(folder / name, name)
    os.replace(tmp, out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path("student") if Path("student").is_dir() else Path("."))
    parser.add_argument("--out", type=Path, default=Path("submission.zip"))
    args = parser.parse_args(argv)
    missing, stale = problems(args.folder)
    for warning in stale:
        print(f"warning: {warning}", file=sys.stderr)
    if missing:
        print(f"error: not written: {args.out}. Missing from {args.folder}/: {', '.join(missing)}", file=sys.stderr)
        if any(name.endswith(".png") for name in missing):
            print("The PNGs are written by running the PyTorch files, e.g. `python pytorch_ann.py`.", file=sys.stderr)
        return 1
    build(args.folder, args.out)
    print(f"{args.out} holds {', '.join(submission_files())}. Upload it to Gradescope.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
