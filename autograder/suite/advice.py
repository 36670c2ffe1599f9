"""Why a model missed its accuracy threshold: the root cause the grader saw, before generic advice.

In order: a failing unit test of what training is built from (fix that one
first), training that diverged (a NaN or infinite loss), a failing training
test, a model that predicts one class for everything, and only then "train
longer or tune".
"""

from __future__ import annotations

import math

import numpy as np

from autograder.core import config

GENERIC = "Train for more epochs, or tune the learning rate."
# For each file, the tests whose failure explains a low accuracy, in the order to fix them: the functions
# training is built from (before a divergence, which they often cause), then training itself (after it).
UNITS = {
    "numpy_ann": ["numpy_ann.softmax: matches the reference", "numpy_ann.cross_entropy: the mean over rows, not the sum",
                  "numpy_ann.forward: matches the reference on fixed weights",
                  *(f"numpy_ann.backward: d{p} matches the reference" for p in ("W1", "b1", "W2", "b2")),
                  "numpy_ann.step: subtracts lr times each gradient"],
    **{f: [f"{f}.fit: the parameters change", f"{f}.fit: gradients do not accumulate across steps"]
       for f in ("pytorch_ann", "pytorch_cnn")},
}
TRAINING = {
    "numpy_ann": ["numpy_ann.fit: the loss falls over a few epochs on a fixed batch",
                  "numpy_ann.fit: every sample is seen once per epoch"],
    **{f: [f"{f}.fit: the loss falls", f"{f}.predict: int64 class indices of shape (n,)"]
       for f in ("pytorch_ann", "pytorch_cnn")},
}


def numbered(name: str) -> str:
    return f"test {config.POINTS[name][0]} ({name.split(': ', 1)[1]})"


def accuracy_advice(ev, file: str, train, pred: np.ndarray, failing: list[str]) -> str:
    """One sentence on what to fix first; `failing` names the file's tests that failed (see conftest's record)."""
    first = next((name for name in UNITS[file] if name in failing), None)
    if first is not None:
        return f"Fix {numbered(first)} first: it fails, and a model cannot learn well until it passes."
    history = train.get("history") if train is not None else None
    losses = history.get("train_loss", []) if isinstance(history, dict) else []
    bad = [i for i, v in enumerate(losses, 1) if not (isinstance(v, (int, float)) and math.isfinite(v))]
    if bad:
        return (f"Training diverged: the training loss was {losses[bad[0] - 1]} from epoch {bad[0]} on. Lower the "
                "learning rate, and check that softmax and the cross-entropy stay finite.")
    first = next((name for name in TRAINING[file] if name in failing), None)
    if first is not None:
        return f"Fix {numbered(first)} first: it fails, and a model cannot learn well until it passes."
    classes = np.unique(pred)
    if len(classes) == 1:
        return (f"predict gives class {classes[0]} to every image: the model has not learned to tell them apart. "
                + GENERIC)
    return GENERIC
