"""Comparisons that explain themselves: expected, got, and the likely cause."""

from __future__ import annotations

import numpy as np

from autograder.suite.graded import check


def as_array(result, key, what):
    value = result.get(key)
    check(isinstance(value, np.ndarray), f"{what} should return a NumPy array, got {value!r:.200}")
    return value


def same_shape(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    hint = ""
    if actual.shape == expected.shape[::-1] and actual.ndim == 2:
        hint = " It looks transposed."
    elif actual.ndim == 2 and expected.ndim == 2 and expected.shape[0] == 1 and actual.shape[1] == expected.shape[1]:
        hint = " Sum over the batch axis (axis=0, keepdims=True)."
    check(actual.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {actual.shape}.{hint}")


def close(actual: np.ndarray, expected: np.ndarray, what: str, batch_size: int | None = None,
          rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Check shape, finiteness and values; name the worst entry and, where it fits, the cause."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    same_shape(actual, expected, what)
    check(np.all(np.isfinite(actual)), f"{what}: got non-finite values (nan or inf): {actual.ravel()[:6]} ...")
    if np.allclose(actual, expected, rtol=rtol, atol=atol):
        return
    err = np.abs(actual - expected)
    i = np.unravel_index(np.argmax(err), err.shape)
    message = (f"{what}: values differ from the expected ones. Worst at index {tuple(int(j) for j in i)}: "
               f"expected {expected[i]:.6g}, got {actual[i]:.6g} (max abs error {err[i]:.3g}).")
    mask = np.abs(expected) > 1e-8
    if mask.any():
        ratio = float(np.median(actual[mask] / expected[mask]))
        if batch_size and batch_size > 1 and np.isclose(ratio, batch_size, rtol=1e-3):
            message += (f" Every value is {batch_size} times too large, and {batch_size} is the batch size:"
                        " divide by the batch size.")
        elif batch_size and batch_size > 1 and np.isclose(ratio, 1 / batch_size, rtol=1e-3):
            message += f" Every value is {batch_size} times too small: you divide by the batch size twice."
        elif np.isclose(ratio, -1, rtol=1e-3):
            message += " Every value has the wrong sign."
    check(False, message)
