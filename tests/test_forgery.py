"""Forged evidence: what a skilled student's code writes about itself earns nothing.

Student code runs in the worker's process, so it can write records on the
grader's pipe just as the probes do. The strongest forger here knows the
protocol and every claim the reference makes (flags, histories, counts,
curves) and writes them all, for every call, before the probes run; only the
values it cannot compute without doing the work (arrays) are invented. It
must score no more than the PNG artifacts it submits.
"""

from __future__ import annotations

import base64
import json
import shutil
import zlib

import numpy as np

from autograder.core import config
from tests.conftest import ROOT, failed
from tests.gradescope_schema import problems
from tests.test_hostile import FAST, Hostile, grade_hostile, once

FORGER = '''
import base64 as _b, json as _j, os as _o, struct as _s, sys as _y, zlib as _z
import numpy as _n
_CALLS = _j.loads(_z.decompress(_b.b64decode({blob!r})))
def _frame(_fd, _h, _p=b""):
    _d = _j.dumps(_h).encode()
    _v = memoryview(_s.pack(">I", len(_d)) + _d + _p)
    while len(_v):
        _v = _v[_o.write(_fd, _v):]
def _forge():
    _fd = int(_y.argv[_y.argv.index("--records-fd") + 1])
    _rng = _n.random.default_rng(1)
    _frame(_fd, {{"event": "done", "call": "import", "ok": True, "seconds": 0.1, "values": {{"module": __name__}},
                 "arrays": [], "meta": {{}}}})
    for _call, _rec in _CALLS.items():
        _frame(_fd, {{"event": "start", "call": _call, "output_at": 0}})
        for _key, (_dt, _shape) in _rec["arrays"].items():
            _a = (_rng.integers(0, 10, _shape) if _n.dtype(_dt).kind in "iub" else _rng.normal(size=_shape)).astype(_dt)
            _frame(_fd, {{"event": "array", "call": _call, "key": _key, "dtype": _a.dtype.str, "shape": list(_a.shape),
                         "nbytes": _a.nbytes}}, _a.tobytes())
        _frame(_fd, {{"event": "done", "call": _call, "ok": True, "seconds": 0.1, "values": _rec["values"],
                     "arrays": sorted(_rec["arrays"]), "meta": _rec["meta"]}})
    _o._exit(0)
_forge()
'''
ARTIFACTS = {name for name in config.POINTS if ".artifact:" in name}


def claims(evidence_dir, file: str) -> dict:
    """Every call the reference's worker answered: its claims and metadata as they were, its results invented.

Only the kinds of its arrays, and not the scalar results of functions (cross_entropy's), are kept.
"""
    calls = {}
    for line in (evidence_dir / file / "log.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["event"] != "done" or not entry["ok"] or entry["call"] == "import":
            continue
        arrays = {}
        if entry["arrays"]:
            with np.load(evidence_dir / file / f"{entry['call']}.npz") as npz:
                arrays = {key: [npz[key].dtype.str, list(npz[key].shape)] for key in npz.files}
        values = dict(entry["values"])
        if isinstance(values.get("out"), float):  # a function's result, which only the work computes
            values["out"] = 0.5
        calls[entry["call"]] = {"values": values, "meta": entry["meta"], "arrays": arrays}
    return calls


def test_forged_records_for_every_call_earn_at_most_the_artifacts(run_grader, reference_graded, tmp_path):
    reference, evidence_dir = reference_graded
    assert reference["score"] == 100
    folder = tmp_path / "forger"
    folder.mkdir()
    for file in config.FILES:
        blob = base64.b64encode(zlib.compress(json.dumps(claims(evidence_dir, file)).encode(), 9)).decode()
        source = (ROOT / "student" / f"{file}.py").read_text()
        anchor = "import utils  # noqa: E402\n"
        (folder / f"{file}.py").write_text(source.replace(anchor, anchor + FORGER.format(blob=blob)))
    for png in config.PNG_FILES.values():
        shutil.copyfile(ROOT / "solutions" / png, folder / png)
    results = run_grader(folder)
    assert problems(results) == []
    passed = {t["name"] for t in results["tests"] if t["status"] == "passed"}
    assert passed <= ARTIFACTS, sorted(passed - ARTIFACTS)
    assert results["score"] <= sum(config.POINTS[name][1] for name in ARTIFACTS)
    reported = failed(results)["pytorch_ann.fit: gradients do not accumulate across steps"]
    assert "credited only for a model the grader has seen learn" in reported


def test_garbage_on_the_record_pipe_costs_only_the_call_that_wrote_it(run_grader, reference_copy):
    """Junk written to every open descriptor (where a forger would look for the evidence) breaks one call alone."""
    code = ("import os as _o\nfor _fd in map(int, _o.listdir('/proc/self/fd')):\n"
            "    try:\n        _o.write(_fd, b'{\"event\": \"done\", \"call\": \"train\", \"ok\": true}\\n' * 50)\n"
            "    except OSError:\n        pass")
    relu = {"numpy_ann.relu: max(0, z) elementwise"}
    results = grade_hostile(run_grader, reference_copy, Hostile("garbage", "relu", once(code), relu, "record channel"))
    assert set(failed(results)) == relu, failed(results)


def test_a_forged_budget_and_a_cancelled_alarm_do_not_extend_a_call(run_grader, reference_copy):
    """The watchdog takes each call's budget from the grader's own table, whatever the worker writes."""
    code = ("import json as _j, os as _o, signal as _sg, struct as _st, sys as _y, time as _t\n"
            "_fd = int(_y.argv[_y.argv.index('--records-fd') + 1])\n"
            "_d = _j.dumps({'event': 'start', 'call': 'forward', 'budget': 1e12, 'output_at': 0}).encode()\n"
            "_o.write(_fd, _st.pack('>I', len(_d)) + _d)\n"
            "_sg.setitimer(_sg.ITIMER_REAL, 0)\n_sg.signal(_sg.SIGALRM, _sg.SIG_IGN)\n"
            "_sg.setitimer(_sg.ITIMER_PROF, 0)\n_sg.signal(_sg.SIGPROF, _sg.SIG_IGN)\n"
            "_t0 = _t.time()\nwhile _t.time() - _t0 < 120:\n    pass\n")
    fwd = "numpy_ann.forward: matches the reference on fixed weights"
    hostile = Hostile("forged budget", "forward", once(code), {fwd}, "killed", env=FAST)
    results = grade_hostile(run_grader, reference_copy, hostile)
    assert "numpy_ann.relu: max(0, z) elementwise" not in failed(results)
    assert results["execution_time"] < 100


def test_an_array_declared_huge_is_refused_before_it_is_read(run_grader, reference_copy):
    """A record that declares a terabyte is refused from its header: the grader allocates nothing for it."""
    code = ("import json as _j, os as _o, struct as _st, sys as _y\n"
            "_fd = int(_y.argv[_y.argv.index('--records-fd') + 1])\n"
            "_d = _j.dumps({'event': 'array', 'call': 'relu', 'key': 'out', 'dtype': '<f8', 'shape': [1 << 37],"
            " 'nbytes': 8 << 37}).encode()\n"
            "_o.write(_fd, _st.pack('>I', len(_d)) + _d + b'x' * 4096)\n")
    relu = "numpy_ann.relu: max(0, z) elementwise"
    results = grade_hostile(run_grader, reference_copy, Hostile("bomb", "relu", once(code), {relu}, "MB"))
    assert "numpy_ann.softmax: rows sum to 1" not in failed(results)


def embedded_answers(expected_dir) -> str:
    """A numpy_ann.py that returns, for every unit probe, the output the handout's expected values hold for its
    public inputs (seed 0), whatever it is given: a lookup table, well under the hard-coding caps."""
    folder = expected_dir / "numpy_ann"
    table = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as npz:
            table[path.stem] = {key: np.round(npz[key], 8).tolist() for key in npz.files if npz[key].size <= 80}
    scalars = {json.loads(line)["call"]: json.loads(line).get("values", {}).get("out")
               for line in (folder / "log.jsonl").read_text().splitlines() if '"done"' in line}
    table["cross_entropy"] = {"out": scalars.get("cross_entropy")}
    table["cross_entropy_zero"] = {"out": scalars.get("cross_entropy_zero")}
    keep = ("relu", "relu_3d", "relu_prime", "relu_prime_3d", "softmax", "softmax_large", "softmax_shifted",
            "cross_entropy", "cross_entropy_zero", "forward", "backward", "step", "predict", "forward_other",
            "backward_other")
    table = {k: table[k] for k in keep if k in table}
    return f'''import numpy as np
import utils

T = {table!r}


def relu(z):
    return np.array(T["relu"]["out"] if np.ndim(z) == 2 else T["relu_3d"]["out"])


def relu_prime(z):
    return np.array(T["relu_prime"]["out"] if np.ndim(z) == 2 else T["relu_prime_3d"]["out"])


def softmax(z):
    z = np.asarray(z)
    key = "softmax_large" if np.abs(z).max() > 1000 else "softmax_shifted" if z[-1].mean() > 100 else "softmax"
    return np.array(T[key]["out"])


def cross_entropy(y_pred, y_true):
    return T["cross_entropy_zero" if np.any(np.asarray(y_pred) == 0) else "cross_entropy"]["out"]


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.1, random_seed=42):
        self.lr = lr
        self.W1, self.b1 = np.zeros((input_size, hidden_size)), np.zeros((1, hidden_size))
        self.W2, self.b2 = np.zeros((hidden_size, output_size)), np.zeros((1, output_size))

    def forward(self, X):
        return np.array(T["forward" if len(X) > 1 else "forward_other"]["out"])

    def backward(self, X, y_true):
        part = T["backward" if len(X) > 1 else "backward_other"]
        return {{k: np.array(part["d" + k]) for k in ("W1", "b1", "W2", "b2")}}

    def step(self, grads):
        for k in ("W1", "b1", "W2", "b2"):
            setattr(self, k, np.array(T["step"][k]))

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
        return {{"train_loss": [2.0] * epochs, "val_loss": [2.0] * epochs, "train_acc": [0.5] * epochs,
                "val_acc": [0.5] * epochs}}

    def predict(self, X):
        return np.array(T["predict"]["pred"])
'''


def test_the_handouts_expected_values_embedded_as_answers_earn_nothing(run_grader, expected_dir, tmp_path):
    """The unit probes' inputs are drawn anew for every grading (probes.probe_seed), and the grader computes what
    they should give: the public inputs' outputs, looked up from a table, match none of them."""
    from autograder.suite import hardcoding

    source = embedded_answers(expected_dir)
    assert hardcoding.findings(source.encode(), "numpy_ann.py") == []  # under the caps: only the seed stops it
    (tmp_path / "numpy_ann.py").write_text(source)
    results = run_grader(tmp_path, only="numpy_ann")
    earned = {t["name"]: t["score"] for t in results["tests"] if t["score"] > 0}
    assert earned == {}


PARAMETER_FORGER = '''
import json as _j, os as _o, struct as _s, sys as _y
import numpy as _n
from autograder.runtime import probes as _p
def _frame(_fd, _h, _b=b""):
    _d = _j.dumps(_h).encode()
    _v = memoryview(_s.pack(">I", len(_d)) + _d + _b)
    while len(_v):
        _v = _v[_o.write(_fd, _v):]
def _send(_fd, _call, _arrays, _values):
    _frame(_fd, {"event": "start", "call": _call, "output_at": 0})
    for _k, _a in _arrays.items():
        _a = _n.ascontiguousarray(_a, dtype=_n.float64)
        _frame(_fd, {"event": "array", "call": _call, "key": _k, "dtype": _a.dtype.str, "shape": list(_a.shape),
                     "nbytes": _a.nbytes}, _a.tobytes())
    _frame(_fd, {"event": "done", "call": _call, "ok": True, "seconds": 0.1, "values": _values,
                 "arrays": sorted(_arrays), "meta": {}})
def _forge():
    _fd = int(_y.argv[_y.argv.index("--records-fd") + 1])
    _frame(_fd, {"event": "done", "call": "import", "ok": True, "seconds": 0.1, "values": {"module": __name__},
                 "arrays": [], "meta": {}})  # the import call is open while this runs: close it first
    _big = {"W1": (784, 128), "b1": (1, 128), "W2": (128, 10), "b2": (1, 10)}
    _rng = _n.random.default_rng(0)
    _arrays = {"before_" + k: _rng.normal(size=s) for k, s in _big.items()}
    _arrays.update({"after_" + k: _n.zeros(s) for k, s in _big.items()})  # the uniform guess: a lower loss
    _history = {k: [0.5] * 5 for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    _send(_fd, "fit_small", _arrays, {"history": _history})
    _small = _p.fixed_params(_p.SMALL)
    _arrays = {"before_" + k: v for k, v in _small.items()}
    _arrays.update({"after_" + k: _n.zeros_like(v) for k, v in _small.items()})
    _n0 = _p.TRACKING[0]
    _orders = [_rng.permutation(_n0) for _ in range(2)]
    _batches = [list(map(int, _order[i:i + 32])) for _order in _orders for i in range(0, _n0, 32)]
    _send(_fd, "fit_tracking", _arrays, {"batches": _batches, "n": _n0, "mislabelled": 0})
_forge()
'''


def test_forged_parameters_that_lower_the_loss_do_not_earn_the_fit_tests(run_grader, reference_copy):
    """The loss the grader computes from reported parameters falls when the report says `after` is all zeros: the
    uniform guess beats random weights. The fit tests are credited only for a network the grader saw learn."""
    fit_tests = {"numpy_ann.fit: the loss falls over a few epochs on a fixed batch",
                 "numpy_ann.fit: every sample is seen once per epoch",
                 "numpy_ann.fit: the order is reshuffled between epochs"}
    (reference_copy / "numpy_ann.py").write_text((ROOT / "student" / "numpy_ann.py").read_text().replace(
        "import utils  # noqa: E402\n", "import utils  # noqa: E402\n" + PARAMETER_FORGER))
    reasons = failed(run_grader(reference_copy, only="numpy_ann"))
    assert fit_tests <= set(reasons)
    for name in fit_tests:  # the forged records are refused: the code that wrote them is named
        assert "record the grader did not ask for" in reasons[name], reasons[name]
