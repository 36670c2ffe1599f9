"""A degenerate submission: every region holds the simplest code of the right shapes and types, doing no work.

It must score at most 8/100 (README, "Grading"): the two PNG artifacts of each PyTorch file (which the test
copies in), the parameters' shapes and the nn.Conv2d check are all it may keep.
"""

import numpy as np

import utils


def relu(z):
    return np.zeros_like(z)


def relu_prime(z):
    return np.zeros(np.shape(z))


def softmax(z):
    return np.full(np.shape(z), 1.0 / np.shape(z)[-1])


def cross_entropy(y_pred, y_true):
    return 0.0


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.1, random_seed=42):
        self.lr = lr
        self.rng = np.random.default_rng(random_seed)
        self.W1 = np.zeros((input_size, hidden_size), dtype=np.float32)
        self.b1 = np.zeros((1, hidden_size), dtype=np.float32)
        self.W2 = np.zeros((hidden_size, output_size), dtype=np.float32)
        self.b2 = np.zeros((1, output_size), dtype=np.float32)

    def forward(self, X):
        return softmax(np.zeros((len(X), self.W2.shape[1])))

    def backward(self, X, y_true):
        return {name: np.zeros_like(getattr(self, name)) for name in ("W1", "b1", "W2", "b2")}

    def step(self, grads):
        pass

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=64):
        history = utils.new_history()
        for epoch in range(epochs):
            for idx in utils.minibatches(len(X_train), batch_size, self.rng):
                self.forward(X_train[idx])
                self.step(self.backward(X_train[idx], y_train[idx]))
            history["train_loss"].append(2.0 / (epoch + 1))
            history["val_loss"].append(2.1 / (epoch + 1))
            history["train_acc"].append(0.5 + 0.1 * epoch)
            history["val_acc"].append(0.5 + 0.09 * epoch)
        return history

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)
