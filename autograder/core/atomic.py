"""Files written whole or not at all: a reader never sees half a results.json.

Each file is written to a fresh temporary file beside it (tempfile.mkstemp:
an unpredictable name, created exclusively, so never through a symlink that
someone planted), flushed to disk, then renamed over the target with
os.replace, which replaces a symlink found there instead of writing through it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread at once)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


@contextlib.contextmanager
def replacing(path: Path, mode: int | None = None, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s new content into: a mkstemp file beside `path`, renamed over it with
    os.replace when the `with` block ends, removed instead if the block raises.

    The file gets `mode`, by default what open() would give it (0o666 less the umask). With `durable`, the file
    and then the rename are fsynced, so that what the rename shows is on disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~umask() if mode is None else mode)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        with contextlib.suppress(OSError):  # the rename itself, on disk
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


def write_bytes_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to a mkstemp file beside `path`, fsync it, then os.replace it over `path` (see `replacing`)."""
    with replacing(path, mode) as f:
        f.write(data)


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> None:
    write_bytes_atomically(path, text.encode(), mode)


def write_json_atomically(path: Path, data: dict, mode: int | None = None) -> None:
    """Write JSON to a temporary file beside `path`, then rename it over `path`."""
    write_bytes_atomically(path, json.dumps(data, indent=2).encode(), mode)
