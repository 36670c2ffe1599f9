"""A two-layer perceptron for Fashion-MNIST, from scratch in NumPy.

Fill in every region between `# >>> YOUR CODE HERE >>>` and
`# <<< END OF YOUR CODE <<<`, and delete the `raise NotImplementedError` line
in it. Use NumPy and the standard library only (and `utils`, which ships with
the assignment): no torch, tensorflow, jax or sklearn.

The network (n samples, D = input_size, H = hidden_size, C = output_size):

    z1 = X @ W1 + b1      (n, H)
    a1 = relu(z1)         (n, H)
    z2 = a1 @ W2 + b2     (n, C)
    a2 = softmax(z2)      (n, C)   class probabilities
    loss = cross_entropy(a2, y)    mean over the n rows

Run `python numpy_ann.py` (with .venv activated: `source .venv/bin/activate`;
or `make run FILE=numpy_ann.py`) to train on Fashion-MNIST and see your test
accuracy; run `make check` to see your score.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # utils.py, when run from the course repository
import utils  # noqa: E402


def relu(z):
    """Rectified linear unit, elementwise: max(0, z).

    Inputs:
    - z: array of any shape.

    Returns:
    - array of the same shape as z.
    """
    # >>> YOUR CODE HERE >>>
    raise NotImplementedError("relu")
    # <<< END OF YOUR CODE <<<


def relu_prime(z):
    """Derivative of relu with respect to z, elementwise.

    It is 1.0 where z > 0 and 0.0 where z <= 0 (we take the derivative at 0 to be 0).

    Inputs:
    - z: array of any shape.

    Returns:
    - float array of the same shape as z.
    """
    # >>> YOUR CODE HERE >>>
    raise NotImplementedError("relu_prime")
    # <<< END OF YOUR CODE <<<


def softmax(z):
    """Softmax of each row: exp(z) / sum(exp(z)) over the last axis.

    It must stay finite for logits as large as 1e4: subtract each row's
    maximum before exponentiating (this does not change the result).

    Inputs:
    - z: logits of shape (n, C).

    Returns:
    - probabilities of shape (n, C); each row sums to 1.
    """
    # >>> YOUR CODE HERE >>>
    raise NotImplementedError("softmax")
    # <<< END OF YOUR CODE <<<


def cross_entropy(y_pred, y_true):
    """Mean cross-entropy: the mean over rows of -sum(y_true * log(y_pred)).

    It must stay finite where y_pred holds an exact 0: clip y_pred away from 0
    (for example to at least 1e-12) before taking the log.

    Inputs:
    - y_pred: predicted probabilities of shape (n, C).
    - y_true: one-hot labels of shape (n, C).

    Returns:
    - the loss, a Python float (the mean over the n rows, not the sum).
    """
    # >>> YOUR CODE HERE >>>
    raise NotImplementedError("cross_entropy")
    # <<< END OF YOUR CODE <<<


class NumpyANN:
    """A multilayer perceptron with one hidden ReLU layer and a softmax output.

    Attributes (the autograder reads and sets them):
    - W1: weights of shape (input_size, hidden_size);  b1: biases of shape (1, hidden_size)
    - W2: weights of shape (hidden_size, output_size); b2: biases of shape (1, output_size)
    - lr: the learning rate used by step().
    """

    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.1, random_seed=42):
        utils.set_seed(random_seed)
        self.lr = lr
        self.rng = np.random.default_rng(random_seed)  # use it for the shuffling in fit
        # Initialise W1 and W2, for example with He initialisation: standard normal
        # values times sqrt(2 / fan_in), as float32 (self.rng.standard_normal(shape)
        # draws them); b1 and b2 with zeros. Mind the shapes in the class docstring.
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.__init__")
        # <<< END OF YOUR CODE <<<

    def forward(self, X):
        """Forward pass.

        Inputs:
        - X: input batch of shape (n, input_size).

        Returns:
        - a2: class probabilities of shape (n, output_size).

        Keep z1, a1 and a2 as attributes (self.z1, ...): backward needs them.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.forward")
        # <<< END OF YOUR CODE <<<

    def backward(self, X, y_true):
        """Gradients of the mean cross-entropy, for the batch last passed to forward.

        Inputs:
        - X: the same batch as the last call of forward, shape (n, input_size).
        - y_true: its one-hot labels, shape (n, output_size).

        Returns:
        - a dict {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, each of the
          shape of its parameter. With dz2 = (a2 - y_true) / n:
              dW2 = a1.T @ dz2        db2 = dz2 summed over the batch (axis 0)
              dz1 = (dz2 @ W2.T) * relu_prime(z1)
              dW1 = X.T @ dz1         db1 = dz1 summed over the batch (axis 0)

        Do not change any parameter here: step() does that.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.backward")
        # <<< END OF YOUR CODE <<<

    def step(self, grads):
        """One gradient-descent update: each parameter -= self.lr * grads[name].

        Inputs:
        - grads: the dict returned by backward.
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.step")
        # <<< END OF YOUR CODE <<<

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
        """Mini-batch gradient descent.

        Every epoch: shuffle the training set afresh (self.rng.permutation, or
        utils.minibatches(n, batch_size, self.rng)); for each batch, in order,
        forward, backward, step. Every sample is used exactly once per epoch,
        including those in a last, smaller batch. After each epoch, append the
        loss and accuracy on the whole training and validation sets to the
        history, and print a line with utils.progress(epoch, epochs, history).

        Inputs:
        - X_train: (n, input_size) float32; y_train: (n, output_size) one-hot.
        - X_val: (m, input_size) float32;   y_val: (m, output_size) one-hot.
        - epochs, batch_size: your hyperparameters; the grader uses these defaults.

        Returns:
        - history: {"train_loss": [...], "val_loss": [...], "train_acc": [...],
          "val_acc": [...]}, one float per epoch in each list, accuracies in [0, 1].
          utils.new_history() gives the empty dict.
        """
        history = utils.new_history()
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.fit")
        # <<< END OF YOUR CODE <<<
        return history

    def predict(self, X):
        """Predicted classes.

        Inputs:
        - X: (n, input_size).

        Returns:
        - integer class indices of shape (n,): the argmax of each row of forward(X).
        """
        # >>> YOUR CODE HERE >>>
        raise NotImplementedError("NumpyANN.predict")
        # <<< END OF YOUR CODE <<<


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("numpy")
    model = NumpyANN()
    started = time.perf_counter()
    model.fit(X_train, y_train, X_val, y_val)
    print(f"training took {time.perf_counter() - started:.1f} s")
    utils.report("numpy_ann", utils.accuracy(model.predict(X_test), y_test))
