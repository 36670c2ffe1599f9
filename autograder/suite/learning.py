"""Did the model learn? Judged by the grader alone, from predictions on test images whose labels only it holds.

A worker runs student code, so whatever it reports about itself (that the
loss fell, that the optimizer stepped, that predict ran in eval mode, the
logits' shape) could be written by the student's code rather than measured.
Those reports are credited only for a model that the grader has seen learn:
its predictions on test images, whose labels the worker cannot read, beat
chance clearly, after the grader's small fit or after training with the
student's defaults. Code that learns nothing cannot fake that.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import utils
from autograder import specs
from autograder.core import config
from autograder.runtime import probes
from autograder.suite import advice, hardcoding, measure
from autograder.suite.graded import FAILED, check

LEARNED = 0.25  # accuracy on held-out test images that shows learning: chance is 0.10
REPORTED = "What this test checks is reported by your code itself, so it"  # how a gate's message begins


def accuracies(ev) -> dict[str, float]:
    """Accuracy on the grader's held-out labels, by what it was measured after ('small fit', 'training').

    Only the network's own predictions count: for numpy_ann the grader's forward on the parameters the
    worker read off the model; for a PyTorch file a new instance of the student's class, given the saved
    state in a fresh worker with no training data in reach (fixtures.Grader.evaluation).
    """
    grader = getattr(ev, "grader", None)
    if grader is None:
        return {}
    found = {}
    for which, how, labels in (("small", "small fit", grader.test_labels[:probes.HELDOUT]),
                               ("trained", "training", grader.test_labels)):
        pred, _ = network_predictions(ev, which)
        if pred is not None:
            found[how] = score(pred, labels)
    return found


SOURCES = {"small": ("fit_small", "after_", "heldout_images", "evaluate_small"),
           "trained": ("train", probes.STATE, "test_images", "evaluate_trained")}


def network_predictions(ev, which: str) -> tuple[np.ndarray | None, str]:
    """The classes the network itself gives ('small': after the small fit, on the held-out images;
    'trained': after training, on the test set), as the grader obtained them; else None and why not."""
    cache = ev.__dict__.setdefault("network_predictions", {})
    if which not in cache:
        own = specs.of(ev.file).kind.network == "parameters"  # else a fresh worker evaluated it
        cache[which] = numpy_predictions(ev, which) if own else evaluated(ev, which)
    return cache[which]


def numpy_predictions(ev, which: str) -> tuple[np.ndarray | None, str]:
    """numpy_ann: the contract's forward, computed by the grader on the parameters read off the model."""
    call, prefix, images, _ = SOURCES[which]
    result = getattr(ev, "loaded", {}).get(call)
    if result is None:
        return None, f"{call} did not finish"
    params = {k: result.get(prefix + k) for k in measure.PARAMS}
    if not all(isinstance(v, np.ndarray) for v in params.values()):
        return None, "the model holds no W1, b1, W2 and b2 after fit"
    X = utils.to_model_format(getattr(ev.grader, images), None, "numpy")[0]
    try:
        network = measure.network(params, X.shape[1], 10)
    except ValueError as e:
        return None, f"the contract's network cannot be computed from these parameters: {e}"
    with np.errstate(all="ignore"):
        return measure.classes(network, X), ""


def evaluated(ev, which: str) -> tuple[np.ndarray | None, str]:
    """A PyTorch file: what the fresh worker's new instance, given the saved state, predicted."""
    call, _, _, evaluation_call = SOURCES[which]
    if call not in getattr(ev, "loaded", {}):
        return None, f"{call} did not finish"
    grader = ev.grader
    evaluation = grader.evaluation(ev.file)
    problem = grader.state_problems.get(ev.file, {}).get(which)
    if problem:
        return None, f"the grader did not evaluate it: {problem}"
    why = evaluation.failure(evaluation_call, f"the {ev.file} network evaluated in a fresh process")
    if why:
        return None, why
    pred = evaluation.loaded[evaluation_call].get("pred")
    return (np.asarray(pred), "") if isinstance(pred, np.ndarray) else (None, "it returned no predictions")


def score(pred, labels) -> float:
    pred = np.asarray(pred) if pred is not None else None
    if pred is not None and pred.shape == (len(labels), 10) and pred.dtype.kind == "f":
        pred = pred.argmax(axis=1)  # a score per class, as the accuracy test takes it
    if pred is None or pred.shape != labels.shape or pred.dtype.kind not in "iuf":
        return 0.0
    return float(np.mean(pred == labels))


def embeds_data(ev) -> list[str]:
    """What in the file looks like embedded answers (hardcoding.findings): its predictions show no learning.
    Scanned once per file and grading."""
    if not hasattr(ev, "embedded"):
        source = ev.grader.source(ev.file) if hasattr(ev.grader, "source") else None
        ev.embedded = hardcoding.findings(source.read_bytes(), source.name) if source is not None else []
    return ev.embedded


def credited_if_learned(ev, what: str) -> None:
    """Fail, naming the cause, unless the grader has seen this file's model learn (see the module's docstring)."""
    if getattr(ev, "grader", None) is None:
        return  # no test labels here (the expected values)
    seen = accuracies(ev)
    embedded = embeds_data(ev)
    if embedded:
        # Predictions from a table of the public test set would pass for learning: only what the grader computes
        # itself counts then (numpy_ann's small fit, from its parameters); the student's predictions do not.
        own = specs.of(ev.file).kind.network == "parameters"
        seen = {how: acc for how, acc in seen.items() if own and how == "small fit"}
        if not any(acc >= LEARNED for acc in seen.values()):
            another_cause(f"{what} is credited only for a model the grader has seen learn, and {ev.file}.py embeds "
                          f"what looks like data ({'; '.join(embedded)}), so its predictions show nothing.")
    if any(acc >= LEARNED for acc in seen.values()):
        return
    if not embedded and ev.file in WORK and WORK[ev.file](ev):
        return  # real work the grader checked itself, where the network's accuracy shows none yet
    shown = "; ".join(f"after the {how} it got {acc:.0%} of held-out test images right" for how, acc in seen.items())
    if not shown:  # nothing measured: say why, where a fit finished
        reasons = [f"after the {how}, {why}" for which, how in (("small", "small fit"), ("trained", "training"))
                   if (why := network_predictions(ev, which)[1]) and "did not finish" not in why]
        shown = "; ".join(reasons)
    loaded = getattr(ev, "loaded", {})
    cause = advice.root_cause(ev, ev.file, loaded.get("train"), FAILED)
    accuracy = next(name for name in config.POINTS if name.startswith(f"{ev.file}.accuracy:"))
    another_cause(f"{what} is credited only for a model the grader has seen learn, and it has not: "
                  f"{shown or 'neither the small fit nor training finished'} (chance is 10%, at least "
                  f"{LEARNED:.0%} counts). "
                  + (cause if cause else
                     f"Fix fit first: {advice.numbered(accuracy)} and the fit tests say what went wrong."))


# file -> whether the grader has checked real work of the file's own on inputs it drew, beside learning: for
# numpy_ann, a backward that gives the true gradients up to one positive factor (test_numpy_ann.real_work), so
# that a right fit at a small learning rate, or beside the factor, keeps what it reports.
WORK: dict = {}


def another_cause(message: str) -> None:
    """Fail with `message`, marked as a failure whose cause another test reports (see graded.FAILED)."""
    try:
        check(False, message)
    except pytest.fail.Exception as e:
        e.not_the_cause = True
        raise


def gated_by(gate):
    """A decorator: the test is credited only once its own checks pass and then `gate(ev)` does not fail.

    The test must take the `ev` fixture.
    """
    def decorate(test):
        @functools.wraps(test)
        def wrapper(*args, **kwargs):
            test(*args, **kwargs)
            gate(kwargs.get("ev") or next(a for a in args if hasattr(a, "entries")))

        return wrapper

    return decorate


# Credited only once the grader has seen the model learn.
reported = gated_by(lambda ev: credited_if_learned(ev, REPORTED))
