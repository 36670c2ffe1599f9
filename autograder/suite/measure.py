"""What the grader computes itself, never asking student code: the contract's network, from its parameters.

The NumPy network is public (the README and the stub write out its
formulas), so the grader evaluates it on its own from the parameters the
worker read off the student's model: the mean cross-entropy, the accuracy,
and the centred finite differences of the loss. A student's `forward` or
`cross_entropy` is never part of these numbers.
"""

from __future__ import annotations

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")


def forward(params: dict, X: np.ndarray) -> dict:
    """z1 = X W1 + b1, a1 = relu(z1), z2 = a1 W2 + b2, a2 = softmax(z2), in float64: what a right forward keeps."""
    W1, b1, W2, b2 = (np.asarray(params[k], dtype=np.float64) for k in PARAMS)
    z1 = np.asarray(X, dtype=np.float64) @ W1 + b1
    a1 = np.maximum(0, z1)
    z2 = a1 @ W2 + b2
    return {"z1": z1, "a1": a1, "z2": z2, "a2": softmax(z2)}


def probabilities(params: dict, X: np.ndarray) -> np.ndarray:
    """softmax(relu(X W1 + b1) W2 + b2), in float64."""
    return forward(params, X)["a2"]


def cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """The mean over rows of -sum(y * log(p)), for one-hot y."""
    return float(-np.mean(np.sum(y * np.log(np.clip(p, 1e-300, None)), axis=1)))


def loss(params: dict, X: np.ndarray, y: np.ndarray) -> float:
    """The mean cross-entropy of the network on (X, one-hot y)."""
    return cross_entropy(probabilities(params, X), y)


def accuracy(params: dict, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probabilities(params, X).argmax(axis=1) == np.asarray(y).argmax(axis=1)))


def finite_differences(params: dict, X: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> dict:
    """Centred differences of `loss` with respect to each parameter, entry by entry."""
    params = {k: np.array(params[k], dtype=np.float64) for k in PARAMS}
    grads = {}
    for name in PARAMS:
        param, grad = params[name], np.zeros_like(params[name])
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            plus = loss(params, X, y)
            param[idx] = old - eps
            minus = loss(params, X, y)
            param[idx] = old
            grad[idx] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, in float64."""
    z = np.asarray(z, dtype=np.float64)
    exps = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return exps / np.sum(exps, axis=-1, keepdims=True)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays of one shape, flattened (0 where either is all zeros)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 and np.isfinite(norm) else 0.0
