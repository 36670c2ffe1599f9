"""The intake takes regular files only: a copy of each, read safely, before anything else reads the submission.

The submission folder is the student's; the grader reads it as root. A link
(to a root-only file, to /proc/self/pagemap, or a linked folder), a hard
link, a FIFO, a 1 GB sparse PNG or a name that is not UTF-8 must each be
skipped with a note (or listed harmlessly), never followed, waited on or
read whole. The last of those grades such a folder end to end. The tests
after it check where `find_files` looks in an ordinary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from autograder.core import config
from autograder.harness import intake
from autograder.suite import pngcheck
from tests.conftest import ROOT, failed
from tests.gradescope_schema import problems

PNG = config.PNG_FILES["pytorch_ann"]
SECRET = b"ROOT-ONLY SECRET 6f1c"


@pytest.fixture
def submission(tmp_path):
    """A copy of solutions/ to make hostile."""
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture
def secret(tmp_path):
    """A file outside the submission that only root may read."""
    path = tmp_path / "secret" / "numpy_ann.py"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
def bytes_read(monkeypatch):
    """How many bytes os.read returns while the test runs: nothing may read big data."""
    count = [0]
    read = os.read

    def counting(fd, n):
        data = read(fd, n)
        count[0] += len(data)
        return data

    monkeypatch.setattr(os, "read", counting)
    return count


def take(submission: Path, tmp_path: Path) -> intake.Snapshot:
    return intake.snapshot(submission, tmp_path / "work" / "intake")


def assert_skipped(snap: intake.Snapshot, name: str, reason: str) -> None:
    assert name not in snap.files
    assert reason in snap.skipped[name]
    assert any(note.startswith(f"Skipped {name}: ") and reason in note for note in snap.notes), snap.notes


def copies_hold(snap: intake.Snapshot, data: bytes) -> bool:
    return any(data in path.read_bytes() for path in snap.files.values())


@pytest.mark.timeout(30)
def test_a_symlink_to_a_file_outside_is_skipped_and_not_read(submission, secret, tmp_path):
    (submission / "numpy_ann.py").unlink()
    (submission / "numpy_ann.py").symlink_to(secret)
    snap = take(submission, tmp_path)
    assert_skipped(snap, "numpy_ann.py", "symbolic link")
    assert "only regular files are graded" in snap.notes[0]
    assert not copies_hold(snap, SECRET)
    assert "numpy_ann.py" not in intake.find_files(submission)
    assert "skipped: it is a symbolic link" in intake.listing(submission)  # what the 'not in the submission' shows
    # the other files are taken, as the grader's own regular files, private to it
    work = tmp_path / "work" / "intake"
    assert sorted(snap.files) == sorted(set(intake.EXPECTED) - {"numpy_ann.py"})
    assert all(p.parent == work and not p.is_symlink() and p.stat().st_mode & 0o777 == 0o600 for p in snap.files.values())
    assert work.stat().st_mode & 0o777 == 0o700
    assert snap.files["pytorch_ann.py"].read_bytes() == (ROOT / "solutions" / "pytorch_ann.py").read_bytes()


@pytest.mark.timeout(30)
def test_a_png_linked_to_proc_pagemap_is_skipped_without_reading(submission, tmp_path, bytes_read):
    (submission / PNG).unlink()
    (submission / PNG).symlink_to("/proc/self/pagemap")
    snap = take(submission, tmp_path)
    assert_skipped(snap, PNG, "symbolic link")
    assert bytes_read[0] < 1_000_000  # only the five small files (and no page of pagemap)


@pytest.mark.timeout(30)
def test_a_hard_link_is_skipped(submission, secret, tmp_path):
    (submission / "numpy_ann.py").unlink()
    os.link(secret, submission / "numpy_ann.py")
    snap = take(submission, tmp_path)
    assert_skipped(snap, "numpy_ann.py", "hard link")
    assert not copies_hold(snap, SECRET)


@pytest.mark.timeout(30)
def test_a_fifo_is_skipped_without_waiting_on_it(submission, tmp_path):
    (submission / "numpy_ann.py").unlink()
    os.mkfifo(submission / "numpy_ann.py")
    snap = take(submission, tmp_path)
    assert_skipped(snap, "numpy_ann.py", "named pipe")
    # even when it appears after the folder was looked at, the open does not block and fstat refuses it
    assert intake.read_regular(submission / "numpy_ann.py", intake.MAX_PY_BYTES) == \
        (None, "it is a named pipe (FIFO); only regular files are graded")


@pytest.mark.timeout(30)
def test_a_1_gb_sparse_png_is_skipped_without_reading_it(submission, tmp_path, bytes_read):
    os.truncate(submission / PNG, 1 << 30)
    snap = take(submission, tmp_path)
    assert_skipped(snap, PNG, "1,073,741,824 bytes, over the limit of 5 MB")
    # checked on the descriptor too (a file swapped in after the look), and the PNG check reads at most the cap
    assert intake.read_regular(submission / PNG, intake.MAX_PNG_BYTES)[0] is None
    assert "over the limit of 5 MB" in pngcheck.problem(submission / PNG)
    assert bytes_read[0] < 1_000_000
    assert "over the limit of 5 MB" in pngcheck.problem(b"\x89PNG\r\n\x1a\n" + bytes(intake.MAX_PNG_BYTES))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.timeout(60)
def test_a_png_of_too_many_pixels_is_refused_before_it_is_decoded():
    """A 9000x9000 one-bit PNG is 12 kB on disk; decoded it would take 81 MB, and 81 MB more in greyscale."""
    width = height = 9000
    rows = (b"\x00" + bytes((width + 7) // 8)) * height
    data = (pngcheck.PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b""))
    assert len(data) < 100_000
    assert f"more than the {pngcheck.MAX_PIXELS:,} pixels a plot may have" in pngcheck.problem(data)


@pytest.mark.timeout(30)
def test_names_that_are_not_utf8_are_listed_and_noted_safely(submission, tmp_path):
    """b'\\xff.py' beside a valid numpy_ann.py, and a linked PNG in a folder named b'w\\xffrk'."""
    (submission / os.fsdecode(b"\xff.py")).write_text("print('not graded')\n")
    (submission / os.fsdecode(b"utils\xff.py")).write_text("print('not graded')\n")
    (submission / os.fsdecode(b"link\xff")).symlink_to("/etc/passwd")
    snap = take(submission, tmp_path)
    assert sorted(snap.files) == sorted(intake.EXPECTED) and snap.notes == []
    assert snap.files["numpy_ann.py"].read_bytes() == (ROOT / "solutions" / "numpy_ann.py").read_bytes()
    text = "\n".join([intake.listing(submission), *intake.notes(submission)])
    text.encode("utf-8")  # no lone surrogate: printable, and valid in results.json
    assert "\ufffd.py" in text and "Skipped link\ufffd: it is a symbolic link" in text

    zipped = tmp_path / "zipped"
    zipped.mkdir()
    folder = zipped / os.fsdecode(b"w\xffrk")
    submission.rename(folder)
    (folder / PNG).unlink()
    (folder / PNG).symlink_to("/proc/self/pagemap")
    snap = take(zipped, tmp_path)
    assert snap.notes == [f"Skipped w\ufffdrk/{PNG}: it is a symbolic link; only regular files are graded."]
    assert sorted(snap.files) == sorted(set(intake.EXPECTED) - {PNG})
    json.dumps(snap.notes + [intake.listing(zipped)], ensure_ascii=False).encode("utf-8")


@pytest.mark.timeout(30)
def test_a_linked_sub_folder_is_not_followed(submission, tmp_path):
    """The files only in a folder the submission links to (a root-only one, say) are not taken."""
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    (zipped / "my work").symlink_to(submission, target_is_directory=True)
    snap = take(zipped, tmp_path)
    assert snap.files == {} and intake.find_files(zipped) == {}
    notes = intake.notes(zipped)
    assert notes == ["Skipped my work: it is a symbolic link, which the grader does not follow; only regular files and "
                     "folders are graded."]
    assert "my work (skipped: it is a symbolic link)" in intake.listing(zipped)
    # a real sub-folder whose folder is swapped for a link after the look: the descriptor walk refuses it
    real = tmp_path / "real"
    shutil.copytree(submission, real / "inner")
    (real / "inner").rename(tmp_path / "moved")
    (real / "inner").symlink_to(tmp_path / "moved", target_is_directory=True)
    assert intake.read_regular(real / "inner" / "numpy_ann.py", intake.MAX_PY_BYTES, base=real)[0] is None


@pytest.mark.timeout(600)
def test_grading_a_hostile_folder_fails_only_the_png_tests(submission, expected_dir, tmp_path):
    """End to end: a non-UTF-8 name and a PNG linked to /proc/self/pagemap; `make grade` still exits 0."""
    (submission / os.fsdecode(b"\xff.py")).write_text("print('not graded')\n")
    (submission / PNG).unlink()
    (submission / PNG).symlink_to("/proc/self/pagemap")
    results = tmp_path / "results.json"
    env = dict(os.environ, GRADER_TRAIN_DEADLINE="1500", PYTHONIOENCODING="utf-8")  # strict: a surrogate would crash
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", str(submission), "--results", str(results),
                           "--only", "pytorch_ann", "--expected", str(expected_dir)],
                          cwd=ROOT, env=env, capture_output=True, timeout=580)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode(errors="replace")[-3000:]
    proc.stdout.decode("utf-8")
    doc = json.loads(results.read_bytes().decode("utf-8"))
    assert problems(doc) == []
    assert set(failed(doc)) == {name for name in config.POINTS
                                if name.startswith("pytorch_ann.artifact")}, failed(doc)
    assert all(f"{PNG} is not in the submission as a file the grader takes (it is a symbolic link" in output
               for output in failed(doc).values())
    assert f"Skipped {PNG}: it is a symbolic link; only regular files are graded." in doc["output"]


# find_files on ordinary folders: where the expected files are looked for, and which are left out.


def write_files(folder: Path, names) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x = 1\n")
    return folder


def test_find_files_maps_the_five_expected_names_and_ignores_the_rest(tmp_path):
    folder = write_files(tmp_path / "s", [*intake.EXPECTED, "notes.txt", "helper.py", "numpy_ann.py.bak"])
    assert intake.EXPECTED == ["numpy_ann.py", "pytorch_ann.py", "pytorch_cnn.py",
                               "pytorch_ann_train_val_metrics.png", "pytorch_cnn_train_val_metrics.png"]
    assert intake.find_files(folder) == {name: folder / name for name in intake.EXPECTED}


def test_find_files_takes_other_capitalisation_and_prefers_the_exact_name(tmp_path):
    folder = write_files(tmp_path / "s", ["NumPy_ANN.py", "pytorch_ann.py", "PyTorch_ANN.py",
                                          "PYTORCH_CNN_TRAIN_VAL_METRICS.PNG"])
    assert intake.find_files(folder) == {"numpy_ann.py": folder / "NumPy_ANN.py",
                                         "pytorch_ann.py": folder / "pytorch_ann.py",
                                         "pytorch_cnn_train_val_metrics.png": folder / "PYTORCH_CNN_TRAIN_VAL_METRICS.PNG"}


def test_find_files_looks_into_one_sub_folder_and_leaves_out_what_is_missing(tmp_path):
    zipped = tmp_path / "zipped"
    inner = write_files(zipped / "my work", ["numpy_ann.py", "Pytorch_Ann.py", "pytorch_ann_train_val_metrics.png"])
    write_files(zipped / "__MACOSX", ["pytorch_cnn.py"])  # hidden folders neither count nor are looked into
    write_files(zipped / ".git", ["pytorch_cnn_train_val_metrics.png"])
    write_files(inner / "deeper", ["pytorch_cnn.py"])  # two levels down: not looked at
    found = intake.find_files(zipped)
    assert found == {"numpy_ann.py": inner / "numpy_ann.py", "pytorch_ann.py": inner / "Pytorch_Ann.py",
                     "pytorch_ann_train_val_metrics.png": inner / "pytorch_ann_train_val_metrics.png"}
    assert [name for name in intake.EXPECTED if name not in found] == ["pytorch_cnn.py",
                                                                       "pytorch_cnn_train_val_metrics.png"]


def test_find_files_prefers_the_top_and_ignores_sub_folders_when_there_are_two(tmp_path):
    folder = write_files(tmp_path / "s", ["numpy_ann.py"])
    write_files(folder / "old", ["numpy_ann.py", "pytorch_cnn.py"])
    assert intake.find_files(folder) == {"numpy_ann.py": folder / "numpy_ann.py",
                                         "pytorch_cnn.py": folder / "old" / "pytorch_cnn.py"}
    write_files(folder / "new", ["pytorch_ann.py"])  # two folders: which one is the submission? neither
    assert intake.find_files(folder) == {"numpy_ann.py": folder / "numpy_ann.py"}


def test_find_files_leaves_out_a_folder_with_an_expected_name_and_a_missing_submission(tmp_path):
    folder = write_files(tmp_path / "s", ["pytorch_ann.py"])
    (folder / "numpy_ann.py").mkdir()
    assert intake.find_files(folder) == {"pytorch_ann.py": folder / "pytorch_ann.py"}
    assert intake.find_files(tmp_path / "absent") == {}
    assert intake.find_files(write_files(tmp_path / "empty", [])) == {}
