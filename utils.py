"""Helpers shared by the three assignment files and the autograder.

Students: you may call anything here; you never need to edit it. The
autograder always uses its own copy of this file, never the one beside your
submission.

- Data: `load_fashion_mnist` reads the four official IDX files straight into
  NumPy (uint8, once, in well under a second); `load_data` gives them in the
  format each assignment file works with.
- Training: `set_seed`, `one_hot`, `minibatches`, `progress`, `accuracy`.
- Plots: `learning_curve_axes` and `save_figure`, the scaffold for the
  learning-curve PNG.
- `fetch_fashion_mnist` fills `data/FashionMNIST/raw/` (`make data`).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("FASHION_MNIST_DATA", ROOT / "data"))
RAW_DIR = DATA_DIR / "FashionMNIST" / "raw"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
APT_ARCHIVES = Path("/var/cache/apt/archives")  # apt keeps its .deb here, test labels inside

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# split -> (images file, labels file, number of images)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

# Test accuracy each model must reach (fraction of the 10,000 test images).
# The autograder reads these too: change them here and nowhere else.
THRESHOLDS = {"numpy_ann": 0.77, "pytorch_ann": 0.80, "pytorch_cnn": 0.85}
VAL_SIZE = 5_000  # of the 60,000 training images, held out for validation (the grader holds out the same)

FIX = "run `make data` (or set FASHION_MNIST_DIR to a folder holding the four *-ubyte.gz files)"


class DataError(RuntimeError):
    """Fashion-MNIST is missing or damaged. The message names the file and the fix."""


def _report_data_error(kind, error, traceback, default=sys.excepthook):
    """A DataError nobody caught ends the program with its message alone: a student sees the fix, not a traceback."""
    if issubclass(kind, DataError):
        print(f"error: {error}", file=sys.stderr)
    else:
        default(kind, error, traceback)


sys.excepthook = _report_data_error


# --------------------------------------------------------------------------- data

def _read_idx(path: Path, magic: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """Decode one gzipped IDX file into a uint8 array of shape (count, *shape)."""
    if not path.is_file():
        raise DataError(f"{path} is missing: {FIX}.")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is truncated or not a gzip file ({e}): delete it and {FIX}.") from None
    dims = len(shape) + 1
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path} is too short to be an IDX file ({len(raw)} bytes): delete it and {FIX}.")
    found_magic = int.from_bytes(raw[:4], "big")
    sizes = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    if found_magic != magic:
        raise DataError(f"{path} has magic number {found_magic}, expected {magic}: "
                        f"it is not the right Fashion-MNIST file. Delete it and {FIX}.")
    if sizes != (count, *shape):
        raise DataError(f"{path} holds an array of shape {sizes}, expected {(count, *shape)}: "
                        f"delete it and {FIX}.")
    if len(raw) != header + int(np.prod(sizes)):
        raise DataError(f"{path} is truncated: {len(raw) - header} bytes of data, expected "
                        f"{int(np.prod(sizes))}. Delete it and {FIX}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(sizes)


def load_fashion_mnist(split: str = "train", raw_dir: str | Path | None = None):
    """Read one split of Fashion-MNIST from the official IDX files.

    Inputs:
    - split: "train" (60,000 images) or "test" (10,000 images).
    - raw_dir: folder of the four `*-ubyte.gz` files; default `data/FashionMNIST/raw`.

    Returns (images, labels):
    - images: uint8 array of shape (n, 28, 28), pixels 0..255.
    - labels: uint8 array of shape (n,), class indices 0..9.

    Raises DataError, naming the file and the fix, when a file is missing or damaged.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    raw_dir = Path(raw_dir) if raw_dir is not None else RAW_DIR
    images_file, labels_file, count = FILES[split]
    images = _read_idx(raw_dir / images_file, IMAGES_MAGIC, count, (28, 28))
    labels = _read_idx(raw_dir / labels_file, LABELS_MAGIC, count, ())
    if labels.max() > 9:
        raise DataError(f"{raw_dir / labels_file} holds label {labels.max()}, expected 0..9: delete it and {FIX}.")
    return images, labels


def cached_split(split: str = "train") -> tuple[Path, Path]:
    """Paths of `split`'s images and labels as uint8 .npy files, decoded once from the IDX files.

    The cache lives in data/FashionMNIST/cache/ and is rebuilt (atomically)
    when an IDX file is newer. Load it with np.load(path, mmap_mode="r") to
    share one copy of the pixels between processes.
    """
    cache = RAW_DIR.parent / "cache"
    paths = (cache / f"{split}_images.npy", cache / f"{split}_labels.npy")
    sources = [RAW_DIR / name for name in FILES[split][:2]]
    newest = max((p.stat().st_mtime for p in sources if p.exists()), default=0)
    if not all(p.exists() and p.stat().st_mtime >= newest for p in paths):
        cache.mkdir(parents=True, exist_ok=True)
        for path, array in zip(paths, load_fashion_mnist(split), strict=True):
            with _replacing(path) as f:
                np.save(f, array)
    return paths


def train_val_split(n: int, val_size: int = VAL_SIZE, seed: int = 0):
    """Indices (train_idx, val_idx) of a fixed random split of range(n)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def load_data(kind: str = "numpy", val_size: int = VAL_SIZE):
    """Fashion-MNIST in the format each assignment file works with.

    Inputs:
    - kind: "numpy" for numpy_ann.py, "flat" for pytorch_ann.py, "image" for pytorch_cnn.py.
    - val_size: how many of the 60,000 training images to hold out for validation.

    Returns X_train, y_train, X_val, y_val, X_test, y_test:
    - "numpy": X float32 ndarray (n, 784) in [0, 1]; y one-hot float32 (n, 10).
    - "flat":  X float32 Tensor (n, 784) in [0, 1]; y int64 Tensor (n,).
    - "image": X float32 Tensor (n, 1, 28, 28) in [0, 1]; y int64 Tensor (n,).
    """
    if kind not in ("numpy", "flat", "image"):
        raise ValueError(f"kind must be 'numpy', 'flat' or 'image', not {kind!r}")
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    tr, va = train_val_split(len(train_x), val_size)
    parts = [(train_x[tr], train_y[tr]), (train_x[va], train_y[va]), (test_x, test_y)]
    out = []
    for x, y in parts:
        out += list(to_model_format(x, y, kind))
    return tuple(out)


def to_model_format(images: np.ndarray, labels: np.ndarray | None, kind: str, index=None):
    """uint8 images (n, 28, 28) and labels (n,) -> (X, y) in the format of `load_data`.

    With `index`, only those rows, converted in chunks: no uint8 copy of the selection is made.
    """
    index = np.arange(len(images)) if index is None else np.asarray(index)
    x = np.empty((len(index), 784), dtype=np.float32)
    for start in range(0, len(index), 8192):
        rows = index[start:start + 8192]
        np.divide(images[rows].reshape(len(rows), -1), np.float32(255), out=x[start:start + len(rows)])
    return as_model_format(x, None if labels is None else np.asarray(labels)[index], kind)


def as_model_format(x: np.ndarray, labels: np.ndarray | None, kind: str):
    """float32 images (n, 784) in [0, 1] and class indices (n,) -> (X, y) in the format of `load_data`, sharing x."""
    if kind == "numpy":
        return x, (None if labels is None else one_hot(labels))
    import torch

    x = torch.from_numpy(x)
    if kind == "image":
        x = x.reshape(-1, 1, 28, 28)
    return x, (None if labels is None else torch.from_numpy(labels.astype(np.int64)))


def one_hot(labels, num_classes: int = 10) -> np.ndarray:
    """Class indices of shape (n,) -> float32 one-hot array of shape (n, num_classes)."""
    labels = np.asarray(labels, dtype=np.int64)
    out = np.zeros((len(labels), num_classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


# ----------------------------------------------------------------------- training

THREADS = int(os.environ.get("GRADER_THREADS") or 1)  # as the grader's workers: see limit_threads


def limit_threads(threads: int = THREADS) -> None:
    """Run NumPy's BLAS and PyTorch on `threads` threads (1 unless GRADER_THREADS says otherwise), as grading does.

    For models this small a second thread buys little, and beside other work
    its idle spinning can make training several times slower. With the
    grader's thread count, a run here takes about the CPU time grading will.
    Called when this module is imported.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # for processes started from here
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            libraries = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return
    for library in libraries:
        for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "openblas_set_num_threads64_", "scipy_openblas_set_num_threads"):
            with contextlib.suppress(OSError, AttributeError):
                getattr(ctypes.CDLL(library), symbol)(threads)
                break


limit_threads()


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and (when it is loaded) PyTorch's random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    """Yield index arrays that cover range(n) once, in batches of at most batch_size.

    With `rng`, the order is a fresh random permutation; without, it is 0..n-1.
    The last batch is smaller when batch_size does not divide n: no sample is skipped.
    """
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def accuracy(predictions, labels) -> float:
    """Fraction of predictions equal to labels (class indices, or one-hot rows)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    return float(np.mean(predictions == labels))


def new_history() -> dict:
    """The empty history every `fit` returns: one float per epoch in each list."""
    return {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}


def progress(epoch: int, epochs: int, history: dict, seconds: float | None = None) -> None:
    """Print one line for the epoch just finished, from the last entry of each history list."""
    line = (f"epoch {epoch:>2}/{epochs}  "
            f"train loss {history['train_loss'][-1]:.4f}  acc {history['train_acc'][-1]:.2%}  |  "
            f"val loss {history['val_loss'][-1]:.4f}  acc {history['val_acc'][-1]:.2%}")
    if seconds is not None:
        line += f"  ({seconds:.1f} s)"
    print(line, flush=True)


def report(name: str, test_accuracy: float) -> bool:
    """Print the test accuracy against the autograder's threshold; True when it passes."""
    threshold = THRESHOLDS[name]
    verdict = "passes" if test_accuracy >= threshold else "is below"
    print(f"{name}: test accuracy {test_accuracy:.2%} {verdict} the threshold of {threshold:.0%}")
    return test_accuracy >= threshold


# -------------------------------------------------------------------------- plots

def learning_curve_axes(title: str = ""):
    """A figure with two empty panels, labelled for learning curves.

    Returns (fig, (ax_loss, ax_acc)). Plot the train and validation curves of
    the history into them (`ax.plot(epochs, values, label=...)`), then call
    `save_figure(fig, path)`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for ax, what in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.set_title(what)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return fig, (ax_loss, ax_acc)


def save_figure(fig, path) -> None:
    """Save `fig` as a PNG at `path`, atomically: a crash never leaves half a file."""
    for ax in fig.axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    with _replacing(Path(path)) as f:
        fig.savefig(f, format="png")


@contextlib.contextmanager
def _replacing(path: Path):
    """A binary file for `path`'s new content, renamed over `path` once written whole (removed on an error).

    Its name beside `path` is this process's own: processes writing the same file at once do not mix their bytes.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------------- make data

def _copy_from(folder: Path, raw_dir: Path) -> None:
    """Copy the four files from `folder` into raw_dir, validating every one."""
    names = [name for images, labels, _ in FILES.values() for name in (images, labels)]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}")
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        with open(folder / name, "rb") as src, _replacing(raw_dir / name) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    for split in FILES:
        load_fashion_mnist(split, raw_dir)


def _apt_install() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DataError("not root, or no apt-get here")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", DEBIAN_PACKAGE]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise DataError(f"`{' '.join(cmd)}` failed: {done.stderr.strip().splitlines()[-1:]}")


def _torchvision_download(raw_dir: Path) -> None:
    try:
        from torchvision.datasets import FashionMNIST
    except ImportError as e:
        raise DataError(f"torchvision is not importable ({e})") from None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            FashionMNIST(tmp, train=True, download=True)
            FashionMNIST(tmp, train=False, download=True)
        except Exception as e:  # network errors come in many types
            raise DataError(f"download failed ({type(e).__name__}: {e})") from None
        _copy_from(Path(tmp) / "FashionMNIST" / "raw", raw_dir)


def fetch_fashion_mnist(raw_dir: Path = RAW_DIR) -> str:
    """Fill raw_dir with the four official files from the first source that works.

    Sources, in order: $FASHION_MNIST_DIR; Debian's `dataset-fashion-mnist`
    package in /usr/share/datasets/fashion-mnist; installing that package
    (root with apt only); torchvision's download. Returns the source used.
    Raises DataError naming every source when none works.
    """
    try:
        for split in FILES:
            load_fashion_mnist(split, raw_dir)
        return "already there"
    except DataError:
        pass
    tried = []
    env_dir = os.environ.get("FASHION_MNIST_DIR")
    sources = [
        (f"FASHION_MNIST_DIR={env_dir or '(not set)'}",
         (lambda: _copy_from(Path(env_dir), raw_dir)) if env_dir else None),
        (f"Debian package files in {DEBIAN_DIR}", lambda: _copy_from(DEBIAN_DIR, raw_dir)),
        (f"`apt-get install {DEBIAN_PACKAGE}`", lambda: (_apt_install(), _copy_from(DEBIAN_DIR, raw_dir))),
        ("torchvision's download", lambda: _torchvision_download(raw_dir)),
    ]
    for name, attempt in sources:
        if attempt is None:
            tried.append(f"  - {name}")
            continue
        try:
            print(f"Fashion-MNIST: trying {name} ...", flush=True)
            attempt()
            return name
        except (DataError, OSError) as e:
            tried.append(f"  - {name}: {e}")
    raise DataError(
        "Could not get Fashion-MNIST into " + str(raw_dir) + ". Tried:\n" + "\n".join(tried) + "\n"
        "Fix one of them: set FASHION_MNIST_DIR to a folder holding the four *-ubyte.gz files; "
        f"or `sudo apt-get install {DEBIAN_PACKAGE}`; or connect to the internet so torchvision can download it."
    )


def decompress_for_torchvision(raw_dir: Path = RAW_DIR) -> None:
    """Put the decompressed IDX files beside the .gz ones, as torchvision's own download leaves them.

    `torchvision.datasets.FashionMNIST("data")`, which tutorials use, then finds
    the data offline instead of downloading it (it looks for these four files).
    """
    for images, labels, _ in FILES.values():
        for name in (images, labels):
            target = raw_dir / name[:-len(".gz")]
            if target.is_file() and target.stat().st_size > 0:
                continue
            with gzip.open(raw_dir / name, "rb") as src, _replacing(target) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def main() -> int:
    """`python utils.py data`: the `make data` command."""
    if sys.argv[1:] != ["data"]:
        print("usage: python utils.py data", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        source = fetch_fashion_mnist()
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        decompress_for_torchvision(RAW_DIR)
    except OSError as e:
        print(f"warning: could not write the decompressed files torchvision reads: {e}", file=sys.stderr)
    how = source if source == "already there" else f"from {source}"
    print(f"Fashion-MNIST ready in {RAW_DIR} ({how}, {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
