"""numpy_ann.py: the functions, the network, its training loop and its test accuracy."""

import ast
import sys

import numpy as np
import pytest

from autograder import specs
from autograder.core import config
from autograder.harness import evidence
from autograder.runtime import probes
from autograder.suite import advice, hardcoding, learning, measure, scale
from autograder.suite.compare import as_array, close, same_shape
from autograder.suite.graded import FAILED, check, graded, passes

FILE = "numpy_ann"


def computes(ev) -> bool:
    """Whether numpy_ann.py computes something the grader checks by value: relu, softmax, cross_entropy or forward."""
    grader = getattr(ev, "grader", None)
    if grader is None:
        return True
    return (passes(test_relu_is_max_of_zero_and_z, ev) or passes(test_softmax_matches_the_reference, ev)
            or passes(test_cross_entropy_is_the_mean, ev) or passes(test_forward_matches_the_reference, ev))


def real_work(ev) -> bool:
    """The broad gate, beside a network seen to learn (learning.py): backward gives the true gradients up to one
    positive factor, on the inputs the grader drew for this grading (scale.factor)."""
    return getattr(ev, "grader", None) is None or scale.factor(ev) is not None


learning.WORK[FILE] = real_work


def learned(ev) -> bool:
    """Whether the grader has seen the network learn, or checked real work of its own (learning.WORK)."""
    return passes(lambda: learning.credited_if_learned(ev, learning.REPORTED))


def require_real_work(ev) -> None:
    """Fail, for another test's cause, unless numpy_ann.py computes something the grader checks by value.

    What a test so gated checks (shapes, that nothing changed) is what the worker reports, which code that does
    no work could write; an honest file with a bug elsewhere still gets it.
    """
    if not computes(ev):
        learning.another_cause(f"{learning.REPORTED} is credited once numpy_ann.py computes something the grader "
                               "can check: relu, softmax, cross_entropy or forward giving the expected values.")


needs_real_work = learning.gated_by(require_real_work)


@pytest.fixture(scope="module")
def ev(grader):
    return grader.evidence(FILE)


def out(ev, call, what):
    return as_array(ev.result(call, what), "out", what)


# ------------------------------------------------------------------------ relu

@graded("numpy_ann.relu: max(0, z) elementwise")
def test_relu_is_max_of_zero_and_z(ev):
    close(out(ev, "relu", "relu(z)"), np.maximum(0, probes.relu_input()), "relu(z)")


@graded("numpy_ann.relu: keeps the input's shape")
def test_relu_keeps_the_shape(ev):
    got = out(ev, "relu_3d", "relu(z) for z of shape (2, 3, 4)")
    check(got.shape == (2, 3, 4), f"relu(z) for z of shape (2, 3, 4): expected that shape back, got {got.shape}")
    close(got, np.maximum(0, probes.relu_input_3d()), "relu(z) for z of shape (2, 3, 4)")


@graded("numpy_ann.relu_prime: 1 where z > 0 and 0 where z < 0")
def test_relu_prime_is_the_step_function(ev, record_property):
    z = probes.relu_input()
    got = out(ev, "relu_prime", "relu_prime(z)")
    if got.dtype == bool:  # right as numbers; costs nothing, said beside the verdict
        record_property("advice", BOOL_RELU_PRIME)
    same_shape(got, z, "relu_prime(z)")
    nonzero = z != 0
    close(got[nonzero], (z[nonzero] > 0).astype(float), "relu_prime(z) where z != 0")


BOOL_RELU_PRIME = ("relu_prime returns booleans (dtype bool), not numbers: products with them "
                   "work, but NumPy refuses to subtract booleans and sums them as counts. Return "
                   "(z > 0).astype(z.dtype).")


@graded("numpy_ann.relu_prime: zero at z == 0")
def test_relu_prime_is_zero_at_zero(ev):
    z = probes.relu_input()
    got = out(ev, "relu_prime", "relu_prime(z)")
    same_shape(got, z, "relu_prime(z)")
    at_zero = got[z == 0]
    check(np.all(at_zero == 0), f"relu_prime(0) should be 0 (the contract takes the derivative at 0 to be 0), "
                                f"got {at_zero}. Use z > 0, not z >= 0.")
    positive = got[z > 0]
    check(np.all(positive == 1), f"relu_prime is 0 at z == 0, but not 1 where z > 0 (got {np.unique(positive)}): "
                                 "the value at 0 is credited only together with the step function itself.")


@graded("numpy_ann.relu_prime: keeps the input's shape")
def test_relu_prime_keeps_the_shape(ev):
    got = out(ev, "relu_prime_3d", "relu_prime(z) for z of shape (2, 3, 4)")
    check(got.shape == (2, 3, 4), f"relu_prime(z) for z of shape (2, 3, 4): expected that shape back, got {got.shape}")
    close(got, (probes.relu_input_3d() > 0).astype(float), "relu_prime(z) for z of shape (2, 3, 4)")


# --------------------------------------------------------------------- softmax

@graded("numpy_ann.softmax: rows sum to 1")
def test_softmax_rows_sum_to_one(ev):
    got = out(ev, "softmax", "softmax(z)")
    check(got.shape == (6, 10), f"softmax(z) for z of shape (6, 10): expected shape (6, 10), got {got.shape}")
    sums = got.sum(axis=1)
    hint = " Normalise over the last axis (axis=-1 or axis=1, keepdims=True), not axis=0." \
        if np.allclose(got.sum(axis=0), 1) else ""
    check(np.allclose(sums, 1), f"softmax(z): each row should sum to 1, the rows sum to {np.round(sums, 4)}.{hint}")
    want = measure.softmax(probes.softmax_logits())
    check(np.allclose(got, want, rtol=1e-3, atol=1e-6),
          f"softmax(z): the rows sum to 1, but they are not exp(z) / sum(exp(z)) (row 0: expected "
          f"{np.round(want[0], 4).tolist()}, got {np.round(got[0], 4).tolist()}). Summing to 1 is credited only "
          "for the softmax itself.")


@graded("numpy_ann.softmax: matches the reference")
def test_softmax_matches_the_reference(ev):
    close(out(ev, "softmax", "softmax(z)"), measure.softmax(probes.softmax_logits()), "softmax(z)")


@graded("numpy_ann.softmax: finite for logits near 1e4")
def test_softmax_is_stable_for_large_logits(ev):
    got = out(ev, "softmax_large", "softmax(z) for logits near 1e4")
    check(np.all(np.isfinite(got)), "softmax(z) for logits near 1e4 returned nan or inf: np.exp overflows. "
                                    "Subtract each row's maximum before exponentiating.")
    close(got, measure.softmax(probes.large_logits()), "softmax(z) for logits near 1e4", atol=1e-6)


@graded("numpy_ann.softmax: unchanged when a row is shifted by a constant")
def test_softmax_ignores_a_constant_shift(ev):
    shifted = out(ev, "softmax_shifted", "softmax(z + c) with a constant c per row")
    close(shifted, measure.softmax(probes.softmax_logits()), "softmax(z + c) compared with the softmax of z",
          atol=1e-9)


# --------------------------------------------------------------- cross-entropy

@graded("numpy_ann.cross_entropy: the mean over rows, not the sum")
def test_cross_entropy_is_the_mean(ev):
    got = ev.result("cross_entropy", "cross_entropy(y_pred, y_true)")["out"]
    p, _, y = probes.cross_entropy_inputs()
    want = measure.cross_entropy(p, y)
    hint = ""
    if np.isclose(got, want * 8, rtol=1e-4):
        hint = " It is 8 times too large for a batch of 8 rows: take the mean over rows, not the sum."
    elif np.isclose(got, want / 10, rtol=1e-4):
        hint = " It is 10 times too small for 10 classes: sum over the classes, then average over the rows."
    check(np.isclose(got, want, rtol=1e-5), f"cross_entropy on a batch of 8: expected {want:.6f}, got {got:.6f}.{hint}")


@graded("numpy_ann.cross_entropy: finite where a probability is 0")
def test_cross_entropy_is_finite_at_zero_probability(ev):
    got = ev.result("cross_entropy_zero", "cross_entropy with exact zeros in y_pred")["out"]
    check(np.isfinite(got), f"cross_entropy returned {got} for a y_pred with exact zeros (one row is one-hot, and in "
                            "another the true class has probability 0): log(0) is -inf, and 0 * log(0) is nan. "
                            "Clip y_pred (e.g. np.clip(y_pred, 1e-12, 1)) or add a small epsilon.")
    # Credited only for the cross-entropy itself: right on an ordinary batch (the mean-or-sum mistake is the
    # other test's), and here the row whose true class has probability 0 adds -log(epsilon), a large number.
    p, p0, y = probes.cross_entropy_inputs()
    n = len(y)
    ordinary = ev.result("cross_entropy", "cross_entropy(y_pred, y_true)")["out"]
    right = measure.cross_entropy(p, y)
    check(np.isclose(ordinary, right, rtol=1e-5) or np.isclose(ordinary, right * n, rtol=1e-5),
          f"cross_entropy is finite where a probability is 0, but not the cross-entropy elsewhere: on a batch "
          f"without zeros it gives {ordinary:.6f}, expected {right:.6f}. Finiteness is credited only for the "
          "cross-entropy itself.")
    true_p = np.sum(p0 * y, axis=1)
    rest = -np.sum(np.log(true_p[true_p > 0]))
    extra = got * n - rest if np.isclose(ordinary, right, rtol=1e-5) else got - rest
    check(np.log(1e3) <= extra <= 800, f"cross_entropy returned {got:.6f} where one row gives its true class "
                                       f"probability 0: that row adds {extra:.4g}, but clipping at a small epsilon "
                                       "makes it -log(epsilon), between 7 (epsilon 1e-3) and several hundred.")


# ------------------------------------------------------------------- the model

@graded("numpy_ann.init: parameters have the contract's shapes")
@needs_real_work
def test_init_gives_the_contract_shapes(ev):
    got = ev.result("init", "NumpyANN(6, 5, 4)").values
    want = {"W1": [6, 5], "b1": [1, 5], "W2": [5, 4], "b2": [1, 4]}
    wrong = {k: got.get(k) for k in want if got.get(k) != want[k]}
    check(not wrong, f"NumpyANN(input_size=6, hidden_size=5, output_size=4): expected shapes {want}, "
                     f"but got {wrong}. W1 is (input_size, hidden_size) and the biases are rows (1, size).")


def right_probabilities():
    """What forward's and predict's probes should see: the network's output on their batch, by the grader."""
    return measure.probabilities(probes.fixed_params(probes.SMALL), probes.batch(probes.SMALL, 8)[0])


@graded("numpy_ann.forward: matches the reference on fixed weights")
def test_forward_matches_the_reference(ev):
    close(out(ev, "forward", "forward(X)"), right_probabilities(), "forward(X) on fixed weights")


def gradient(ev, call, name):
    result = ev.result(call, "backward(X, y_true)")
    check(f"d{name}" in result.arrays,
          f"backward should return a dict with keys 'W1', 'b1', 'W2', 'b2' holding arrays; "
          f"got {sorted(result.arrays) or result.values}")
    # A 1-D bias is the init test's loss alone: a gradient of the student's own bias shape is read as the row.
    got = scale.as_row(ev, name, result[f"d{name}"])
    c = scale.factor(ev)
    if call != "backward" and scale.wrong(c) and not scale.summed(c) and isinstance(got, np.ndarray):
        # Another probe's batch (the hidden tests'): a constant factor, charged once by test 1.14, is divided out
        # there (a sum over a batch of one row is its mean already).
        got = got / c
    return got


true_gradients = scale.true_gradients  # the hidden tests import it from here


def backward_tests(name):
    def charged_once(ev, test: str) -> bool:
        """For a backward right up to one constant factor: the dW1 reference test charges it, and only it."""
        c = scale.factor(ev)
        if not scale.wrong(c):
            return False
        check(test != scale.CHARGED, f"backward(X, y) for a batch of 8: {scale.message(c)}")
        return True

    @graded(f"numpy_ann.backward: d{name} matches the reference")
    def test_matches_reference(ev):
        got = gradient(ev, "backward", name)
        if charged_once(ev, f"numpy_ann.backward: d{name} matches the reference"):
            return
        close(got, true_gradients(probes.probe_seed())[name],
              f"backward(X, y)['{name}'] for a batch of 8", batch_size=8)

    @graded(f"numpy_ann.backward: d{name} matches finite differences")
    def test_matches_finite_differences(ev):
        got = gradient(ev, "backward", name)
        if charged_once(ev, f"numpy_ann.backward: d{name} matches finite differences"):
            return
        close(got, true_gradients(probes.probe_seed())[name],
              f"backward(X, y)['{name}'] against centred finite differences of the mean cross-entropy (computed "
              "by the grader from the network's formulas)", batch_size=8, rtol=1e-4, atol=1e-6)

    test_matches_reference.__name__ = f"test_backward_d{name}_matches_the_reference"
    test_matches_finite_differences.__name__ = f"test_backward_d{name}_matches_finite_differences"
    return test_matches_reference, test_matches_finite_differences


for _name in ("W1", "b1", "W2", "b2"):
    for _test in backward_tests(_name):
        globals()[_test.__name__] = _test


@graded("numpy_ann.backward: changes no parameter")
@needs_real_work
def test_backward_changes_no_parameter(ev):
    result = ev.result("backward", "backward(X, y_true)")
    unchanged = all(np.array_equal(result.get(f"before_{k}"), result.get(f"after_{k}")) for k in ("W1", "b1", "W2", "b2"))
    check(unchanged, "backward changed W1, b1, W2 or b2: it should only return gradients; step() applies them.")
    # Credited only for a backward that computes something: not zeros, not the parameters handed back, not noise:
    # arrays that point the way of the true gradients (which change with every grading's inputs).
    true = true_gradients(probes.probe_seed())
    computed = [k for k in measure.PARAMS if isinstance(result.get(f"d{k}"), np.ndarray)
                and result[f"d{k}"].shape == result[f"before_{k}"].shape and np.all(np.isfinite(result[f"d{k}"]))
                and np.any(result[f"d{k}"] != 0) and not np.allclose(result[f"d{k}"], result[f"before_{k}"])
                and measure.cosine(result[f"d{k}"], true[k]) > 0.5]
    check(len(computed) >= 2, "backward leaves the parameters alone, but it computes no gradients: fewer than two of "
                              "dW1, db1, dW2, db2 are finite arrays of their parameter's shape that point the way of "
                              "the true gradients. Leaving the parameters alone is credited only for a backward that "
                              "computes gradients.")


@graded("numpy_ann.step: subtracts lr times each gradient")
def test_step_is_gradient_descent(ev):
    result = ev.result("step", "step(grads)")
    params, grads = probes.fixed_params(probes.SMALL), probes.step_grads(probes.SMALL)
    for name in ("W1", "b1", "W2", "b2"):
        close(as_array(result, name, f"the parameter {name} after step"), params[name] - probes.STEP_LR * grads[name],
              f"{name} after step(grads) with lr={probes.STEP_LR} (expected {name} - lr * grads['{name}'])")


# ------------------------------------------------------------------- training

def history_ok(history, epochs, what):
    check(isinstance(history, dict) and "__type__" not in history,
          f"{what} should return the history dict, got a {history.get('__type__') if isinstance(history, dict) else history}")
    missing = [k for k in ("train_loss", "val_loss", "train_acc", "val_acc") if k not in history]
    check(not missing, f"{what}: the history lacks {missing}; it has {sorted(history)}")
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        values = history[key]
        check(isinstance(values, list), f"{what}: history['{key}'] should be a list of floats")
        check(len(values) == epochs, f"{what}: history['{key}'] has {len(values)} entries for {epochs} epochs; "
                                     "append one value per epoch")
        check(values, f"{what}: history['{key}'] is empty: append one value per epoch")
        check(all(isinstance(v, float) or isinstance(v, int) and abs(v) < 1e300 for v in values),
              f"{what}: history['{key}'] = {str(values)[:200]}: one number per epoch")
        if key.endswith("acc"):
            check(all(0 <= v <= 1 for v in values), f"{what}: history['{key}'] = {values}: accuracies are "
                                                    "fractions in [0, 1], not percentages")


FALL = 0.995  # the measured loss must end below this fraction of where it began (plain SGD at lr 0.01 reaches 0.98)


def loss_falls(before: float, after: float, what: str, hint: str) -> None:
    """The loss the grader measured is finite after fit, and meaningfully lower than before it."""
    check(np.isfinite(after), f"training diverged: after fit, the loss the grader measured {what} is {after}. "
                              "Lower the learning rate, and check the gradients.")
    check(after < FALL * before, f"fit did not lower the loss: the grader measured the mean cross-entropy {what} as "
                                 f"{before:.4f} before fit and {after:.4f} after it. {hint}")


# How far a history's last epoch may stray from what the grader measures on the trained model, as (absolute,
# relative) tolerances. Validation metrics are computed after each epoch, in eval mode, as the grader does;
# training metrics may be running averages over the epoch in train mode, which a few steps of a small fit move
# too far to compare (batch norm's running statistics, dropout), so they are held to the grader's only after
# the full training (torch_tests.TRAINED_TOLERANCE).
TOLERANCE = {"val_acc": (0.05, 0.0), "val_loss": (0.05, 0.15)}


def consistent(history: dict, measured: dict, where: str, tolerance: dict = TOLERANCE) -> None:
    """The history's last epoch agrees with what the grader measured itself on the trained model."""
    wrong = []
    for key, value in measured.items():
        if key not in tolerance:
            continue
        reported = history[key][-1]
        absolute, relative = tolerance[key]
        if not (abs(reported - value) <= absolute + relative * abs(value)):
            wrong.append(f"{key} {reported:.4f} where the grader measured {value:.4f}")
    negative = any(isinstance(v, (int, float)) and v < 0 for key in ("train_loss", "val_loss") for v in history[key])
    check(not wrong, f"the history does not describe the trained model: for its last epoch it reports "
                     f"{'; '.join(wrong)} ({where}). "
                     + ("Its loss is negative, which no cross-entropy is: nn.NLLLoss on raw logits gives one (use "
                        "nn.CrossEntropyLoss on the logits); in NumPy, check cross_entropy." if negative else
                        "Record the loss and accuracy of the model as it trains."))


def network_loss(params: dict, X, y, what: str) -> float:
    try:
        return measure.loss(measure.network(params, X.shape[1], y.shape[1]), X, y)
    except ValueError as e:
        problem = str(e)
    pytest.fail(f"the parameters W1, b1, W2, b2 {what} do not fit together as the network's ({problem})", pytrace=False)


def params_of(result, prefix: str) -> dict:
    return {k: np.asarray(result[prefix + k]) for k in measure.PARAMS}


def small_fit(grader, ev):
    """The small fit's result, and the loss the grader measures from its parameters before and after."""
    result = ev.result("fit_small", "fit on 320 images for 5 epochs")
    X, y = grader.train_subset(probes.FIT_SMALL[0])
    losses = [network_loss(params_of(result, when), X, y, f"{when.rstrip('_')} fit") for when in ("before_", "after_")]
    return result, X, y, losses


def own_steps(ev, result, X, y) -> float | None:
    """The loss the grader's own mini-batch descent reaches from the small fit's starting parameters: the same
    5 epochs of batches of 32 (in its own order), at the rate the model holds (its attribute lr, which step
    must read), with backward's gradients as the grader found them (scale.factor). None where the rate or
    backward is unknown."""
    lr, c = result.get("lr"), scale.factor(ev)
    if not (isinstance(lr, float) and np.isfinite(lr) and lr > 0) or c is None:
        return None
    try:
        start = measure.network(params_of(result, "before_"), X.shape[1], y.shape[1])
    except ValueError:
        return None
    n, epochs, size = probes.FIT_SMALL
    order = np.random.default_rng(0)
    batches = [b for _ in range(epochs) for b in np.array_split(order.permutation(n), range(size, n, size))]
    with np.errstate(all="ignore"):
        return measure.loss(measure.sgd(start, X, y, batches, lr, scale.per_batch(c)), X, y)


def held_to_own_steps(ev, result, X, y, before: float, after: float) -> bool:
    """Descent judged for any positive learning rate: where the grader's own steps at the model's rate do not
    get the loss below FALL either, a fit that moves the parameters passes when its loss falls by a fair share
    of what those steps achieve (a small rate: slow, but learning), or when those steps diverge too (a large
    rate, or backward's factor, which the backward test charges: not fit's fault)."""
    own = own_steps(ev, result, X, y)
    moved = not all(np.array_equal(result[f"before_{k}"], result[f"after_{k}"]) for k in measure.PARAMS)
    if own is None or not moved or (np.isfinite(own) and own < FALL * before):
        return False
    if np.isfinite(own) and own < before:
        return bool(np.isfinite(after) and after < before - 0.25 * (before - own))
    # Steps that diverge are excused only for their one named cause, gradients summed over the batch (which
    # the backward test charges): a fit that writes NaN, or a rate of 1e300, shows nothing of a descent.
    return bool(scale.summed(scale.factor(ev)) and (not np.isfinite(after) or after > before))


@graded("numpy_ann.fit: the loss falls over a few epochs on a fixed batch")
@learning.reported  # the parameters it is judged by are the worker's report
def test_fit_lowers_the_loss(grader, ev):
    unit = next((name for name in advice.rows(advice.UNITS, FILE) if name in FAILED), None)

    result, X, y, (before, after) = small_fit(grader, ev)
    if np.isfinite(after) and after < FALL * before:
        return
    if held_to_own_steps(ev, result, X, y, before, after):
        return
    loss_falls(before, after, "of your network on the 320 training images of a 5-epoch fit",
               f"Fix {advice.numbered(unit)} first: fit is built from it." if unit else
               "Check the sign of the update in step, and lr.")


def epochs_of(ev):
    result = ev.result("fit_tracking", "fit, with the batches reaching backward recorded")
    batches, n = result["batches"], result["n"]
    check(batches, "fit never called backward(X_batch, y_batch); the grader follows the samples through backward.")
    flat = [i for b in batches for i in b]
    return flat, n


def tracking_trains(ev):
    """The order of the samples counts only for a fit whose steps train: the grader's loss must fall, or the
    parameters must be where the grader's own steps on the same batches, at the same rate, take them."""
    result = ev.result("fit_tracking", "fit, with the batches reaching backward recorded")
    X, y = probes.tracking_batch()
    before, after = (network_loss(params_of(result, when), X, y, f"{when.rstrip('_')} fit")
                     for when in ("before_", "after_"))
    if np.isfinite(after) and after < FALL * before:
        return
    if steps_as_the_grader_does(ev, result, X, y):
        return
    still = all(np.array_equal(result[f"before_{k}"], result[f"after_{k}"]) for k in measure.PARAMS)
    check(False,
          f"fit passed the batches to backward, but the network did not learn from them: "
          f"{'no parameter changed' if still else 'the parameters changed'} and the loss the grader measured went "
          f"from {before:.4f} to {after:.4f} over 2 epochs. The order of the samples is credited only for a fit "
          "that steps with its gradients.")


def steps_as_the_grader_does(ev, result, X, y) -> bool:
    """Whether fit's parameters are the grader's own: one step of lr (TRACKING_LR) times backward's gradient (as
    the grader found it, scale.factor) per batch that reached backward, in that order. So a fit is judged by
    what it does with backward, whatever backward's factor or the rate make of the loss."""
    c, batches = scale.factor(ev), result.get("batches")
    if c is None or not batches:
        return False
    try:
        start = measure.network(params_of(result, "before_"), X.shape[1], y.shape[1])
        with np.errstate(all="ignore"):
            got = measure.network(params_of(result, "after_"), X.shape[1], y.shape[1])
    except ValueError:
        return False
    own = measure.sgd(start, X, y, batches, probes.TRACKING_LR, scale.per_batch(c))
    if not all(np.all(np.isfinite(v)) for v in own.values()):  # diverged: the student's run must have too,
        # for the one cause that excuses it (gradients summed over the batch), not parameters set to NaN
        return scale.summed(c) and not all(np.all(np.isfinite(v)) for v in got.values())
    return all(np.allclose(got[k], own[k], rtol=1e-3, atol=1e-6) for k in measure.PARAMS)


@graded("numpy_ann.fit: every sample is seen once per epoch")
@learning.reported  # the parameters it is judged by are the worker's report
def test_fit_sees_every_sample_once_per_epoch(ev):
    flat, n = epochs_of(ev)
    per_epoch = len(flat) / 2
    if per_epoch < n:
        hint = (" The last partial batch is dropped: loop to n, not to n - batch_size."
                if n - per_epoch == n % 32 else "")
        check(False, f"2 epochs over {n} samples passed {len(flat)} samples to backward, expected {2 * n}.{hint}")
    check(per_epoch == n, f"2 epochs over {n} samples passed {len(flat)} samples to backward, expected {2 * n}.")
    for e in range(2):
        epoch = flat[e * n:(e + 1) * n]
        check(sorted(epoch) == list(range(n)),
              f"epoch {e + 1} saw {len(set(epoch))} distinct samples out of {n}: some were repeated and some "
              "skipped. Shuffle with a permutation (np.random.permutation), not with sampling with replacement.")
    tracking_trains(ev)


@graded("numpy_ann.fit: the order is reshuffled between epochs")
@learning.reported  # the parameters it is judged by are the worker's report
def test_fit_reshuffles_every_epoch(ev):
    flat, n = epochs_of(ev)
    first, second = flat[:n], flat[n:2 * n]
    check(first != list(range(n)), "the samples reached backward in their original order: shuffle every epoch.")
    check(first != second, "both epochs visited the samples in the same order: draw a new permutation every epoch.")
    tracking_trains(ev)


@graded("numpy_ann.fit: the history has the contract's keys, one float per epoch")
@needs_real_work
def test_fit_returns_the_history(grader, ev):
    result, X, y, (before, loss) = small_fit(grader, ev)
    history_ok(result["history"], probes.FIT_SMALL[1], "fit(..., epochs=5)")
    measured = {"val_acc": measure.accuracy(measure.network(params_of(result, "after_"), X.shape[1], y.shape[1]),
                                            X, y)}
    # The loss is compared only for a fit that lowered it: a diverged one's loss depends on where each
    # cross-entropy clips, and the divergence is the loss test's failure, not this one's.
    if np.isfinite(loss) and loss < before:
        # A cross_entropy that sums over rows, or averages over every entry, is the cross-entropy test's loss,
        # not this one's: the history is held to the grader's loss on the same scale.
        measured["val_loss"] = loss * cross_entropy_scale(ev, len(X), y.shape[1])
    consistent(result["history"], measured, "fit was validated on its 320 training images")


def cross_entropy_scale(ev, n: int, classes: int) -> float:
    """How the student's cross_entropy scales the right one, for the two mistakes the cross-entropy test names:
    n (summed over the n rows), 1/classes (averaged over every entry, np.mean of the matrix); else 1. The
    ordinary batch of the cross-entropy probe shows which."""
    p, _, y = probes.cross_entropy_inputs()
    got = ev.entries.get("cross_entropy", {}).get("values", {}).get("out")
    right = measure.cross_entropy(p, y)
    if isinstance(got, (int, float)):
        if np.isclose(got, right * len(y), rtol=1e-5):
            return n
        if np.isclose(got, right / y.shape[1], rtol=1e-5):
            return 1 / classes
    return 1.0


@graded("numpy_ann.predict: class indices of shape (n,)")
def test_predict_returns_class_indices(ev):
    got = ev.result("predict", "predict(X)").get("pred")
    check(isinstance(got, np.ndarray), f"predict should return an array, got {got!r:.100}")
    check(got.shape == (8,), f"predict(X) for 8 samples: expected shape (8,), got {got.shape}. Use argmax(axis=1).")
    check(np.issubdtype(got.dtype, np.integer), f"predict should return integers, got dtype {got.dtype}")
    if not np.array_equal(got, right_probabilities().argmax(axis=1)):
        forward = "numpy_ann.forward: matches the reference on fixed weights"
        if forward in FAILED:  # the classes follow from forward's probabilities: forward's test names the cause
            learning.another_cause(f"predict(X) gives other classes than the argmax of the right probabilities, as "
                                   f"expected while forward fails ({advice.numbered(forward)}): fix forward first.")
        check(False, "predict(X) does not give the argmax of the probabilities forward(X) should return (the "
                     "reference's classes for these fixed weights).")


@graded(f"numpy_ann.accuracy: at least {config.THRESHOLDS['numpy_ann']:.0%} on the test set",
        leaderboard_column=f"{specs.of(FILE).label} accuracy")
def test_accuracy_reaches_the_threshold(grader, ev, record_property, set_leaderboard_value=None):
    accuracy_test(grader, ev, FILE, record_property, set_leaderboard_value)


def accuracy_test(grader, ev, file, record_property, set_leaderboard_value):
    """Test accuracy of the network itself (learning.network_predictions): for numpy_ann the grader's forward
    on the trained parameters, for a PyTorch file its saved state in a fresh worker. What predict answered in
    training's own process is only held against it."""
    source = grader.source(file)
    embedded = hardcoding.findings(source.read_bytes(), source.name) if source else []
    check(not embedded, f"{file}.py embeds what looks like answers rather than a model ({'; '.join(embedded)}). "
                        "Test accuracy is not graded for a file that does; remove the literal.")
    train = ev.result("train", f"training {file} on 55,000 images with your defaults")
    pred, why = learning.network_predictions(ev, "trained")
    own = specs.of(file).kind.network == "parameters"  # else evaluated in a fresh worker
    where = ("computed by the grader from W1, b1, W2 and b2 with the contract's forward" if own
             else f"a new {specs.of(file).cls}() given the trained state_dict, in a fresh process")
    check(pred is not None, f"the trained network's test accuracy ({where}) could not be measured: {why}")
    acc = float(np.mean(pred == grader.test_labels))
    set_leaderboard_value(round(100 * acc, 2))
    threshold = config.THRESHOLDS[file]
    # The time is the grader's own measure, in the unit of the budget: CPU time.
    used = f"{evidence.seconds(train.cpu_seconds)} of CPU time" if train.cpu_seconds is not None else "an unknown time"
    epochs = train.get("epochs")  # the length of the history fit returned: none for a fit that returns none
    summary = (f"test accuracy {acc:.2%} (threshold {threshold:.0%}; {where}); training used {used}"
               + (f" for {epochs} epochs" if isinstance(epochs, int) and epochs > 0 else ""))
    budget = config.cpu_budget(file, "train")
    if train.cpu_seconds is not None and train.cpu_seconds >= (1 - config.BAND) * budget:
        summary += (f"; that is within {config.BAND:.0%} of its budget ({evidence.seconds(budget)}), so on "
                    "another machine (Gradescope) the verdict on time may differ")
    record_property("output", summary)
    if acc < threshold:
        own = process_accuracy(ev, grader.process_labels)
        # On other images (1,000 against 9,000): only a gap far beyond their sampling noise says anything,
        # whether or not predict's own answers would have passed (a kNN beside a CNN got 84 % in-process).
        if own is not None and own - acc > OWN_GAP:
            keep = ("predict must be the argmax of forward(X), the contract's network on W1, b1, W2 and b2"
                    if own else
                    "keep what forward needs in the model: layers, buffers (self.register_buffer, for a "
                    "normalisation's mean and std) or small attributes")
            check(False, f"{summary}. That is the network's own accuracy. Your predict, in the process "
                         f"that trained it, got {own:.2%}: its answers depend on more than the network "
                         f"itself (a normalisation done outside it, data or another classifier kept beside "
                         f"it?). Accuracy counts the network the file asks for: {keep}.")
    check(acc >= threshold, f"{summary}. {advice.accuracy_advice(ev, file, train, pred, FAILED)}")


OWN_GAP = 0.05  # accuracy predict may gain, in training's process, over the network before the message says so


def process_accuracy(ev, labels) -> float | None:
    """What predict answered on the test set in the training worker, scored; None when it answered nothing."""
    result = getattr(ev, "loaded", {}).get("test_predictions")
    pred = result.get("pred") if result is not None else None
    if not isinstance(pred, np.ndarray):
        return None
    if pred.ndim == 2 and pred.shape == (len(labels), 10) and pred.dtype.kind == "f":
        pred = pred.argmax(axis=1)
    return float(np.mean(pred == labels)) if pred.shape == labels.shape and pred.dtype.kind in "iuf" else None


def graded_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every absolute import that grading can run: not those under `if __name__ == "__main__":`."""
    def main_guard(node) -> bool:
        test = getattr(node, "test", None)
        return (isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
                and test.left.id == "__name__" and any(isinstance(c, ast.Constant) and c.value == "__main__"
                                                       for c in test.comparators))

    found, todo = [], [n for n in tree.body if not main_guard(n)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        todo += list(ast.iter_child_nodes(node))
    return sorted(found)


@graded("numpy_ann.imports: only NumPy and the standard library")
def test_imports_only_numpy_and_the_standard_library(grader, ev):
    unfinished = sorted(call for call, e in ev.entries.items()
                        if not e["ok"] and e["error"]["type"] == "NotImplementedError")
    check(not unfinished, "checked once every function is filled in; these calls still raise "
                          f"NotImplementedError: {', '.join(unfinished)}")
    ev.result("import", "importing numpy_ann.py")
    # Credited beside real work, on the broad gate: a network the grader saw learn, or a backward or forward that
    # gives the expected values; one function such as cross_entropy is not enough.
    check(learned(ev) or passes(test_forward_matches_the_reference, ev),
          "numpy_ann.py does no work the grader can check yet: this test is credited once forward or backward "
          "gives the expected values, or the network learns.")
    allowed = set(sys.stdlib_module_names) | {"numpy", "utils"}
    bad = [(line, module) for line, module in graded_imports(ast.parse(grader.source(FILE).read_bytes()))
           if module.split(".")[0] not in allowed]
    check(not bad, f"numpy_ann.py imports {', '.join(f'{m} (line {n})' for n, m in bad)}: this file must use NumPy "
                   "and the standard library only.")
    loaded = ev.result("modules", "the modules loaded while numpy_ann.py ran")["forbidden"]
    check(not loaded, f"{', '.join(loaded)} was loaded while numpy_ann.py ran (through importlib or __import__?): "
                      "this file must use NumPy and the standard library only.")
