"""A two-layer perceptron for Fashion-MNIST in PyTorch.

Fill in every region between `# >>> YOUR CODE HERE >>>` and
`# <<< END OF YOUR CODE <<<`, and delete the `raise NotImplementedError` line
in it.

Run `python pytorch_ann.py` (with .venv activated: `source .venv/bin/activate`;
or `make run FILE=pytorch_ann.py`) to train on Fashion-MNIST, see your test accuracy
and write pytorch_ann_train_val_metrics.png (submit it too); run
`make check` to see your score.
"""

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.append(str(Path(__file__).resolve().parent.parent))  # utils.py, when run from the course repository
import utils  # noqa: E402


class PyTorchANN(nn.Module):
    """Linear(input_size, hidden_size) -> ReLU -> Linear(hidden_size, output_size)."""

    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)  # before creating the layers, so their initial weights are reproducible
        # Create the layers as attributes (for example one nn.Sequential).
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.__init__")
        # <<< END OF YOUR CODE <<<

    def forward(self, X):
        """Logits for a batch.

        Inputs:
        - X: float32 Tensor of shape (n, 784) or (n, 1, 28, 28): flatten it first.

        Returns:
        - logits: Tensor of shape (n, output_size). Raw scores, never
          probabilities: nn.CrossEntropyLoss applies the softmax itself.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.forward")
        # <<< END OF YOUR CODE <<<

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=128, learning_rate=1e-3):
        """The training loop, for example with torch.optim.Adam and nn.CrossEntropyLoss.

        Every epoch: self.train(); go through the training set in a fresh
        random order (torch.randperm(n).split(batch_size)); for each batch
        zero the gradients, compute the loss, backpropagate and step. Then
        append to the history the training loss and accuracy averaged over
        the epoch's batches, and the loss and accuracy on the whole validation
        set (in eval mode, without gradients), and print a line with
        utils.progress(epoch, epochs, history).

        Inputs:
        - X_train: float32 (n, 784); y_train: int64 (n,) class indices.
        - X_val: float32 (m, 784);   y_val: int64 (m,).
        - epochs, batch_size, learning_rate: your hyperparameters; the grader uses these defaults.

        Returns:
        - history: {"train_loss", "val_loss", "train_acc", "val_acc"}: lists of
          Python floats, one per epoch, accuracies in [0, 1].
        """
        history = utils.new_history()
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.fit")
        # <<< END OF YOUR CODE <<<
        return history

    def predict(self, X):
        """Predicted classes, computed in eval mode (self.eval()) without gradients (torch.no_grad()).

        Inputs:
        - X: float32 Tensor of shape (n, 784) or (n, 1, 28, 28).

        Returns:
        - int64 Tensor of shape (n,): the argmax of each row of the logits.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.predict")
        # <<< END OF YOUR CODE <<<

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        """Learning curves: a loss panel and an accuracy panel, train and validation in each.

        `fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch ANN")` gives
        the labelled panels; plot the four curves with label="train" / "val",
        then `utils.save_figure(fig, path)`.

        Inputs:
        - history: the dict returned by fit.
        - path: where to write the PNG.

        Returns:
        - the matplotlib Figure.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.plot_train_val_metrics")
        # <<< END OF YOUR CODE <<<

    def report_my_judgement(self, history):
        """Your verdict on the training run, by this rule on the last epoch:

        - "overfitting"  if train_acc - val_acc > 0.05;
        - otherwise "underfitting" if train_acc < 0.80;
        - otherwise "generalizing".

        Inputs:
        - history: the dict returned by fit.

        Returns:
        - one of "overfitting", "underfitting", "generalizing".
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("PyTorchANN.report_my_judgement")
        # <<< END OF YOUR CODE <<<


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("flat")
    model = PyTorchANN()
    started = time.perf_counter()
    history = model.fit(X_train, y_train, X_val, y_val)
    print(f"training took {time.perf_counter() - started:.1f} s")
    utils.report("pytorch_ann", utils.accuracy(model.predict(X_test), y_test))
    png = Path(__file__).with_name("pytorch_ann_train_val_metrics.png")
    before = png.stat().st_mtime_ns if png.exists() else None
    model.plot_train_val_metrics(history, png)
    if png.exists() and png.stat().st_mtime_ns != before:
        print(f"wrote {png}")
    else:
        print(f"{png} was NOT written: plot_train_val_metrics must save the figure at the path it is given")
    print(f"judgement: {model.report_my_judgement(history)}")
