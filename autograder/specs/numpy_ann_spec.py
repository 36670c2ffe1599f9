"""numpy_ann.py: a multilayer perceptron from scratch in NumPy (the rows of autograder/specs)."""

from autograder.specs import NUMPY_MLP, Row, Spec

GRADIENT = "the grader's own gradient of the mean cross-entropy, on the probe's batch"


def backward_rows(first: int) -> tuple[Row, ...]:
    """Two rows per parameter: against the grader's gradient, and against finite differences."""
    rows = []
    for i, p in enumerate(("W1", "b1", "W2", "b2")):
        rows += [
            Row(
                first + 2 * i,
                f"backward: d{p} matches the reference",
                2,
                f"d{p} against {GRADIENT}",
                ("backward",),
            ),
            Row(
                first + 2 * i + 1,
                f"backward: d{p} matches finite differences",
                1,
                f"d{p} against central differences of the grader's loss",
                ("backward",),
            ),
        ]
    return tuple(rows)


SPEC = Spec(
    file="numpy_ann",
    cls="NumpyANN",
    number=1,
    label="NumPy ANN",
    kind=NUMPY_MLP,
    layout="numpy",
    train_share=0.2,
    summary="an MLP from scratch in NumPy: relu, relu_prime, softmax, cross-entropy, forward, "
    "backward, step and a mini-batch training loop",
    rows=(
        Row(1, "relu: max(0, z) elementwise", 1, "relu on a fixed (4, 5) array", ("relu",)),
        Row(2, "relu: keeps the input's shape", 1, "relu on a (2, 3, 4) array", ("relu_3d",)),
        Row(
            3,
            "relu_prime: 1 where z > 0 and 0 where z < 0",
            1,
            "relu_prime away from 0",
            ("relu_prime",),
        ),
        Row(
            4,
            "relu_prime: zero at z == 0",
            1,
            "relu_prime at exact zeros (0.0 and -0.0)",
            ("relu_prime",),
        ),
        Row(
            5,
            "relu_prime: keeps the input's shape",
            1,
            "relu_prime on a (2, 3, 4) array",
            ("relu_prime_3d",),
        ),
        Row(6, "softmax: rows sum to 1", 1, "the row sums of softmax", ("softmax",)),
        Row(7, "softmax: matches the reference", 1, "softmax against the grader's", ("softmax",)),
        Row(
            8,
            "softmax: finite for logits near 1e4",
            2,
            "softmax of large logits",
            ("softmax_large",),
        ),
        Row(
            9,
            "softmax: unchanged when a row is shifted by a constant",
            1,
            "softmax(z + c) against softmax(z)",
            ("softmax", "softmax_shifted"),
        ),
        Row(
            10,
            "cross_entropy: the mean over rows, not the sum",
            2,
            "cross_entropy against the grader's mean",
            ("cross_entropy",),
        ),
        Row(
            11,
            "cross_entropy: finite where a probability is 0",
            1,
            "cross_entropy with exact zeros in y_pred",
            ("cross_entropy_zero", "cross_entropy"),
        ),
        Row(
            12,
            "init: parameters have the contract's shapes",
            1,
            "the shapes of W1, b1, W2 and b2 after NumpyANN(6, 5, 4)",
            ("init",),
        ),
        Row(
            13,
            "forward: matches the reference on fixed weights",
            3,
            "forward's probabilities against the grader's, on fixed weights",
            ("forward",),
        ),
        *backward_rows(14),
        Row(
            22,
            "backward: changes no parameter",
            1,
            "the parameters before and after backward",
            ("backward",),
        ),
        Row(
            23,
            "step: subtracts lr times each gradient",
            2,
            "the parameters after step(grads)",
            ("step",),
        ),
        Row(
            24,
            "fit: the loss falls over a few epochs on a fixed batch",
            2,
            "the grader's loss on the parameters before and after a small fit",
            ("fit_small",),
        ),
        Row(
            25,
            "fit: every sample is seen once per epoch",
            2,
            "the samples that reach backward, per epoch",
            ("fit_tracking",),
        ),
        Row(
            26,
            "fit: the order is reshuffled between epochs",
            1,
            "the order in which samples reach backward, epoch against epoch",
            ("fit_tracking",),
        ),
        Row(
            27,
            "fit: the history has the contract's keys, one float per epoch",
            1,
            "the history fit returns, against the grader's loss on its parameters",
            ("fit_small",),
        ),
        Row(
            28,
            "predict: class indices of shape (n,)",
            1,
            "predict against the argmax of the right probabilities",
            ("predict",),
        ),
        Row(
            29,
            "accuracy: at least {threshold} on the test set",
            5,
            "test accuracy of the grader's forward on the trained W1, b1, W2 and b2",
            ("train", "test_predictions"),
        ),
        Row(
            30,
            "imports: only NumPy and the standard library",
            1,
            "the modules loaded while the file ran",
            ("import", "modules"),
        ),
    ),
)
