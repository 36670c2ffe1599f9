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


def network(params: dict, inputs: int, classes: int) -> dict:
    """The four parameters as the contract's network of `inputs` inputs and `classes` outputs: W1 (inputs, H),
    b1 (1, H), W2 (H, classes), b2 (1, classes), in float64. A bias may come as (H,), and a weight matrix
    transposed, (out, in); any other shape raises ValueError, so that no parameter can broadcast into a table
    (a b1 with one row per test image) or blow up the grader's arrays."""
    arrays = {k: np.asarray(params[k]) for k in PARAMS}
    if not all(a.dtype.kind in "iuf" for a in arrays.values()):
        raise ValueError("the parameters are not all numeric arrays")
    W1, W2 = arrays["W1"], arrays["W2"]
    if W1.ndim != 2 or W2.ndim != 2:
        raise ValueError(f"W1 {W1.shape} and W2 {W2.shape} must be matrices")
    W1 = W1 if W1.shape[0] == inputs else W1.T
    W2 = W2 if W2.shape[1] == classes else W2.T
    hidden = W1.shape[1]
    wanted = {"W1": (inputs, hidden), "W2": (hidden, classes)}
    if W1.shape != wanted["W1"] or W2.shape != wanted["W2"]:
        raise ValueError(f"W1 {arrays['W1'].shape} and W2 {arrays['W2'].shape} are not the weights of a "
                         f"{inputs}-H-{classes} network")
    found = {"W1": W1, "W2": W2}
    for name, size in (("b1", hidden), ("b2", classes)):
        b = arrays[name]
        if b.shape not in ((size,), (1, size)):
            raise ValueError(f"{name} has shape {b.shape}, not (1, {size}) or ({size},)")
        found[name] = b.reshape(1, size)
    return {k: found[k].astype(np.float64) for k in PARAMS}


CHUNK = 500  # rows per forward pass where the grader classifies a whole set: a wide network stays small


def classes(params: dict, X: np.ndarray) -> np.ndarray:
    """argmax of the network's logits for each row of X, CHUNK rows at a time (a 784-7000 network on 10,000
    images at once took the grader past Gradescope's 768 MB)."""
    return np.concatenate([forward(params, X[i:i + CHUNK])["z2"].argmax(axis=1)
                           for i in range(0, len(X), CHUNK)]) if len(X) else np.zeros(0, dtype=np.int64)


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
    return float(np.mean(classes(params, X) == np.asarray(y).argmax(axis=1)))


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


def gradients(params: dict, X: np.ndarray, y: np.ndarray) -> dict:
    """The exact gradients of `loss` (backpropagation through the contract's network, in float64), each of its
    parameter's shape as `network` gives them: what a right backward returns."""
    cache = forward(params, X)
    dz2 = (cache["a2"] - y) / len(X)
    dz1 = (dz2 @ np.asarray(params["W2"], dtype=np.float64).T) * (cache["z1"] > 0)
    X = np.asarray(X, dtype=np.float64)
    dW1, dW2 = X.T @ dz1, cache["a1"].T @ dz2
    return {"W1": dW1, "b1": np.sum(dz1, axis=0, keepdims=True), "W2": dW2, "b2": np.sum(dz2, axis=0, keepdims=True)}


def sgd(params: dict, X: np.ndarray, y: np.ndarray, batches, lr: float, scale=lambda n: 1.0) -> dict:
    """The grader's own mini-batch gradient descent from `params` (as `network` gives them): for each batch of row
    indices, every parameter -= lr * scale(len(batch)) * its exact gradient on that batch. Overflow gives inf or
    nan, as a diverging student run does."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    with np.errstate(all="ignore"):
        for idx in batches:
            idx = np.asarray(idx, dtype=np.int64)
            if not len(idx) or not all(np.all(np.isfinite(v)) for v in params.values()):
                continue
            grads = gradients(params, X[idx], y[idx])
            for k in PARAMS:
                params[k] = params[k] - lr * scale(len(idx)) * grads[k]
    return params
