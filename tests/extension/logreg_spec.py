"""logreg.py: softmax regression in NumPy. A kind of its own, with its own probes, schemas and rows.

The worked example of a fourth graded file (README, "Add a graded file"):
this module is both the file's spec and its kind's probes, which the worker
runs (specs.Kind.probes names this module).
"""

from autograder.runtime.records import record
from autograder.specs import Kind, Row, Spec

KIND = Kind(
    "numpy-logreg", probes=__name__, network="own"
)  # its tests score the trained W and b themselves
UNIT = ("softmax",)  # the calls its worker records, in order
TRAIN = ("train",)
SCHEMAS = {"softmax": record("out"), "train": record("epochs", families=("state.",))}


def softmax_input():
    from autograder.runtime import probes

    return probes.fixed((5, 10), 31, 3.0)


def unit_probes(mod, ctx, spec):
    import numpy as np

    yield "softmax", lambda: {"out": np.asarray(mod.softmax(softmax_input()))}


def train_probes(mod, ctx, spec):
    import numpy as np

    def train():
        X_train, y_train, X_val, y_val = ctx.train_data(spec.layout)
        model = getattr(mod, spec.cls)()
        history = model.fit(X_train, y_train, X_val, y_val)
        return {
            "state.W": np.asarray(model.W, dtype=np.float64),
            "state.b": np.asarray(model.b, np.float64),
            "epochs": len(history) if isinstance(history, list) else 0,
        }

    yield "train", train


SPEC = Spec(
    file="logreg",
    cls="LogReg",
    number=4,
    label="Logistic regression",
    kind=KIND,
    layout="numpy",
    train_share=0.0,
    summary="softmax regression in NumPy",
    rows=(
        Row(1, "softmax: matches the grader's", 2, "softmax against the grader's", ("softmax",)),
        Row(
            2,
            "accuracy: at least {threshold} on the test set",
            4,
            "test accuracy of argmax(X W + b), computed by the grader",
            ("train",),
        ),
    ),
)
