"""What the project builds for others: the Gradescope zip, the student handout, a student's submission.zip."""

import zipfile
from pathlib import Path


def show(out: Path, then: str) -> None:
    """Print what the zip `out` holds, a line per file, then its size and `then` (what to do with it)."""
    with zipfile.ZipFile(out) as zf:
        for info in zf.infolist():
            print(f"{info.file_size:>9}  {info.filename}")
    print(f"{out}: {out.stat().st_size / 1024:.0f} KiB. {then}")
