"""A correct numpy_ann.py written unlike the reference: float64, Glorot-uniform initialisation, a
log-sum-exp softmax, an epsilon inside the log, batch 32 at lr 0.05, running averages in the history.
It must score every point (tests/test_degenerate.py)."""

import numpy as np

import utils


def relu(z):
    return np.where(z > 0, z, 0.0)


def relu_prime(z):
    return np.heaviside(z, 0.0)


def softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return np.exp(shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True)))


def cross_entropy(y_pred, y_true):
    return float(np.sum(-y_true * np.log(y_pred + 1e-9)) / y_true.shape[0])


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.05, random_seed=42):
        self.lr = lr
        self.rng = np.random.default_rng(random_seed)
        limit1 = np.sqrt(6 / (input_size + hidden_size))
        limit2 = np.sqrt(6 / (hidden_size + output_size))
        self.W1 = self.rng.uniform(-limit1, limit1, (input_size, hidden_size))
        self.b1 = np.zeros((1, hidden_size))
        self.W2 = self.rng.uniform(-limit2, limit2, (hidden_size, output_size))
        self.b2 = np.zeros((1, output_size))

    def forward(self, X):
        self.z1 = X @ self.W1 + self.b1
        self.a1 = relu(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        self.a2 = softmax(self.z2)
        return self.a2

    def backward(self, X, y_true):
        n = X.shape[0]
        dz2 = (self.a2 - y_true) / n
        dW2 = self.a1.T @ dz2
        db2 = np.sum(dz2, axis=0, keepdims=True)
        dz1 = dz2 @ self.W2.T * relu_prime(self.z1)
        return {"W1": X.T @ dz1, "b1": np.sum(dz1, axis=0, keepdims=True), "W2": dW2, "b2": db2}

    def step(self, grads):
        self.W1 = self.W1 - self.lr * grads["W1"]
        self.b1 = self.b1 - self.lr * grads["b1"]
        self.W2 = self.W2 - self.lr * grads["W2"]
        self.b2 = self.b2 - self.lr * grads["b2"]

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=32):
        history = utils.new_history()
        X_train, X_val = X_train.astype(np.float64), X_val.astype(np.float64)
        for epoch in range(epochs):
            order = self.rng.permutation(len(X_train))
            loss_sum = correct = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                probs = self.forward(X_train[idx])
                loss_sum += cross_entropy(probs, y_train[idx]) * len(idx)
                correct += np.sum(probs.argmax(axis=1) == y_train[idx].argmax(axis=1))
                self.step(self.backward(X_train[idx], y_train[idx]))
            history["train_loss"].append(loss_sum / len(order))
            history["train_acc"].append(float(correct / len(order)))
            probs = self.forward(X_val)
            history["val_loss"].append(cross_entropy(probs, y_val))
            history["val_acc"].append(float(np.mean(probs.argmax(axis=1) == y_val.argmax(axis=1))))
            utils.progress(epoch + 1, epochs, history)
        return history

    def predict(self, X):
        return np.argmax(self.forward(X), axis=1)
