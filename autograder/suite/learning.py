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
from autograder.core import config
from autograder.runtime import probes
from autograder.suite import advice, hardcoding, measure
from autograder.suite.graded import FAILED, check

LEARNED = 0.25  # accuracy on held-out test images that shows learning: chance is 0.10
REPORTED = "What this test checks is reported by your code itself, so it"  # how a gate's message begins


def accuracies(ev) -> dict[str, float]:
    """Accuracy on the grader's held-out labels, by what it was measured after ('small fit', 'training')."""
    grader = getattr(ev, "grader", None)
    if grader is None:
        return {}
    found = {}
    small = ev.entries.get("fit_small")
    if small is not None and small["ok"]:
        result = ev.loaded.get("fit_small") if hasattr(ev, "loaded") else None
        pred = None
        if ev.file == "numpy_ann" and result is not None:
            params = {k: result.get("after_" + k) for k in measure.PARAMS}
            if all(isinstance(v, np.ndarray) for v in params.values()):
                try:
                    X = utils.to_model_format(grader.heldout_images, None, "numpy")[0]
                    pred = measure.probabilities(params, X).argmax(axis=1)
                except (ValueError, FloatingPointError):
                    pred = None
        elif result is not None:
            pred = result.get("heldout_pred")
        found["small fit"] = score(pred, grader.test_labels[:probes.HELDOUT])
    trained = ev.entries.get("test_predictions")
    if trained is not None and trained["ok"]:
        result = ev.loaded.get("test_predictions") if hasattr(ev, "loaded") else None
        found["training"] = score(result.get("pred") if result else None, grader.test_labels)
    return found


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
        seen = {how: acc for how, acc in seen.items() if ev.file == "numpy_ann" and how == "small fit"}
        if not any(acc >= LEARNED for acc in seen.values()):
            another_cause(f"{what} is credited only for a model the grader has seen learn, and {ev.file}.py embeds "
                          f"what looks like data ({'; '.join(embedded)}), so its predictions show nothing.")
    if any(acc >= LEARNED for acc in seen.values()):
        return
    shown = "; ".join(f"after the {how} it got {acc:.0%} of held-out test images right" for how, acc in seen.items())
    loaded = getattr(ev, "loaded", {})
    cause = advice.root_cause(ev, ev.file, loaded.get("train"), FAILED)
    accuracy = next(name for name in config.POINTS if name.startswith(f"{ev.file}.accuracy:"))
    another_cause(f"{what} is credited only for a model the grader has seen learn, and it has not: "
                  f"{shown or 'neither the small fit nor training finished'} (chance is 10%, at least "
                  f"{LEARNED:.0%} counts). "
                  + (cause if cause else
                     f"Fix fit first: {advice.numbered(accuracy)} and the fit tests say what went wrong."))


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
