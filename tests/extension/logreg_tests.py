"""logreg.py: softmax and the test accuracy of the trained W and b, computed by the grader."""

import numpy as np
import pytest

import utils
from autograder.core import config
from autograder.specs import logreg_spec
from autograder.suite import measure
from autograder.suite.compare import close
from autograder.suite.graded import check, graded

FILE = "logreg"


@pytest.fixture(scope="module")
def ev(grader):
    return grader.evidence(FILE)


@graded("logreg.softmax: matches the grader's")
def test_softmax_matches(ev):
    got = ev.result("softmax", "softmax(z)")["out"]
    close(got, measure.softmax(logreg_spec.softmax_input()), "softmax(z)")


@graded(f"logreg.accuracy: at least {config.THRESHOLDS[FILE]:.0%} on the test set")
def test_accuracy(grader, ev):
    result = ev.result("train", "training with your defaults")
    W, b = result.get("state.W"), result.get("state.b")
    check(
        isinstance(W, np.ndarray) and W.shape == (784, 10) and np.size(b) == 10,
        "LogReg should hold W of shape (784, 10) and b with 10 values after fit",
    )
    X = utils.to_model_format(grader.test_images, None, "numpy")[0]
    acc = float(np.mean((X @ W + np.reshape(b, (1, 10))).argmax(axis=1) == grader.test_labels))
    check(
        acc >= config.THRESHOLDS[FILE],
        f"test accuracy {acc:.2%} (threshold {config.THRESHOLDS[FILE]:.0%})",
    )
