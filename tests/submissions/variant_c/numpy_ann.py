"""Fashion-MNIST MLP in plain NumPy (float32 everywhere, Xavier init, momentum SGD)."""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[2]))  # repo root, where utils.py lives
import utils  # noqa: E402

EPS = 1e-15


def relu(z):
    return np.where(z > 0, z, 0).astype(np.asarray(z).dtype, copy=False)


def relu_prime(z):
    return (np.asarray(z) > 0).astype(np.float32)


def softmax(z):
    z = np.asarray(z)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy(y_pred, y_true):
    # clip on both sides, like sklearn's log_loss
    p = np.clip(y_pred, EPS, 1.0 - EPS)
    per_row = -np.sum(y_true * np.log(p), axis=1)
    return float(np.mean(per_row))


class NumpyANN:
    def __init__(self, input_size=784, hidden_size=128, output_size=10, lr=0.05, random_seed=42, momentum=0.9):
        utils.set_seed(random_seed)
        self.lr = lr
        self.momentum = momentum
        self.rng = np.random.default_rng(random_seed)
        # Xavier / Glorot uniform
        lim1 = np.sqrt(6.0 / (input_size + hidden_size))
        lim2 = np.sqrt(6.0 / (hidden_size + output_size))
        self.W1 = self.rng.uniform(-lim1, lim1, (input_size, hidden_size)).astype(np.float32)
        self.b1 = np.zeros((1, hidden_size), dtype=np.float32)
        self.W2 = self.rng.uniform(-lim2, lim2, (hidden_size, output_size)).astype(np.float32)
        self.b2 = np.zeros((1, output_size), dtype=np.float32)
        self.velocity = {}

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
        db2 = dz2.sum(axis=0, keepdims=True)
        dz1 = (dz2 @ self.W2.T) * relu_prime(self.z1)
        dW1 = X.T @ dz1
        db1 = dz1.sum(axis=0, keepdims=True)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def step(self, grads):
        # SGD with (heavy-ball) momentum; the first step is plain gradient descent
        for name, g in grads.items():
            v = self.velocity.get(name)
            if v is None or v.shape != g.shape:
                v = np.zeros_like(g)
            v = self.momentum * v + g
            self.velocity[name] = v
            param = getattr(self, name)
            param -= (self.lr * v).astype(param.dtype, copy=False)

    def fit(self, X_train, y_train, X_val, y_val, epochs=3, batch_size=64):
        history = utils.new_history()
        n = X_train.shape[0]
        for epoch in range(1, epochs + 1):
            t0 = time.process_time()
            order = self.rng.permutation(n)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                xb, yb = X_train[idx], y_train[idx]
                self.forward(xb)
                self.step(self.backward(xb, yb))
            for X, y, split in ((X_train, y_train, "train"), (X_val, y_val, "val")):
                p = self.forward(X)
                history[f"{split}_loss"].append(cross_entropy(p, y))
                history[f"{split}_acc"].append(float(np.mean(p.argmax(1) == y.argmax(1))))
            print(f"[epoch {epoch}] train_loss={history['train_loss'][-1]:.3f} "
                  f"val_acc={history['val_acc'][-1]:.3f} ({time.process_time() - t0:.1f} s)")
        return history

    def predict(self, X):
        return np.argmax(self.forward(X), axis=1)


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("numpy")
    model = NumpyANN()
    started = time.perf_counter()
    model.fit(X_train, y_train, X_val, y_val)
    print(f"training took {time.perf_counter() - started:.1f} s")
    utils.report("numpy_ann", utils.accuracy(model.predict(X_test), y_test))
