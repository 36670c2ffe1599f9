"""Unforgeable grades: a secret the worker cannot reach, a network the grader evaluates itself, records the
supervisor holds to a plan, and a grading that ends in time whatever a worker writes.

Each hostile below is graded as a real submission; the tests assert what the
grader did: the score, the message, the time it took.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.harness import sandbox
from autograder.suite import fixtures, measure
from tests.conftest import ROOT, accuracy_test, failed
from tests.gradescope_schema import problems
from tests.test_hostile import FAST, Hostile, grade_hostile, once

ISOLATED = sandbox.student_user() is not None

# ------------------------------------------------------------------ the grading's secrets


def old_probe_seeds(probe_seed: int) -> set[int]:
    """Every test-set seed the old derivation (probe seed = test seed % 2**62 + 1, then up to 1000 more for
    relu's kink) would let a worker try, from the probe seed it is given."""
    return {start - 1 + k * (1 << 62) for start in range(probe_seed - 1000, probe_seed + 1) for k in range(4)}


def test_the_probe_seed_is_derived_apart_from_the_test_sets():
    """Both seeds come from the grading's secret by their own HMAC: the probe seed leaks nothing of the other."""
    for n in range(20):
        secret = bytes([n]) * 32
        test_seed = fixtures.derive(secret, "test set")
        probe_seed = fixtures.Grader.probe_seed(fixtures.derive(secret, "probes"))
        assert test_seed not in old_probe_seeds(probe_seed)
        assert fixtures.derive(secret, "test set") == test_seed  # a regrade draws the same
    assert fixtures.derive(b"a" * 32, "test set") != fixtures.derive(b"b" * 32, "test set")


REPORT_REACH = """
import os as _o, sys as _y
_seen = dict(_o.environ)
_seen["argv"] = " ".join(_y.argv)
raise RuntimeError("REACH " + repr(sorted(_seen.items())))
"""


def test_nothing_in_the_workers_environment_or_arguments_holds_the_test_sets_seed(run_grader, reference_copy,
                                                                                  tmp_path):
    relu = "numpy_ann.relu: max(0, z) elementwise"
    salt = "unforgeable-salt"
    hostile = Hostile("reach", "relu", once(REPORT_REACH), {relu}, "REACH", env={**FAST, "GRADER_SALT": salt})
    results = grade_hostile(run_grader, reference_copy, hostile)
    reach = failed(results)[relu]
    # The grader's own derivation, for the file it graded (the relu hostile's bytes, with the salt).
    grader = fixtures.Grader.__new__(fixtures.Grader)
    grader.found = {"numpy_ann.py": reference_copy / "numpy_ann.py"}
    from autograder.harness import expected

    secret = grader.secret(expected.ensure())
    test_seed = fixtures.derive(secret, "test set")
    numbers = {int(n) for n in re.findall(r"\d{6,}", reach)}
    assert numbers, reach  # the probe seed at least
    assert test_seed not in numbers and str(test_seed) not in reach
    assert salt not in reach and secret.hex() not in reach
    assert all(test_seed not in old_probe_seeds(n) for n in numbers)


# ------------------------------------------------------------------ a classifier that is not a network

KNN = '''
import os as _os

_MEMORY = {}


def _training_images():
    """What a k-nearest-neighbours predict draws on: the training set, from memory or re-read from disk."""
    if "X" in _MEMORY:
        return _MEMORY["X"], _MEMORY["y"]
    import numpy as _n
    data = _os.environ.get("GRADER_DATA", "")
    for folder in (data, _os.path.join(data, "..", "..", "..", "data")):
        try:
            X = _n.load(_os.path.join(folder, "train_images.npy")).reshape(-1, 784) / 255.0
            y = _n.load(_os.path.join(folder, "train_labels.npy"))
            return X.astype("float32"), y
        except (OSError, ValueError):
            continue
    try:
        import utils as _u
        X, y = _u.load_fashion_mnist("train")
        return X.reshape(-1, 784).astype("float32") / 255.0, y
    except Exception:
        return None, None


def _knn(X):
    """Cosine nearest neighbour on a PCA of 50 components of the training images; None without them."""
    import numpy as _n
    train, labels = _training_images()
    if train is None:
        return None
    if "P" not in _MEMORY:
        sample = train[:5000] - train[:5000].mean(axis=0)
        _, vectors = _n.linalg.eigh(sample.T @ sample)
        _MEMORY["P"] = vectors[:, -50:].astype("float32")
        codes = train @ _MEMORY["P"]
        _MEMORY["codes"] = codes / (_n.linalg.norm(codes, axis=1, keepdims=True) + 1e-6)
        _MEMORY["labels"] = _n.asarray(labels).reshape(len(codes), -1)
        if _MEMORY["labels"].shape[1] > 1:
            _MEMORY["labels"] = _MEMORY["labels"].argmax(axis=1)
        _MEMORY["labels"] = _MEMORY["labels"].reshape(-1)
    X = _n.asarray(X, dtype="float32").reshape(len(X), -1)
    X = X / 255.0 if X.max() > 2 else X
    q = X @ _MEMORY["P"]
    q /= _n.linalg.norm(q, axis=1, keepdims=True) + 1e-6
    return _MEMORY["labels"][(q @ _MEMORY["codes"].T).argmax(axis=1)]
'''

NUMPY_KNN = KNN + '''

def _remember(X, y):
    import numpy as _n
    _MEMORY["X"], _MEMORY["y"] = _n.asarray(X, dtype="float32"), _n.asarray(y)


_fit, _predict = NumpyANN.fit, NumpyANN.predict


def _lazy_fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
    """A token network: one step, then the training set kept beside it."""
    _remember(X_train, y_train)
    return _fit(self, X_train[:64], y_train[:64], X_val[:64], y_val[:64], epochs=1, batch_size=64)


def _knn_predict(self, X):
    found = _knn(X)
    return _predict(self, X) if found is None else found


NumpyANN.fit, NumpyANN.predict = _lazy_fit, _knn_predict
'''

TORCH_KNN = KNN + '''

_forward, _fit = {cls}.forward, {cls}.fit


def _knn_forward(self, X):
    """The network's logits, outvoted by a nearest neighbour's class wherever the training set is in reach."""
    import torch as _t
    logits = _forward(self, X)
    found = _knn(X.detach().cpu().numpy())
    if found is None:
        return logits
    return logits + 100.0 * _t.nn.functional.one_hot(_t.as_tensor(found).long(), 10).to(logits.dtype)


def _lazy_fit(self, X_train, y_train, X_val, y_val, epochs=1, batch_size=128, learning_rate=1e-6):
    """A token network, hardly trained, with the training set kept beside it."""
    _MEMORY["X"] = X_train.reshape(len(X_train), -1).numpy().astype("float32")
    _MEMORY["y"] = y_train.numpy()
    _MEMORY.pop("P", None)
    return _fit(self, X_train[:256], y_train[:256], X_val, y_val, epochs=1, batch_size=256,
                learning_rate=1e-6)


{cls}.forward, {cls}.fit = _knn_forward, _lazy_fit
'''


@pytest.mark.skipif(not ISOLATED, reason="as an ordinary user the training data stays readable (README)")
def test_a_nearest_neighbour_predict_beside_a_token_numpy_network_earns_no_accuracy(run_grader, reference_copy):
    path = reference_copy / "numpy_ann.py"
    path.write_text(path.read_text() + NUMPY_KNN)
    results = run_grader(reference_copy, only="numpy_ann")
    assert problems(results) == []
    message = failed(results)[accuracy_test("numpy_ann")]
    assert "W1, b1, W2 and b2" in message and "depend on more than the network" in message, message


@pytest.mark.parametrize("file, cls", [("pytorch_ann", "PyTorchANN"), ("pytorch_cnn", "PyTorchCNN")])
@pytest.mark.skipif(not ISOLATED, reason="as an ordinary user the training data stays readable (README)")
def test_a_nearest_neighbour_forward_beside_a_token_layer_earns_no_accuracy_and_no_learning(
        run_grader, reference_copy, file, cls):
    path = reference_copy / f"{file}.py"
    path.write_text(path.read_text() + TORCH_KNN.replace("{cls}", cls))
    results = run_grader(reference_copy, only=file)
    assert problems(results) == []
    lost = failed(results)
    assert "fresh process" in lost[accuracy_test(file)], lost[accuracy_test(file)]
    assert "depend on more than the network" in lost[accuracy_test(file)]
    assert f"{file}.fit: the loss falls" in lost  # its own check, or the gate: a network seen to learn


# ------------------------------------------------------------------ records and deadlines

FORGED_DONE = '''
import json as _j, os as _o, struct as _s, sys as _y
def _frame(_h):
    _fd = int(_y.argv[_y.argv.index("--records-fd") + 1])
    _d = _j.dumps(_h).encode()
    _o.write(_fd, _s.pack(">I", len(_d)) + _d)
_real_fit = NumpyANN.fit
def _escape(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
    if len(X_train) < 50000:
        return _real_fit(self, X_train, y_train, X_val, y_val, epochs=epochs, batch_size=batch_size)
    # Tell the grader training is over, then train on while the next call's clock runs.
    _frame({"event": "done", "call": "train", "ok": True, "seconds": 1.0, "values": {}, "meta": {}})
    _frame({"event": "start", "call": "test_predictions", "output_at": 0})
    return _real_fit(self, X_train, y_train, X_val, y_val, epochs=epochs, batch_size=batch_size)
NumpyANN.fit = _escape
'''


def test_a_forged_done_does_not_let_training_escape_its_budget(run_grader, reference_copy):
    """A forged end of training is believed only as far as it goes: the network that counts is the one in
    train's own record (none here), and the real end of the call, now out of order, ends the worker."""
    path = reference_copy / "numpy_ann.py"
    path.write_text(path.read_text() + FORGED_DONE)
    results = run_grader(reference_copy, only="numpy_ann")
    assert problems(results) == []
    lost = failed(results)
    assert "could not be measured" in lost[accuracy_test("numpy_ann")], lost[accuracy_test("numpy_ann")]
    assert "numpy_ann.relu: max(0, z) elementwise" not in lost


SLEEPING_FIT = '''
import time as _time
_slept_fit = {cls}.fit
def _sleepy(self, *args, **kwargs):
    """Waits instead of computing: no CPU budget ever runs out, only the grader's clocks."""
    _t0 = _time.time()
    while _time.time() - _t0 < 300:
        _time.sleep(0.5)
    return _slept_fit(self, *args, **kwargs)
{cls}.fit = _sleepy
'''


def test_a_file_that_overruns_the_gradings_deadline_is_charged_alone(run_grader, reference_copy):
    """The second file waits forever; the grading still ends near its deadline, the file before it keeps
    every point, and the one that overran is charged with the cause named."""
    path = reference_copy / "pytorch_ann.py"
    path.write_text(path.read_text() + SLEEPING_FIT.replace("{cls}", "PyTorchANN"))
    (reference_copy / "pytorch_cnn.py").unlink()
    deadline = 70
    started = time.monotonic()
    results = run_grader(reference_copy, env={"GRADER_DEADLINE": str(deadline)})
    took = time.monotonic() - started
    assert problems(results) == []
    assert took < deadline + 45, took
    lost = failed(results)
    assert not [name for name in lost if name.startswith("numpy_ann.")], lost
    overran = [name for name, message in lost.items() if "grading's time ran out" in message]
    assert accuracy_test("pytorch_ann") in overran and "pytorch_ann.fit: the loss falls" in overran, lost


def test_a_nearest_neighbour_table_in_buffers_is_refused(run_grader, tmp_path):
    """Buffers that grew in fit into a table of the training set (and a load_state_dict of the class's own
    that takes them) do not reach the fresh worker's network: its accuracy cannot be measured."""
    folder = tmp_path / "knn"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "submissions" / "knn_buffers" / "pytorch_ann.py", folder)
    results = run_grader(folder, only="pytorch_ann")
    assert problems(results) == []
    lost = failed(results)
    assert "knn_bank, a buffer of" in lost[accuracy_test("pytorch_ann")], lost[accuracy_test("pytorch_ann")]
    assert "pytorch_ann.fit: the loss falls" in lost


def test_no_numpy_parameter_can_broadcast_into_a_table():
    """A b1 with one row per test image would add a lookup table to X W1: the grader takes the contract's
    shapes only, and says which one is wrong."""
    rng = np.random.default_rng(0)
    params = {"W1": np.zeros((784, 10)), "b1": rng.normal(size=(10000, 10)), "W2": np.eye(10),
              "b2": np.zeros((1, 10))}
    with pytest.raises(ValueError, match="b1 has shape"):
        measure.network(params, 784, 10)
    params["b1"] = np.zeros((100, 1, 10))
    with pytest.raises(ValueError, match="b1 has shape"):
        measure.network(params, 784, 10)
    params["b1"] = np.zeros(10)
    network = measure.network({**params, "W1": np.zeros((10, 784)), "W2": np.eye(10)}, 784, 10)
    assert network["W1"].shape == (784, 10) and network["b1"].shape == (1, 10)


def test_without_a_salt_the_secret_rests_on_random_bytes_made_here(tmp_path, monkeypatch):
    """The hidden expected values and the submission are no secret from a student who holds the reference's
    outputs: without GRADER_SALT, 32 random bytes made once (mode 0600) make the difference."""
    monkeypatch.delenv("GRADER_SALT", raising=False)
    monkeypatch.setattr(fixtures, "SALT", tmp_path / "build" / "salt")
    first = fixtures.salt()
    assert len(first) == 32 and fixtures.SALT.stat().st_mode & 0o777 == 0o600
    assert fixtures.salt() == first  # a regrade draws the same
    grader = fixtures.Grader.__new__(fixtures.Grader)
    grader.found = {}
    expected_dir = tmp_path / "expected"
    expected_dir.mkdir()
    secret = grader.secret(expected_dir)
    fixtures.SALT.unlink()
    assert grader.secret(expected_dir) != secret  # another machine's salt, another secret
    monkeypatch.setenv("GRADER_SALT", "given")
    assert fixtures.salt() == b"given"


# ------------------------------------------------------------------ what a worker leaves, and what it uses

ORPHAN = """
import os as _o, time as _t
if len(X_train) > 50000:  # in training with the defaults only
    if _o.fork() == 0:
        if _o.fork() == 0:  # the grandchild, orphaned to the grader: outside the worker's process tree
            _t0 = _t.time()
            while _t.time() - _t0 < 60:
                pass
        _o._exit(0)
    _o.wait()
    _t.sleep(40)  # the worker itself waits, using no CPU, while its orphan trains
"""


@pytest.mark.skipif(not ISOLATED, reason="as an ordinary user there is no user to count the CPU of")
def test_an_orphan_burning_cpu_counts_against_the_training_budget(run_grader, reference_copy):
    hostile = Hostile("orphan", "fit", ORPHAN, {accuracy_test("numpy_ann")}, "budget", env=FAST)
    results = grade_hostile(run_grader, reference_copy, hostile)
    message = failed(results)[accuracy_test("numpy_ann")]
    assert "of CPU time" in message and "wall-clock" not in message, message


SHARED_MEMORY = """
import ctypes as _c
_libc = _c.CDLL("libc.so.6", use_errno=True)
_libc.shmget.restype = _c.c_int
_id = _libc.shmget(0x5EED, 1 << 20, 0o1666)  # IPC_CREAT | 0666: a table for a later worker to read
"""


def ipc_of(uid: int) -> list[str]:
    """The System V shared-memory segments `uid` owns or created."""
    rows = [line.split() for line in open("/proc/sysvipc/shm").read().splitlines()[1:]]
    header = open("/proc/sysvipc/shm").readline().split()
    return [row[1] for row in rows if str(uid) in (row[header.index("uid")], row[header.index("cuid")])]


@pytest.mark.skipif(not ISOLATED, reason="as an ordinary user, System V objects are the user's own")
def test_shared_memory_a_worker_makes_does_not_outlive_it(run_grader, reference_copy):
    relu = "numpy_ann.relu: max(0, z) elementwise"
    hostile = Hostile("shm", "relu", SHARED_MEMORY, set(), keep={relu}, env=FAST)
    grade_hostile(run_grader, reference_copy, hostile)
    assert ipc_of(sandbox.student_user().pw_uid) == []


@pytest.mark.skipif(not ISOLATED, reason="as an ordinary user the files are the user's own")
def test_a_file_left_deep_in_a_world_writable_folder_is_removed(run_grader, reference_copy):
    folder = Path(tempfile.mkdtemp(prefix="world-writable-"))
    inner = folder / "inner"
    inner.mkdir()
    for path in (folder, inner):
        path.chmod(0o1777)
    try:
        code = f"open({str(inner / 'left.txt')!r}, 'w').write('a table for the next worker')"
        hostile = Hostile("nested", "relu", code, set(), keep={"numpy_ann.relu: max(0, z) elementwise"})
        grade_hostile(run_grader, reference_copy, hostile)
        assert not (inner / "left.txt").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


KEYRING = """
import ctypes as _c
_libc = _c.CDLL(None, use_errno=True)
_found = _libc.syscall(250, 10, -4, b"user", b"grader-left-this", 0)  # KEYCTL_SEARCH in the user keyring
if _found > 0:
    raise RuntimeError("FOUND a key an earlier worker left")
_libc.syscall(248, b"user", b"grader-left-this", b"a table", 7, -4)  # add_key to the user keyring
"""


@pytest.mark.skipif(not ISOLATED or os.uname().machine != "x86_64",
                    reason="keyrings are the user's own as an ordinary user; the syscall numbers are x86_64's")
def test_a_key_a_worker_leaves_in_its_keyring_is_gone_for_the_next(run_grader, reference_copy):
    relu = "numpy_ann.relu: max(0, z) elementwise"
    for _ in range(2):  # a second grading by the same sandbox user finds nothing of the first
        results = run_grader(reference_copy, only="numpy_ann", env=FAST) if _ else grade_hostile(
            run_grader, reference_copy, Hostile("keyring", "relu", KEYRING, set(), keep={relu}, env=FAST))
        assert "FOUND" not in failed(results).get(relu, ""), failed(results)


def test_answers_worked_out_in_training_and_packed_into_a_small_buffer_are_worth_nothing(run_grader, tmp_path):
    """A dead network whose fit classifies the test images it is shown (nearest neighbours) and packs the
    answers, 4 bits each, into a buffer under the cap, for forward to look up by each image's bytes: the
    network is graded on test images the training worker never saw."""
    folder = tmp_path / "smuggled"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "submissions" / "smuggled_answers" / "pytorch_ann.py", folder)
    results = run_grader(folder, only="pytorch_ann")
    message = failed(results)[accuracy_test("pytorch_ann")]
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", message)[1])
    assert accuracy < 50, message
