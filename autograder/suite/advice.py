"""Why a model missed its accuracy threshold: the root cause the grader saw, before generic advice.

In order: for numpy_ann, a backward right up to one constant factor (summed over the batch:
say so, not "lower the learning rate"); a failing unit test of what training is built from (fix that one
first), training that diverged (a NaN or infinite loss), a negative loss (no
cross-entropy is: nn.NLLLoss on raw logits), labels that do not travel with
their images, a failing training test, a model that predicts one class for
everything, and only then "train longer or tune". `root_cause` gives the
same diagnosis to tests that are credited only for a model seen to learn.
"""

from __future__ import annotations

import math

import numpy as np

from autograder import specs
from autograder.core import config

GENERIC = "Train for more epochs, or tune the learning rate."
FORWARD_INPUT = {"flat": "(n, 784)", "image": "(n, 1, 28, 28)"}
# For each kind of probes (specs.Kind.probes), the tests whose failure explains a low accuracy, in the order
# to fix them: the functions training is built from (before a divergence, which they often cause), then
# training itself (after it). "{file}" is the file's name.
UNITS = {
    # (not cross_entropy: numpy_ann's training never calls it, only its history does)
    "numpy": ["softmax: matches the reference", "forward: matches the reference on fixed weights",
              *(f"backward: d{p} matches the reference" for p in ("W1", "b1", "W2", "b2")),
              "step: subtracts lr times each gradient"],
    # forward on the layout the file's fit is given: a model that cannot run cannot learn
    "torch": ["forward: logits of shape (n, 10) for {input} input", "fit: the parameters change",
              "fit: gradients do not accumulate across steps"],
}
TRAINING = {
    "numpy": ["fit: the loss falls over a few epochs on a fixed batch", "fit: every sample is seen once per epoch"],
    "torch": ["fit: the loss falls", "predict: int64 class indices of shape (n,)"],
}


def rows(table: dict, file: str) -> list[str]:
    """The full names of `table`'s rows for FILE's kind, in order (none for a kind the table lacks)."""
    spec = specs.of(file)
    parts = table.get(spec.kind.probes, [])
    return [f"{file}." + part.format(input=FORWARD_INPUT.get(spec.layout, "")) for part in parts]


def numbered(name: str) -> str:
    """'test 1.7 (softmax: matches the reference)' for the row 'numpy_ann.softmax: matches the reference'."""
    return f"test {config.POINTS[name][0]} ({name.split('.', 1)[1]})"


NEGATIVE = {  # by kind of probes
    "numpy": "check cross_entropy: it is the mean over rows of -sum(y_true * log(y_pred))",
    "torch": "nn.NLLLoss on raw logits gives one, since it expects log-probabilities: use nn.CrossEntropyLoss "
             "on the logits (it applies log-softmax itself)",
}


def negative_loss(history, file: str) -> str | None:
    """What a history with a negative loss says (no cross-entropy is negative), or None."""
    history = history if isinstance(history, dict) else {}
    negative = [(key, i, v) for key in ("train_loss", "val_loss") if isinstance(history.get(key), list)
                for i, v in enumerate(history[key], 1) if isinstance(v, (int, float)) and v < 0]
    if not negative:
        return None
    key, epoch, value = negative[0]
    return (f"The {key} your fit reports is negative ({value:.4g} at epoch {epoch}), and a cross-entropy never "
            f"is: {NEGATIVE.get(specs.of(file).kind.probes, 'check the loss')}.")


def root_cause(ev, file: str, train, failing) -> str | None:
    """What to fix first when a model does not learn well, where the grader sees a cause; else None."""
    if specs.of(file).kind.probes == "numpy" and hasattr(ev, "entries"):
        from autograder.suite import scale  # a backward off by one factor: the cause, not the rate

        factor = scale.advice(scale.factor(ev))
        if factor:
            return factor
    first = next((name for name in rows(UNITS, file) if name in failing), None)
    if first is not None:
        return f"Fix {numbered(first)} first: it fails, and a model cannot learn well until it passes."
    history = train.get("history") if train is not None else None
    history = history if isinstance(history, dict) else {}
    losses = history.get("train_loss", [])
    losses = losses if isinstance(losses, list) else []
    bad = [i for i, v in enumerate(losses, 1) if not (isinstance(v, (int, float)) and math.isfinite(v))]
    if bad:
        return (f"Training diverged: the training loss was {losses[bad[0] - 1]} from epoch {bad[0]} on. Lower the "
                "learning rate, and check that softmax and the cross-entropy stay finite.")
    negative = negative_loss(history, file)
    if negative:
        return negative
    tracking = (ev.entries.get("fit_tracking") or {}).get("values") or {} if hasattr(ev, "entries") else {}
    mislabelled = tracking.get("mislabelled")
    if isinstance(mislabelled, int) and mislabelled > 0:
        return (f"fit hands backward labels that do not belong to their images ({mislabelled} of the "
                f"{2 * tracking.get('n', 0)} it passed in 2 epochs): shuffle X and y with the same permutation.")
    first = next((name for name in rows(TRAINING, file) if name in failing), None)
    if first is not None:
        return f"Fix {numbered(first)} first: it fails, and a model cannot learn well until it passes."
    return large_initial_weights(ev) if specs.of(file).kind.probes == "numpy" else None


def large_initial_weights(ev) -> str | None:
    """For numpy_ann: W1 as NumpyANN() initialises it (the small fit reads it off the model, before fitting), when
    its values are far larger than any usual initialisation gives (He: a standard deviation of sqrt(2 / 784))."""
    small = getattr(ev, "loaded", {}).get("fit_small")
    W1 = small.get("before_W1") if small is not None else None
    if not isinstance(W1, np.ndarray) or W1.ndim != 2 or not W1.size:
        return None
    spread = float(np.std(W1)) * math.sqrt(W1.shape[0])  # He gives about 1.4, Glorot about 1
    if not spread > 5:
        return None
    return (f"NumpyANN starts with large weights (W1's standard deviation is {np.std(W1):.3g}, for {W1.shape[0]} "
            f"inputs): scale them, for example by sqrt(2 / input_size) (He), or the ReLUs saturate the softmax and "
            "training stalls.")


def accuracy_advice(ev, file: str, train, pred: np.ndarray, failing) -> str:
    """One sentence on what to fix first; `failing` names the file's tests that failed (see conftest's record)."""
    cause = root_cause(ev, file, train, failing)
    if cause is not None:
        return cause
    classes = np.unique(pred)
    if len(classes) == 1:
        return (f"predict gives class {classes[0]} to every image: the model has not learned to tell them apart. "
                + GENERIC)
    return GENERIC
