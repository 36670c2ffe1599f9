"""A two-layer perceptron for Fashion-MNIST, from scratch in NumPy (reference solution)."""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # utils.py, when run from the course repository
import utils  # noqa: E402


def relu(z):
    """max(0, z), elementwise. z: any shape. Returns the same shape."""
    return np.maximum(0, z)


def relu_prime(z):
    """Derivative of relu: 1.0 where z > 0, 0.0 where z <= 0. Same shape as z."""
    return (z > 0).astype(np.result_type(z, np.float32))


def softmax(z):
    """Row-wise softmax over the last axis of z, shape (n, k). Returns (n, k)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(y_pred, y_true):
    """Mean over rows of -sum(y_true * log(y_pred)). Both (n, k). Returns a float."""
    return float(-np.mean(np.sum(y_true * np.log(np.clip(y_pred, 1e-12, None)), axis=1)))


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.1, random_seed=42):
        utils.set_seed(random_seed)
        self.lr = lr
        self.rng = np.random.default_rng(random_seed)
        self.W1 = (self.rng.standard_normal((input_size, hidden_size)) * np.sqrt(2 / input_size)).astype(np.float32)
        self.b1 = np.zeros((1, hidden_size), dtype=np.float32)
        self.W2 = (self.rng.standard_normal((hidden_size, output_size)) * np.sqrt(2 / hidden_size)).astype(np.float32)
        self.b2 = np.zeros((1, output_size), dtype=np.float32)

    def forward(self, X):
        """X (n, input_size) -> class probabilities (n, output_size)."""
        self.z1 = X @ self.W1 + self.b1
        self.a1 = relu(self.z1)
        self.a2 = softmax(self.a1 @ self.W2 + self.b2)
        return self.a2

    def backward(self, X, y_true):
        """Gradients of the mean cross-entropy for the batch last passed to forward."""
        dz2 = (self.a2 - y_true) / len(X)
        dz1 = (dz2 @ self.W2.T) * relu_prime(self.z1)
        return {
            "W1": X.T @ dz1, "b1": dz1.sum(axis=0, keepdims=True),
            "W2": self.a1.T @ dz2, "b2": dz2.sum(axis=0, keepdims=True),
        }

    def step(self, grads):
        for name, grad in grads.items():
            setattr(self, name, getattr(self, name) - self.lr * grad)

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
        history = utils.new_history()
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            for idx in utils.minibatches(len(X_train), batch_size, self.rng):
                self.forward(X_train[idx])
                self.step(self.backward(X_train[idx], y_train[idx]))
            for split, X, y in (("train", X_train, y_train), ("val", X_val, y_val)):
                probs = self.forward(X)
                history[f"{split}_loss"].append(cross_entropy(probs, y))
                history[f"{split}_acc"].append(utils.accuracy(probs.argmax(axis=1), y))
            utils.progress(epoch, epochs, history, time.perf_counter() - started)
        return history

    def predict(self, X):
        """X (n, input_size) -> class indices (n,)."""
        return self.forward(X).argmax(axis=1)


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("numpy")
    model = NumpyANN()
    model.fit(X_train, y_train, X_val, y_val)
    utils.report("numpy_ann", utils.accuracy(model.predict(X_test), y_test))
