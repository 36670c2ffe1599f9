"""Other copies of the test labels: a hostile worker searches the machine for them while graded.

The grader holds the test labels and never hands them to a worker, but the
machine keeps other copies: the dataset's package files, the .deb that apt
keeps in its cache, `data/` (IDX files, gzip, the .npy cache). The hostile
here is the reference numpy_ann.py whose first relu call runs
tests/label_search.py (every file and process it may read, packed or not,
within a deadline) and fails with what it found. As root, with bubblewrap or
with Docker's capabilities and GRADER_NO_BWRAP=1, it must find nothing. As
an ordinary user without bubblewrap a worker reads what that user reads,
the test labels included: the README's documented degradation, asserted as
such.

The search is first run in this process on planted copies of every kind,
so that "nothing found" means something.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import utils
from autograder.harness import sandbox
from autograder.suite.results import plain
from tests import label_search
from tests.conftest import ROOT
from tests.gradescope_schema import problems
from tests.test_hostile import ISOLATED, inject, once

STRETCH = slice(5000, 5064)  # the labels searched for in the official order (in any order: all)
SECONDS = 240  # the search's deadline: it needs about a minute for a whole machine
ENV = {"GRADER_CALL_BUDGET": "300"}  # relu's budget, which the search uses (wall time: 3 times)
TAG = re.compile(r"LABEL-SEARCH (\{.*?\}) END")


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return utils.load_fashion_mnist("test")[1]


# --------------------------------------------------------- the search finds every kind of copy

def ar(members: dict[str, bytes]) -> bytes:
    """An ar archive, as a .deb is one."""
    out = b"!<arch>\n"
    for name, data in members.items():
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + b"\n" * (len(data) % 2)
    return out


def tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def deb(member: str, data_tar: bytes) -> bytes:
    """A Debian package whose data member is `member` (data.tar.xz, data.tar.zst)."""
    control = lzma.compress(tar({"./control": b"Package: dataset-fashion-mnist\n"}))
    return ar({"debian-binary": b"2.0\n", "control.tar.xz": control, member: data_tar})


def planted(labels: np.ndarray) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(copies, decoys), each file name -> content: every copy must be found, no decoy."""
    idx = (0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + labels.tobytes()
    shuffled = labels[np.random.default_rng(0).permutation(len(labels))]
    gz = gzip.compress(idx)
    npz = io.BytesIO()
    np.savez_compressed(npz, test_labels=labels.astype(np.int64))
    packaged = tar({"./usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz": gz})
    one_hot = np.eye(10, dtype=np.float32)[labels]
    copies = {
        "t10k-labels-idx1-ubyte.gz": gz, "renamed.bin": idx, "raw-shuffled.bin": shuffled.tobytes(),
        "u8.npy": npy(labels), "i64-shuffled.npy": npy(shuffled.astype(np.int64)),
        "i32.npy": npy(labels.astype(np.int32)), "f64.npy": npy(labels.astype(np.float64)),
        "onehot.npy": npy(one_hot), "probabilities.npy": npy(one_hot * 0.9 + 0.01),
        "cache.npz": npz.getvalue(), "column.csv": "\n".join(map(str, labels)).encode(),
        "list.json": json.dumps(labels.tolist()).encode(), "packed.xz": lzma.compress(idx),
        "packed.bz2": bz2.compress(idx), "archive.tar.gz": tar({"raw/t10k": idx}, "w:gz"),
        "autograder.zip": zip_of({"data/FashionMNIST/raw/t10k-labels-idx1-ubyte.gz": gz}),
        "dataset-fashion-mnist_1_all.deb": deb("data.tar.xz", lzma.compress(packaged)),
    }
    if shutil.which("zstd"):  # Ubuntu's packages compress their data with zstd
        zstd = subprocess.run(["zstd", "-c"], input=packaged, capture_output=True, check=True)
        copies["dataset-fashion-mnist_1ubuntu_all.deb"] = deb("data.tar.zst", zstd.stdout)
    nearly = shuffled.copy()
    nearly[0] = (nearly[0] + 1) % 10  # 999 of one class and 1,001 of another: not the test set
    train = utils.load_fashion_mnist("train")[1]
    decoys = {"train-labels-idx1-ubyte.gz": gzip.compress(train.tobytes()),
              "nearly.npy": npy(nearly),
              "uniform.bin": np.random.default_rng(1).integers(0, 10, 10_000, np.uint8).tobytes(),
              "mnist_reader.py": b"def load_mnist(path, kind='train'):\n    pass\n"}
    return copies, decoys


def test_the_search_finds_every_kind_of_copy_and_nothing_else(labels, tmp_path):
    copies, decoys = planted(labels)
    for name, data in {**copies, **decoys}.items():
        (tmp_path / name).write_bytes(data)
    search = label_search.Search(labels[STRETCH].tobytes(), 120)
    search.walk(str(tmp_path))
    where = {Path(re.split(r"[|: ]", c)[0]).name for c in search.copies}
    assert where == set(copies), f"missed {set(copies) - where}, found {where - set(copies)}"
    assert search.unopened == [] and search.errors == 0 and not search.late()


def test_the_search_reads_another_process_memory_where_it_may(labels):
    """The grader keeps its labels in memory, shuffled: a process allowed to read it finds them."""
    shuffled = labels[np.random.default_rng(2).permutation(len(labels))]
    code = "import sys; kept = bytes.fromhex(input()); print('ready', flush=True); input()"
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdin.write(shuffled.tobytes().hex() + "\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "ready\n"
        search = label_search.Search(labels[STRETCH].tobytes(), 60)
        search.processes([str(holder.pid)])
        memory = f"/proc/{holder.pid}/mem ("
        assert any(c.startswith(memory) for c in search.copies), search.summary()
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------- the folders a grading closes

def test_apts_cache_and_the_datasets_folders_are_closed_to_the_sandbox_user_while_grading():
    """Apt's cache (dataset-fashion-mnist_*.deb) is one of grader_secrets: closed whoever installed
    the package, and whether or not anyone ran `apt-get clean`."""
    user = sandbox.student_user()
    if user is None:
        pytest.skip("not root: workers run as this user, who reads the test labels "
                    "(README, Security model)")
    assert utils.APT_ARCHIVES in sandbox.grader_secrets()
    with sandbox.protected(sandbox.grader_secrets()):
        for folder in (utils.APT_ARCHIVES, utils.DEBIAN_DIR, utils.DATA_DIR):
            if folder.is_dir():
                done = subprocess.run([*sandbox.setpriv(user), "ls", str(folder)],
                                      capture_output=True, text=True)
                assert done.returncode != 0 and "Permission denied" in done.stderr, (folder, done)


# ------------------------------------------------------------------------- the hostile's search

def other_checkouts() -> list[str]:
    """This repository's other worktrees on this machine: a grading closes its own checkout's
    folders, not theirs. Gradescope and CI have one checkout; a shared machine may have more."""
    listing = subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
                             capture_output=True, text=True).stdout
    found = {Path(line[len("worktree "):]).resolve() for line in listing.splitlines()
             if line.startswith("worktree ")}
    return sorted(str(p) for p in found - {ROOT.resolve()})


def closed() -> bool:
    """Whether a worker here is kept from the grader's folders: as root, or by bubblewrap."""
    return ISOLATED or sandbox.confined()


def hostile(labels: np.ndarray) -> str:
    """The reference numpy_ann.py, whose first relu call searches, then fails with what it found.

    It looks first where the grader keeps its files (a worker can learn those paths from the
    grader's command line, as tests/test_hostile.py's do). Where it may read them, it finds the
    labels there at once: it stops after 30 s instead of searching the whole machine."""
    first = [str(ROOT), str(utils.DATA_DIR), str(utils.DEBIAN_DIR), str(utils.APT_ARCHIVES)]
    seconds = SECONDS if closed() else 30
    call = ("import json as _j, os as _o\n"
            "_ns = {'__name__': 'label_search'}\n"
            "exec(_LABEL_SEARCH, _ns)\n"
            "_own = [_o.environ.get(_n, '') for _n in ('GRADER_DATA', 'GRADER_LIB', 'HOME')]\n"
            f"_search = _ns['Search']({labels[STRETCH].tobytes()!r}, {seconds},\n"
            f"                        {other_checkouts()!r})\n"
            f"_found = _search.run([_f for _f in _own if _f] + {first!r}).summary()\n"
            "raise RuntimeError('LABEL-SEARCH ' + _j.dumps(_found) + ' END')\n")
    source = (ROOT / "solutions" / "numpy_ann.py").read_text()
    search = (ROOT / "tests" / "label_search.py").read_text()
    return inject(inject(source, "end", f"_LABEL_SEARCH = {search!r}\n"), "relu", once(call))


def searched(results: dict) -> dict:
    """What the hostile's search reported: the failure message of the test whose call ran it."""
    for test in results["tests"]:
        if (match := TAG.search(plain(test))) is not None:
            return json.loads(match.group(1))
    outputs = [t["output"][:300] for t in results["tests"]]
    raise AssertionError(f"no test reports the search: {outputs}")


def test_a_worker_finds_no_copy_of_the_test_labels(labels, run_grader, reference_copy):
    (reference_copy / "numpy_ann.py").write_text(hostile(labels))
    results = run_grader(reference_copy, only="numpy_ann", env=ENV)
    assert problems(results) == []
    found = searched(results)
    print("the hostile's search:", json.dumps(found))  # shown with -s, and on a failure
    if closed():
        # Every file and process the worker could read (as far as label_search's limits go), to the
        # end: no copy, and no file named like the dataset's left unopened. Copies in the project's
        # other checkouts (`elsewhere`) are not this grading's to close.
        assert found["copies"] == [] and found["unopened"] == [], found
        assert found["complete"], f"the search ran out of time: {found}"
    else:
        # Without bubblewrap, an ordinary user's worker reads what that user reads, the test labels
        # too (README, Security model): it finds them where the grader keeps them.
        assert any(c.startswith(str(utils.DATA_DIR)) for c in found["copies"]), found
