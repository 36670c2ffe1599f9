"""Workers' data as mapped files (autograder/runtime/datacache.py): the same values, and ordinary student code still works."""

import os

import numpy as np
import pytest
import torch

import utils
from autograder.core import config
from autograder.runtime import datacache


@pytest.fixture(scope="module")
def files():
    return datacache.worker_files()


@pytest.fixture
def handed(files, tmp_path):
    datacache.hand_out(files, tmp_path, share=False)
    return tmp_path


def test_the_float32_files_hold_exactly_what_the_conversion_gives(files):
    images, labels = (np.load(files[name], mmap_mode="r") for name in ("train_images.npy", "train_labels.npy"))
    train, val = utils.train_val_split(len(images), config.VAL_SIZE)
    for name, index in (("train_x.npy", train), ("val_x.npy", val)):
        mapped = np.load(files[name], mmap_mode="r")
        assert mapped.shape == (len(index), 784) and mapped.dtype == np.float32
        rows = np.r_[0:50, len(index) - 50:len(index)]
        np.testing.assert_array_equal(mapped[rows], utils.to_model_format(images, None, "numpy", index[rows])[0])


def test_a_worker_gets_a_plain_writable_array_and_writing_to_it_changes_no_file(handed):
    X = datacache.load(handed, "val")
    assert type(X) is np.ndarray and X.dtype == np.float32 and X.flags.writeable
    before = np.load(handed / "val_x.npy")[:3].copy()
    X[:3] = -1.0  # student code may normalise in place
    X /= 1.0
    assert (X[:3] == -1.0).all()
    np.testing.assert_array_equal(np.load(handed / "val_x.npy")[:3], before)
    np.testing.assert_array_equal(datacache.load(handed, "val")[:3], before)


def test_ordinary_code_on_the_mapped_data_works_as_on_a_copy(handed):
    X = datacache.load(handed, "train")
    copy = np.array(X[:100])
    np.testing.assert_array_equal(X[[3, 1, 2]], copy[[3, 1, 2]])
    np.testing.assert_array_equal(X[:100] / 1.0, copy)
    tensor, _ = utils.as_model_format(X, None, "image")
    assert tensor.shape == (len(X), 1, 28, 28) and tensor.dtype == torch.float32
    torch.testing.assert_close(torch.tensor(X[:100]), torch.from_numpy(copy))
    tensor[0] += 1.0  # in-place arithmetic on the tensor: only this process's copy of the page changes
    assert float(tensor[0].mean()) == pytest.approx(float(copy[0].mean()) + 1.0, abs=1e-5)


def test_a_linked_file_is_shared_only_where_the_worker_cannot_write_it(files, tmp_path):
    shared, copied = tmp_path / "shared", tmp_path / "copied"
    shared.mkdir()
    copied.mkdir()
    datacache.hand_out(files, shared, share=True)
    datacache.hand_out(files, copied, share=False)
    for name, source in files.items():
        same = os.path.samestat(os.stat(shared / name), os.stat(source))
        assert same == bool(source.stat().st_mode & 0o004), name  # linked when others may read it, else copied
        assert not os.path.samestat(os.stat(copied / name), os.stat(source)), name


def test_without_the_float32_files_the_worker_is_told_so():
    assert datacache.load("/nonexistent", "train") is None


FONTS = ("import logging, sys\nlogging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
         "from autograder.runtime import datacache\ndatacache.seed_font_list(sys.argv[1])\n"
         "import matplotlib.font_manager\n")


@pytest.mark.parametrize("seeded", [True, False])
def test_a_worker_given_the_font_list_does_not_scan_the_fonts_again(files, tmp_path, seeded):
    """matplotlib in an empty config folder rebuilds its font list (1-2 s); with the grader's list it reads it."""
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    if seeded:
        datacache.hand_out({k: v for k, v in files.items() if k.startswith("fontlist-")}, data, share=False)
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"), PYTHONPATH=str(utils.ROOT), MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", FONTS, str(data)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("generated new fontManager" in done.stdout) is not seeded, done.stdout


def test_a_font_list_that_cannot_be_put_in_place_is_skipped_without_an_error(files, tmp_path, monkeypatch):
    """The worker seeds the list before student code runs: a failure there must not stop the worker."""
    data = tmp_path / "data"
    data.mkdir()
    datacache.hand_out({k: v for k, v in files.items() if k.startswith("fontlist-")}, data, share=False)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "a-file" / "matplotlib"))  # cannot be made
    datacache.seed_font_list(data)
    monkeypatch.delenv("MPLCONFIGDIR")
    monkeypatch.setenv("HOME", str(tmp_path / "missing"))  # no writable home: a temporary folder instead ...
    import tempfile

    def cannot(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", cannot)  # ... which cannot be made either
    datacache.seed_font_list(data)
    assert "MPLCONFIGDIR" not in os.environ
