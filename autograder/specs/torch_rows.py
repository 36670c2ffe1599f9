"""The rows both PyTorch files share (not a spec itself: each PyTorch spec gives their ids).

`rows(ids)` gives each shared row the id its file assigned it, by key, so a
file's ids stay its own: adding a row to one file renumbers nothing.
"""

from autograder.specs import Row

SHARED = {  # key: (name, points, what it measures, the calls it reads)
    "forward_flat": (
        "forward: logits of shape (n, 10) for (n, 784) input",
        1,
        "model(X) for 16 flat images, and that it uses the model's weights",
        ("forward_flat",),
    ),
    "forward_image": (
        "forward: logits of shape (n, 10) for (n, 1, 28, 28) input",
        1,
        "model(X) for 16 images of shape (1, 28, 28)",
        ("forward_image",),
    ),
    "logits": (
        "forward: returns logits, not probabilities",
        2,
        "whether forward's rows are probabilities",
        ("forward_flat", "forward_image"),
    ),
    "loss_falls": (
        "fit: the loss falls",
        2,
        "the grader's loss on the training images before and after a small fit",
        ("fit_small", "evaluate_small"),
    ),
    "zero_grad": (
        "fit: gradients do not accumulate across steps",
        2,
        "each step's gradient against the one backward just computed",
        ("fit_small",),
    ),
    "parameters_change": (
        "fit: the parameters change",
        1,
        "the parameters before and after a small fit",
        ("fit_small",),
    ),
    "history": (
        "fit: the history has the contract's keys, one float per epoch",
        1,
        "the history fit returns, against the grader's measurement of the model",
        ("fit_small", "train"),
    ),
    "predict_indices": (
        "predict: int64 class indices of shape (n,)",
        1,
        "predict against the argmax of the model's logits",
        ("predict",),
    ),
    "predict_eval": (
        "predict: runs in eval mode without gradients",
        2,
        "every module's mode and autograd during predict",
        ("predict",),
    ),
    "plot": (
        "plot: writes a valid PNG and returns its Figure",
        1,
        "the file plot_train_val_metrics writes and the curves its Figure shows",
        ("plot",),
    ),
    "judgement": (
        "judgement: one of the three words, by the rule, on your history",
        1,
        "report_my_judgement on the trained model's history",
        ("judgement_own", "train"),
    ),
    "accuracy": (
        "accuracy: at least {threshold} on the test set",
        6,
        "test accuracy of a new instance given the trained state_dict, in a fresh worker",
        ("train", "test_predictions", "evaluate_trained"),
    ),
    "png_present": (
        "artifact: {png} is in the submission",
        1,
        "the submitted learning-curve PNG's presence",
        (),
    ),
    "png_real": (
        "artifact: the PNG is at least 300x200 pixels and not blank",
        1,
        "the submitted PNG's size and contrast",
        (),
    ),
}


def rows(ids: dict) -> tuple:
    """The shared rows, each with the id `ids` gives its key (every key must have one)."""
    missing = sorted(set(SHARED) - set(ids))
    if missing:
        raise KeyError(f"no id for the shared PyTorch rows {missing}")
    return tuple(Row(ids[key], *SHARED[key]) for key in SHARED)
