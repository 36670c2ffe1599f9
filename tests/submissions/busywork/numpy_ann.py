"""A degenerate submission that looks busy: the input returned, a one-hot "softmax", the parameters returned
as gradients, a fit that loops, shuffles and calls backward but never learns, and an invented history.

Each graded test it does not pass by design is a degenerate twin that must earn 0 (tests/test_degenerate.py).
"""

import numpy as np

import utils


def relu(z):
    return z


def relu_prime(z):
    return np.ones(np.shape(z))


def softmax(z):
    z = np.asarray(z)
    return (z == z.max(axis=-1, keepdims=True)).astype(float)


def cross_entropy(y_pred, y_true):
    return float(np.mean(y_pred))


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.1, random_seed=42):
        self.lr = lr
        self.rng = np.random.default_rng(random_seed)
        self.W1 = self.rng.standard_normal((hidden_size, input_size))
        self.b1 = np.zeros(hidden_size)
        self.W2 = self.rng.standard_normal((output_size, hidden_size))
        self.b2 = np.zeros(output_size)

    def forward(self, X):
        return softmax(X[:, :len(self.b2)])

    def backward(self, X, y_true):
        return {name: getattr(self, name).copy() for name in ("W1", "b1", "W2", "b2")}

    def step(self, grads):
        self.b2 = self.b2 + 0.0

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
        history = utils.new_history()
        for epoch in range(epochs):
            for idx in utils.minibatches(len(X_train), batch_size, self.rng):
                self.forward(X_train[idx])
                self.step(self.backward(X_train[idx], y_train[idx]))
            history["train_loss"].append(1.0 - 0.1 * epoch)
            history["val_loss"].append(1.1 - 0.1 * epoch)
            history["train_acc"].append(0.7 + 0.05 * epoch)
            history["val_acc"].append(0.69 + 0.05 * epoch)
        return history

    def predict(self, X):
        return np.asarray(X)[:, 0].astype(np.int64)
