"""numpy_ann's backward, up to one constant: the cause of a gradient wrong by a factor, found once.

A backward whose every gradient is the true one times the same positive constant (the classic case: summed
over the batch, not averaged, so the constant is the batch size) has one mistake. The grader finds it from
the backward probe (its own inputs, drawn anew for every grading, against its own finite differences), and
charges it in one test; the other backward tests, the fit tests and the learning gate judge backward up to
that constant, and the accuracy advice names it instead of "lower the learning rate".
"""

from __future__ import annotations

import functools

import numpy as np

from autograder.core import config
from autograder.runtime import probes
from autograder.suite import measure

CHARGED = "numpy_ann.backward: dW1 matches the reference"  # the one test that charges a constant factor


@functools.cache
def true_gradients(seed: int, sizes=probes.SMALL, n=8) -> dict:
    """Finite differences of the grader's own loss, at the parameters and batch the backward probe uses under
    the probe seed `seed` (the cache's key: inputs change with it)."""
    assert seed == probes.probe_seed()
    return measure.finite_differences(probes.fixed_params(sizes), *probes.batch(sizes, n, probes.BACKWARD_SEED))


def one_d_biases(ev) -> bool:
    """Whether NumpyANN() makes its biases 1-D ((hidden,), (output,)): the init test's loss alone, after which a
    bias gradient of its own parameter's shape is read as the contract's row (1, size)."""
    values = (getattr(ev, "entries", {}).get("init") or {}).get("values") or {}
    shapes = [values.get(k) for k in ("b1", "b2")]
    return all(isinstance(s, list) and len(s) == 1 for s in shapes)


def as_row(ev, name: str, got):
    """A bias gradient of the student's own 1-D bias shape, as the row the contract's bias is; else unchanged."""
    if name in ("b1", "b2") and isinstance(got, np.ndarray) and got.ndim == 1 and one_d_biases(ev):
        return got.reshape(1, -1)
    return got


# The factors a mistake makes (a sum over the batch, a half too many or too few): beyond them a gradient
# "right up to a factor" is no gradient at all (times 1e200, it makes every step diverge at will).
PLAUSIBLE = (1 / 64, 64.0)


def factor(ev) -> float | None:
    """c > 0 when every gradient of the backward probe is the true one times c (to 1e-4), else None; 1.0 for a
    right backward. Computed once per grading."""
    if "gradient_factor" in ev.__dict__:
        return ev.gradient_factor
    found = None
    result = getattr(ev, "loaded", {}).get("backward")
    if result is not None:
        true = true_gradients(probes.probe_seed())
        got = {k: as_row(ev, k, result.get(f"d{k}")) for k in measure.PARAMS}
        if all(isinstance(got[k], np.ndarray) and got[k].dtype.kind in "iuf" and got[k].shape == true[k].shape
               and np.all(np.isfinite(got[k])) for k in measure.PARAMS):
            a = np.concatenate([got[k].astype(np.float64).ravel() for k in measure.PARAMS])
            b = np.concatenate([true[k].ravel() for k in measure.PARAMS])
            c = float(a @ b / (b @ b)) if b @ b > 0 else 0.0
            if PLAUSIBLE[0] <= c <= PLAUSIBLE[1] and np.allclose(a, c * b, rtol=1e-4, atol=1e-7 * max(c, 1.0)):
                found = 1.0 if np.isclose(c, 1.0, rtol=1e-4) else c
    ev.gradient_factor = found
    return found


def summed(c: float | None, n: int = 8) -> bool:
    """Whether the factor is the backward probe's batch size: gradients summed over the batch."""
    return c is not None and np.isclose(c, n, rtol=1e-3)


def per_batch(c: float | None):
    """The scale of backward's gradients for a batch of n rows: n when summed, else the constant c (1 when right)."""
    if summed(c):
        return lambda n: float(n)
    return lambda n, c=c or 1.0: c


def wrong(c: float | None) -> bool:
    """A backward right up to a factor that is not 1."""
    return c is not None and c != 1.0


def message(c: float) -> str:
    """What the charged test says."""
    cause = ("which is this probe's batch size: backward sums the gradients over the batch instead of averaging "
             "them. Divide by the batch size (dz2 = (a2 - y_true) / n)" if summed(c) else
             "so every step is that many times too large: find where the factor comes from")
    return (f"every gradient backward returns (dW1, db1, dW2, db2) is the true one times the same factor, "
            f"{c:.4g}, {cause}. This one mistake is charged here alone; the other backward tests and fit's tests "
            "judge backward up to this factor.")


def advice(c: float | None) -> str | None:
    """The root cause for training that fails because of the factor: not "lower the learning rate"."""
    if not wrong(c):
        return None
    what = ("summed over the batch instead of averaged, so every step is batch_size times too large"
            if summed(c) else f"{c:.4g} times the true ones, and so is every step")
    return (f"backward's gradients are {what} (test {config.POINTS[CHARGED][0]}, "
            f"{CHARGED.split('.', 1)[1]}, names it): divide by the batch size rather than lowering the "
            "learning rate.")
