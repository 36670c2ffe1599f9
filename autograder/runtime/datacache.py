"""The data files a worker receives: built once per machine, handed to every grading as files.

Owns data/FashionMNIST/cache/'s float32 files: the training and validation
images of the graded split (config.VAL_SIZE, utils.train_val_split), already
scaled to [0, 1], exactly as utils.to_model_format computes them. A worker
maps them copy-on-write (`load`): the pixels are then page cache, which the
kernel can drop and read again under memory pressure, instead of ~190 MB of
memory private to each worker that it cannot. Student code still gets plain
writable float32 arrays: a write copies only the page it touches.

The uint8 files (utils.cached_split) come too: the unit probes take small
subsets of them.

Also matplotlib's list of this machine's fonts (`font_list`). A worker's
matplotlib starts in an empty config folder, where it would scan every font
of the system again (fc-list), 1 to 2 s of every PyTorch worker; with the
list handed out, `seed_font_list` puts it in place first.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import utils
from autograder.core import config

CHUNK = 8192  # rows converted at a time: the builder never holds a float32 copy of the whole split


def _paths() -> dict[str, Path]:
    cache = utils.RAW_DIR.parent / "cache"
    return {f"{part}_x.npy": cache / f"{part}_x_float32_val{config.VAL_SIZE}.npy" for part in ("train", "val")}


def worker_files() -> dict[str, Path]:
    """{name in a worker's data folder: the cached file}, the float32 files built first where missing or stale."""
    images, labels = utils.cached_split("train")
    floats = _paths()
    newest = images.stat().st_mtime
    if not all(p.exists() and p.stat().st_mtime >= newest for p in floats.values()):
        source = np.load(images, mmap_mode="r", allow_pickle=False)
        train, val = utils.train_val_split(len(source), config.VAL_SIZE)
        for path, index in zip(floats.values(), (train, val), strict=True):
            write_float32(path, source, index)
    fonts = font_list()
    return {"train_images.npy": images, "train_labels.npy": labels, **floats, **({fonts.name: fonts} if fonts else {})}


def font_list() -> Path | None:
    """matplotlib's font list for this machine (fontlist-v*.json), built once per matplotlib version by a child
    Python, so that the grader itself never imports matplotlib. None where it cannot be built (no matplotlib)."""
    try:
        version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return None
    folder = utils.RAW_DIR.parent / "cache" / f"matplotlib-{version}"
    try:
        if not any(folder.glob("fontlist-v*.json")):
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], capture_output=True,
                           timeout=600, env=dict(os.environ, MPLCONFIGDIR=str(folder), MPLBACKEND="Agg"), check=False)
            for path in folder.glob("fontlist-v*.json"):
                path.chmod(0o644)  # built here, so ours: readable by workers of another user
    except (OSError, subprocess.SubprocessError):
        pass  # a cache this user cannot write (another user's checkout): workers scan the fonts themselves
    found = sorted(folder.glob("fontlist-v*.json"))
    return found[-1] if found else None


def seed_font_list(data: str | Path) -> None:
    """In a worker, before student code: copy the font list the grader handed out into a matplotlib config folder
    this worker can write (MPLCONFIGDIR, else a new temporary one). Where neither is set up, matplotlib keeps the
    cache in a home of its own, and nothing is done."""
    lists = sorted(Path(data).glob("fontlist-v*.json"))
    folder = os.environ.get("MPLCONFIGDIR")
    if not lists or (folder is None and os.access(os.path.expanduser("~"), os.W_OK)):
        return
    try:
        if folder is None:
            folder = tempfile.mkdtemp(prefix="matplotlib-")
            os.environ["MPLCONFIGDIR"] = folder
        os.makedirs(folder, exist_ok=True)
        for source in lists:
            if not os.path.exists(os.path.join(folder, source.name)):
                shutil.copyfile(source, os.path.join(folder, source.name))
    except OSError:
        pass  # matplotlib scans the fonts itself, as without the list


def write_float32(path: Path, images: np.ndarray, index: np.ndarray) -> None:
    """uint8 images[index] as a float32 (n, 784) .npy file of values in [0, 1], converted and written in chunks:
    the writer never holds a float32 copy of the whole selection. Written whole or not at all."""
    from autograder.core.atomic import replacing  # here, not at the top: workers import this module without atomic.py

    with replacing(path, mode=0o644, durable=False) as f:
        np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(np.float32).str, "fortran_order": False,
                                                 "shape": (len(index), 784)})
        for start in range(0, len(index), CHUNK):
            f.write(utils.to_model_format(images, None, "numpy", index[start:start + CHUNK])[0].tobytes())


def hand_out(files: dict[str, Path], data: Path, share: bool) -> None:
    """Put each file into the worker's data folder: a hard link where `share` (the worker cannot write it), else a copy.

    A link costs nothing and every grading on the machine shares one copy of the pages. A worker that runs as
    the grader's own user, unconfined, could write through a link into the cache, so it gets copies.
    """
    for name, source in files.items():
        target = data / name
        if share and source.stat().st_mode & 0o004:  # readable by the worker's user through the link
            try:
                os.link(source, target)
                continue
            except OSError:
                pass  # another filesystem, or links not allowed: copy
        shutil.copyfile(source, target)


def load(data: str | Path, part: str) -> np.ndarray | None:
    """The worker's float32 (n, 784) images of `part` ("train", "val" or "test"): a plain, writable ndarray over a
    copy-on-write mapping of the file. None when the grader handed out no such file."""
    path = Path(data) / f"{part}_x.npy"
    if not path.exists():
        return None
    return np.asarray(np.load(path, mmap_mode="c", allow_pickle=False))


if __name__ == "__main__":  # setup.sh: build the cache once, before gradings
    for name, path in worker_files().items():
        print(f"{name}: {path}")
