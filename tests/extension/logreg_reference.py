"""Softmax regression on Fashion-MNIST, in NumPy."""

import numpy as np


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LogReg:
    def __init__(self, lr=0.5):
        self.W, self.b, self.lr = np.zeros((784, 10)), np.zeros((1, 10)), lr

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=100):
        history = []
        for _ in range(epochs):
            order = np.random.permutation(len(X_train))
            for start in range(0, len(X_train), batch_size):
                X, y = (
                    X_train[order[start : start + batch_size]],
                    y_train[order[start : start + batch_size]],
                )
                delta = (softmax(X @ self.W + self.b) - y) / len(X)
                self.W -= self.lr * X.T @ delta
                self.b -= self.lr * delta.sum(axis=0, keepdims=True)
            history.append(float(np.mean((X_val @ self.W + self.b).argmax(1) == y_val.argmax(1))))
        return history
