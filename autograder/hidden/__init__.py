"""The hidden tests' inputs and points: graded by `make grade` and on Gradescope, never in the student handout.

Where this file is present (the course repository, the Gradescope zip),
the specs (autograder/specs) add the hidden tests' rows and the workers run their probes;
in the handout it is absent, and the grader knows only the visible tests.
The tests themselves are in tests/test_hidden.py, also left out of the handout.
"""

from __future__ import annotations

from autograder.runtime.records import BACKWARD, OUT, record
from autograder.specs import HIDDEN, Row

# Each file's hidden rows (autograder/specs.Row), with ids of that file that no visible row has: a new row of a
# file, visible or hidden, takes its spec's next free id. Points add up to 100 with the visible ones.
ROWS = {
    "numpy_ann": (
        Row(31, "forward: matches the reference for a 3-7-5 network and a batch of 1", 2,
            "forward on another shape and a batch of 1", ("forward_other",), HIDDEN),
        Row(32, "backward: matches the reference for a 3-7-5 network and a batch of 1", 2,
            "backward on another shape and a batch of 1", ("backward_other",), HIDDEN),
    ),
    **{file: (Row(number, "judgement: follows the rule on three textbook histories", 2,
                  "report_my_judgement on three textbook histories", ("judgement_textbook",), HIDDEN),)
       for file, number in (("pytorch_ann", 15), ("pytorch_cnn", 16))},
}

# The recorded calls that only the hidden tests read (their expected values stay out of the handout too).
NUMPY_CALLS = ("forward_other", "backward_other")
TORCH_CALLS = ("judgement_textbook",)
CALLS = NUMPY_CALLS + TORCH_CALLS
SCHEMAS = {  # their records' keys (runtime/records.py), by kind of probes
    "numpy": {"forward_other": OUT,
              "backward_other": BACKWARD},
    "torch": {"judgement_textbook": record("overfitting", "underfitting", "generalizing")},
}

OTHER = (3, 7, 5)  # another shape (input, hidden, output sizes), and a batch of 1

TEXTBOOK_HISTORIES = {
    "overfitting": {"train_loss": [0.6, 0.3, 0.1], "val_loss": [0.6, 0.5, 0.7],
                    "train_acc": [0.80, 0.92, 0.98], "val_acc": [0.79, 0.84, 0.85]},
    "underfitting": {"train_loss": [2.2, 2.0, 1.9], "val_loss": [2.2, 2.0, 1.9],
                     "train_acc": [0.30, 0.40, 0.45], "val_acc": [0.31, 0.41, 0.45]},
    "generalizing": {"train_loss": [0.6, 0.45, 0.4], "val_loss": [0.6, 0.47, 0.42],
                     "train_acc": [0.80, 0.85, 0.87], "val_acc": [0.79, 0.84, 0.86]},
}


def numpy_probes(mod, numpy_model, batch, backward_probe):
    """(call, probe) pairs for numpy_ann, built with the helpers of probes.py."""
    import numpy as np

    yield "forward_other", lambda: {"out": np.asarray(numpy_model(mod, OTHER).forward(batch(OTHER, 1)[0]))}
    yield "backward_other", lambda: backward_probe(OTHER, 1)


def torch_probes(cls):
    """(call, probe) pairs for the PyTorch files."""

    def textbook():
        model = cls()
        return {name: model.report_my_judgement(h) for name, h in TEXTBOOK_HISTORIES.items()}

    yield "judgement_textbook", textbook
