"""Fashion-MNIST loading: the real files load; missing or damaged ones give a message with the fix."""

import gzip
import shutil

import numpy as np
import pytest

import utils


@pytest.fixture
def raw(tmp_path):
    """A copy of the four real files in a temporary raw folder."""
    folder = tmp_path / "raw"
    shutil.copytree(utils.RAW_DIR, folder)
    return folder


def test_the_real_files_load_with_the_official_shapes():
    images, labels = utils.load_fashion_mnist("train")
    assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60_000,) and set(np.unique(labels)) == set(range(10))
    images, labels = utils.load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


def test_load_data_gives_the_contract_formats():
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("numpy")
    assert X_train.dtype == np.float32 and X_train.shape == (55_000, 784)
    assert 0 <= X_train.min() and X_train.max() <= 1
    assert y_train.shape == (55_000, 10) and y_train.dtype == np.float32
    assert X_val.shape == (5_000, 784) and X_test.shape == (10_000, 784)


def test_a_missing_file_names_the_file_and_make_data(raw):
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(utils.DataError, match=r"t10k-labels-idx1-ubyte\.gz is missing.*make data"):
        utils.load_fashion_mnist("test", raw)


def test_a_truncated_file_is_reported_as_truncated(raw):
    path = raw / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: 100_000])
    with pytest.raises(utils.DataError, match=r"t10k-images-idx3-ubyte\.gz is truncated"):
        utils.load_fashion_mnist("test", raw)


def test_a_short_but_valid_gzip_is_reported_as_truncated(raw):
    path = raw / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-784]))
    with pytest.raises(utils.DataError, match=r"truncated.*expected 7840000"):
        utils.load_fashion_mnist("test", raw)


def test_a_file_that_is_not_gzip_is_reported(raw):
    (raw / "train-labels-idx1-ubyte.gz").write_text("<html>404 Not Found</html>")
    with pytest.raises(utils.DataError, match=r"train-labels-idx1-ubyte\.gz is truncated or not a gzip file"):
        utils.load_fashion_mnist("train", raw)


def test_swapped_files_fail_on_the_magic_number(raw):
    images, labels = raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz"
    shutil.copyfile(labels, images)
    with pytest.raises(utils.DataError, match=r"magic number 2049, expected 2051"):
        utils.load_fashion_mnist("test", raw)


def test_fetch_copies_from_fashion_mnist_dir(raw, tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(raw))
    target = tmp_path / "data" / "FashionMNIST" / "raw"
    assert utils.fetch_fashion_mnist(target).startswith("FASHION_MNIST_DIR")
    assert utils.load_fashion_mnist("test", target)[0].shape == (10_000, 28, 28)


def test_fetch_names_every_source_when_none_works(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(utils, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(utils, "_apt_install", lambda: (_ for _ in ()).throw(utils.DataError("no apt here")))
    monkeypatch.setattr(utils, "_torchvision_download",
                        lambda raw_dir: (_ for _ in ()).throw(utils.DataError("no network")))
    with pytest.raises(utils.DataError) as error:
        utils.fetch_fashion_mnist(tmp_path / "raw")
    message = str(error.value)
    for source in ("FASHION_MNIST_DIR", "no-debian", "apt-get install dataset-fashion-mnist", "torchvision"):
        assert source in message


def test_running_a_file_without_the_data_prints_the_fix_and_no_traceback(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    shutil.copy(ROOT / "utils.py", tmp_path)
    shutil.copy(ROOT / "solutions" / "numpy_ann.py", tmp_path)
    done = subprocess.run([sys.executable, "numpy_ann.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "train-images-idx3-ubyte.gz is missing" in done.stderr
    assert "make data" in done.stderr


def test_make_data_leaves_what_torchvision_reads_offline(tmp_path):
    """The decompressed IDX files beside the .gz ones: torchvision.datasets.FashionMNIST("data") needs no download."""
    import subprocess
    import sys

    torchvision = pytest.importorskip("torchvision")
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in utils.RAW_DIR.glob("*.gz"):
        shutil.copy(name, raw)
    done = subprocess.run([sys.executable, str(utils.ROOT / "utils.py"), "data"], capture_output=True, text=True,
                          env={"FASHION_MNIST_DATA": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in raw.iterdir() if not p.name.endswith(".gz")) == sorted(
        name[:-3] for images, labels, _ in utils.FILES.values() for name in (images, labels))
    test_set = torchvision.datasets.FashionMNIST(str(tmp_path / "data"), train=False, download=False)
    assert len(test_set) == 10_000 and test_set[0][1] == int(utils.load_fashion_mnist("test")[1][0])
