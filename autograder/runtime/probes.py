"""What the grader asks of each student file: named calls on fixed inputs.

Each probe calls student code and returns a dict of plain values (arrays,
numbers, strings, lists). The worker records them; the tests in
`autograder/suite/` judge them. Running the same probes on `solutions/` gives
the expected values (`expected.py`), so inputs and expectations never drift.

Unit probes use small fixed arrays. The `train` probe trains the model once
with the student's defaults on the 60,000 training images; every training
test is judged from that one run.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

import numpy as np

import utils
from autograder import specs
from autograder.core import config
from autograder.runtime import datacache

DATA_ENV = "GRADER_DATA"  # the worker's data folder (sandbox.prepare): the files datacache.load maps
FORBIDDEN = ("torch", "tensorflow", "jax", "sklearn")  # modules numpy_ann.py must not bring in


class Skipped(Exception):
    """A probe that cannot run because an earlier one failed."""


SEED_ENV = "GRADER_PROBE_SEED"  # the grading's probe seed: the grader draws it, sets it here and hands it to workers


def probe_seed() -> int:
    """This grading's seed for the unit probes' inputs (0 where none is set: the expected values' build).

    A grading draws its own (suite/fixtures.py), from the submission and a secret, so the inputs are new each
    time: outputs looked up from a table of earlier inputs are worth nothing, and the grader computes the
    expected values itself, from the contract's formulas (suite/measure.py).
    """
    try:
        return int(os.environ.get(SEED_ENV, "0"))
    except ValueError:
        return 0


def rng(seed):
    return np.random.default_rng([seed, probe_seed()])


def fixed(shape, seed, scale=1.0):
    return rng(seed).standard_normal(shape) * scale


def relu_input():
    z = fixed((4, 5), 1)
    z[0, :3] = 0.0  # exact zeros: relu_prime must give 0 there
    z[1, 1] = -0.0
    return z


def relu_input_3d():
    return fixed((2, 3, 4), 4)


def probs_and_labels(n=8, k=10, seed=3):
    logits = fixed((n, k), seed, 2.0)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = utils.one_hot(rng(seed).integers(0, k, n), k).astype(np.float64)
    return p, y


# ----------------------------------------------------------------------- numpy_ann

SMALL = (6, 5, 4)  # input, hidden, output sizes of the network used by the unit probes


PARAMS = ("W1", "b1", "W2", "b2")


def fixed_params(sizes, seed=7):
    """The fixed float64 parameters the unit probes give a network of these sizes (the grader knows them too)."""
    i, h, o = sizes
    return {"W1": fixed((i, h), seed), "b1": fixed((1, h), seed + 1, 0.1),
            "W2": fixed((h, o), seed + 2), "b2": fixed((1, o), seed + 3, 0.1)}


def numpy_model(mod, sizes, lr=0.1, seed=7):
    """A NumpyANN with fixed float64 weights; built without __init__ if the student's raises."""
    try:
        model = mod.NumpyANN(*sizes, lr=lr, random_seed=0)
    except Exception:
        model = mod.NumpyANN.__new__(mod.NumpyANN)
        model.lr = lr
    for name, value in fixed_params(sizes, seed).items():
        setattr(model, name, value)
    return model


BACKWARD_SEED = 12  # backward's batch, apart from forward's and predict's (11): its right cache helps nothing else
CACHE_FILE = "backward_cache.npz"  # in the worker's data folder: the grader's right forward cache for that batch


def cache_key(sizes) -> str:
    """The name of a network's arrays in CACHE_FILE: '6-5-4_z1' and so on."""
    return "-".join(map(str, sizes))


def correct_the_cache(model, X, key: str) -> None:
    """After the student's forward: put the right values, which the grader computed and wrote for this batch
    (CACHE_FILE, `key`), in the attributes the stub tells forward to keep (self.z1, self.a1, self.a2, and z2
    where kept), so that backward is judged on its own, not on a forward (a softmax, a relu) that fails its
    own tests. A cache kept elsewhere, or recomputed in backward, is left as it is; for a correct forward
    nothing changes. The worker holds no right forward of its own: student code could borrow it.
    """
    path = os.path.join(os.environ.get(DATA_ENV, ""), CACHE_FILE)
    if not os.path.isfile(path):
        return  # the expected values' build: the reference's forward is right
    with np.load(path, allow_pickle=False) as cache:
        for name in ("z1", "a1", "z2", "a2"):
            kept, right = getattr(model, name, None), cache.get(f"{key}_{name}")
            if isinstance(kept, np.ndarray) and right is not None and kept.shape == right.shape:
                setattr(model, name, right.astype(np.result_type(kept.dtype, np.float32)))


def parameters(model, prefix=""):
    """Copies of the model's four parameters, as the grader reads them off the model (not as it reports them)."""
    return {prefix + k: np.array(getattr(model, k, np.zeros(0)), dtype=np.float64) for k in PARAMS}


STEP_LR = 0.5  # the learning rate of step's probe


def step_grads(sizes) -> dict:
    """The gradients step's probe hands to step, one array of each parameter's shape."""
    return {k: fixed(v.shape, 20 + i) for i, (k, v) in enumerate(fixed_params(sizes).items())}


def batch(sizes, n, seed=11):
    X = fixed((n, sizes[0]), seed)
    y = utils.one_hot(rng(seed).integers(0, sizes[2], n), sizes[2]).astype(np.float64)
    return X, y


def large_logits():
    """Logits whose rows sit near +1e4 or -1e4, with the spread of ordinary logits within each row."""
    offsets = np.array([1e4, -1e4, 1e4, 5e3, -5e3, 9e3])[:, None]
    return softmax_logits() + offsets


def softmax_logits():
    return fixed((6, 10), 2, 3.0)


def shifted_logits():
    return softmax_logits() + np.arange(6)[:, None] * 50.0


def cross_entropy_inputs():
    """(p, y) of an ordinary batch, and (p0, y) where row 0 is one-hot and row 1 gives its true class exactly 0."""
    p, y = probs_and_labels()
    p0 = p.copy()
    p0[0] = 0.0
    p0[0, y[0].argmax()] = 1.0
    p0[1, y[1].argmax()] = 0.0
    p0[1] /= p0[1].sum()
    return p, p0, y


FIT_SMALL = (320, 5, 32)  # samples, epochs, batch size of numpy_ann's small fit
TRACKING = (200, 32)  # samples and batch size of the fit that follows each sample through backward
TRACKING_LR = 0.1  # the learning rate the grader gives the network of that fit


def tracking_batch():
    """Data whose first feature encodes each sample's index, for following samples through fit."""
    n = TRACKING[0]
    X, y = batch(SMALL, n, seed=5)
    X[:, 0] = np.arange(n) / 1000
    return X, y


def numpy_probes(mod, ctx):
    z = relu_input()
    p, p0, y = cross_entropy_inputs()
    z3 = relu_input_3d()

    def backward_probe(sizes, n):
        model = numpy_model(mod, sizes)
        X, y = batch(sizes, n, BACKWARD_SEED)
        before = {k: getattr(model, k).copy() for k in ("W1", "b1", "W2", "b2")}
        model.forward(X)
        correct_the_cache(model, X, cache_key(sizes))
        grads = model.backward(X, y)
        out = {f"d{k}": np.asarray(v) for k, v in grads.items()} if isinstance(grads, dict) else {"returned": repr(grads)[:200]}
        out.update({f"before_{k}": v for k, v in before.items()})
        out.update({f"after_{k}": np.array(getattr(model, k)) for k in before})
        return out

    def fit_tracking():
        """Fit on samples whose first feature encodes their index; log what reaches backward, and the parameters."""
        n, bs = TRACKING
        model = numpy_model(mod, SMALL, lr=TRACKING_LR)
        X, y = tracking_batch()
        seen, mislabelled = [], 0
        original = model.backward

        def tracking_backward(Xb, yb):
            nonlocal mislabelled
            index = [int(i) for i in np.rint(np.asarray(Xb)[:, 0] * 1000)]
            seen.append(index)
            try:  # labels that do not travel with their images (X shuffled, y not): for the accuracy advice
                wrong = np.asarray(yb).argmax(axis=1) != y[np.clip(index, 0, n - 1)].argmax(axis=1)
                mislabelled += int(wrong.sum())
            except (ValueError, IndexError, TypeError):
                pass
            return original(Xb, yb)

        model.backward = tracking_backward
        before = parameters(model, "before_")
        model.fit(X, y, X, y, epochs=2, batch_size=bs)
        return {"batches": seen, "n": n, "mislabelled": mislabelled, **before, **parameters(model, "after_")}

    def fit_small():
        n, epochs, bs = FIT_SMALL
        X, y = ctx.train_subset(n, "numpy")
        model = mod.NumpyANN(random_seed=0)
        before = parameters(model, "before_")
        history = history_values(model.fit(X, y, X, y, epochs=epochs, batch_size=bs))
        lr = getattr(model, "lr", None)  # the rate the grader's own steps take, to judge the fit's descent by
        lr = float(lr) if type(lr) in (int, float) or isinstance(lr, np.floating) else None
        return {"history": history, "lr": lr, **before, **parameters(model, "after_")}

    def step_probe():
        model = numpy_model(mod, SMALL, lr=STEP_LR)
        grads = step_grads(SMALL)
        model.step(grads)
        return {k: np.asarray(getattr(model, k)) for k in grads}

    def init_probe():
        model = mod.NumpyANN(*SMALL, random_seed=0)
        return {k: list(np.shape(getattr(model, k))) for k in ("W1", "b1", "W2", "b2")}

    def predict_probe():
        return {"pred": np.asarray(numpy_model(mod, SMALL).predict(batch(SMALL, 8)[0]))}

    yield "relu", lambda: {"out": np.asarray(mod.relu(z))}
    yield "relu_3d", lambda: {"out": np.asarray(mod.relu(z3))}
    yield "relu_prime", lambda: {"out": np.asarray(mod.relu_prime(z))}
    yield "relu_prime_3d", lambda: {"out": np.asarray(mod.relu_prime(z3))}
    yield "softmax", lambda: {"out": np.asarray(mod.softmax(softmax_logits()))}
    yield "softmax_large", lambda: {"out": np.asarray(mod.softmax(large_logits()))}
    yield "softmax_shifted", lambda: {"out": np.asarray(mod.softmax(shifted_logits()))}
    yield "cross_entropy", lambda: {"out": float(mod.cross_entropy(p, y))}
    yield "cross_entropy_zero", lambda: {"out": float(mod.cross_entropy(p0, y))}
    yield "init", init_probe
    yield "forward", lambda: {"out": np.asarray(numpy_model(mod, SMALL).forward(batch(SMALL, 8)[0]))}
    yield "backward", lambda: backward_probe(SMALL, 8)
    yield "step", step_probe
    yield "predict", predict_probe
    yield "fit_small", fit_small
    yield "fit_tracking", fit_tracking
    if config.hidden:
        yield from config.hidden.numpy_probes(mod, numpy_model, batch, backward_probe)
    yield "modules", lambda: {"forbidden": [m for m in FORBIDDEN if m in sys.modules]}


# --------------------------------------------------------------------- PyTorch files

def history_values(history):
    """The history as plain lists of floats, or a description of what came back instead."""
    if not isinstance(history, dict):
        return {"__type__": type(history).__name__}
    out = {}
    for key, values in history.items():
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError):
            out[str(key)] = {"__type__": type(values).__name__}
    return out


def with_grad(history) -> list[str]:
    """The history's keys whose values include tensors that require grad: a plot of them fails (numpy())."""
    import torch

    if not isinstance(history, dict):
        return []
    return sorted(str(key) for key, values in history.items() if isinstance(values, (list, tuple))
                  and any(isinstance(v, torch.Tensor) and v.requires_grad for v in values))


# The history the plot probe hands to plot_train_val_metrics: the grader knows what the curves must show.
PLOT_HISTORY = {"train_loss": [0.92, 0.61, 0.48, 0.41], "val_loss": [0.85, 0.66, 0.57, 0.55],
                "train_acc": [0.68, 0.78, 0.83, 0.86], "val_acc": [0.70, 0.76, 0.80, 0.81]}
SMALL_FIT = (384, 128, 3)  # training samples, validation samples and epochs of a PyTorch file's small fit
# The small fit's batch size, the grader's own: whatever batch the student's defaults train with (the whole set,
# one step per epoch), the small fit takes 36 steps, so that every network that learns is seen to (learning.py).
SMALL_BATCH = 32
# The small fit's second try, where fit takes `learning_rate` with a lower default: correct code
# that learns slowly (plain SGD at 1e-3: 36 steps) shows no learning on held-out images at its own
# rate. Where the first fit is right on fewer than RERUN_BELOW of its own validation images, a new
# model is fitted at SMALL_RATE, and kept where it learned there and the first did not (fit_small).
SMALL_RATE = 1e-2
RERUN_BELOW = 0.4
KEEP_ABOVE = 0.25  # what the second try must get right of those images to be kept


def grader_batches(fit, raise_rate: bool = False) -> dict:
    """The small fit's keywords: {"batch_size": SMALL_BATCH} where fit takes that keyword (the
    contract's signature); with `raise_rate`, also {"learning_rate": SMALL_RATE} where fit takes
    `learning_rate` with a lower numeric default."""
    import inspect

    try:
        parameters = inspect.signature(fit).parameters
    except (TypeError, ValueError):
        return {}
    given = {}
    if "batch_size" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        given["batch_size"] = SMALL_BATCH
    rate = parameters.get("learning_rate")
    default = rate.default if rate is not None else None
    if raise_rate and type(default) in (int, float) and 0 < default < SMALL_RATE:
        given["learning_rate"] = SMALL_RATE
    return given


def torch_probes(mod, ctx, file):
    import torch
    from torch import nn
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    cls, layout = getattr(mod, specs.of(file).cls), specs.of(file).layout
    images, _ = ctx.train_subset(16, "flat")

    def construct():
        model = cls()
        lazy = torch.nn.parameter.is_lazy
        return {"conv2d": sum(isinstance(m, (nn.Conv2d, nn.LazyConv2d)) for m in model.modules()),
                "parameters": sum(0 if lazy(p) else p.numel() for p in model.parameters()),
                "dtypes": sorted({str(p.dtype) for p in model.parameters() if not lazy(p)})}

    def forward(layout):
        model = cls()
        X = images if layout == "flat" else images.reshape(-1, 1, 28, 28)
        with torch.no_grad():
            out = model(X)
        return {"out": out, "uses_parameters": uses_parameters(model, X)}

    def fit_small():
        """The small fit at the student's learning rate; where that shows little learning on its own
        validation images (below RERUN_BELOW) and fit takes a lower `learning_rate` than SMALL_RATE,
        once more from a new model at SMALL_RATE, kept where it learned (`better`). The worker
        only chooses; the grader judges learning on held-out images, whichever fit it is."""
        result = fit_small_at(raise_rate=False)
        if not ("learning_rate" in grader_batches(ctx.small_model.fit, raise_rate=True)
                and result["measured"]["val_acc"] < RERUN_BELOW):
            return result
        kept = ctx.small_model, getattr(ctx, "small_history", None)
        utils.set_seed(0)
        try:
            faster = fit_small_at(raise_rate=True)
        except Exception:  # noqa: BLE001 - the first fit stands
            faster = None
        if faster is not None and better(faster["measured"], result["measured"]):
            return dict(faster, learning_rate=SMALL_RATE)
        ctx.small_model, ctx.small_history = kept
        return result

    def better(faster: dict, first: dict) -> bool:
        """Whether the fit at SMALL_RATE learned, on its validation images, where the first did not:
        right on at least KEEP_ABOVE of them, more than the first, its loss lower than before fit.
        A fit broken otherwise (a loss that rises) keeps its first try, and that try's verdicts."""
        return (faster["val_acc"] >= KEEP_ABOVE and faster["val_acc"] > first["val_acc"]
                and faster["train_loss"] < faster["loss_before"])

    def fit_small_at(raise_rate: bool):
        n_train, n_val, epochs = SMALL_FIT
        X, y = ctx.train_subset(n_train + n_val, layout)
        model = cls()
        ctx.small_model = model  # predict and plot use it, trained or not
        materialise(model, X[:2])
        params = [p for p in model.parameters() if p.requires_grad]
        before = [p.detach().clone() for p in params]
        loss_before, _ = measure(model, X[:n_train], y[:n_train])
        incoming = [torch.zeros_like(p) for p in params]
        deviations, moved, snapshot = [], [], []

        def add(i):
            def hook(grad):
                incoming[i] += grad.detach()
            return hook

        def pre_step(optimizer, args, kwargs):
            dev = 0.0
            for i, p in enumerate(params):
                if p.grad is not None:
                    scale = incoming[i].abs().max().item() + 1e-12
                    dev = max(dev, (p.grad - incoming[i]).abs().max().item() / scale)
                incoming[i].zero_()
            deviations.append(dev)
            snapshot[:] = [parameter_sample(params)]

        def post_step(optimizer, args, kwargs):
            if snapshot:  # how far this step moved the parameters, relative to their size
                old = snapshot.pop()
                moved.append(float(np.abs(parameter_sample(params) - old).max() / (np.abs(old).max() + 1e-12)))

        # The mode the model is in when fit runs it on validation images (for the advice on train
        # mode): the first image of each batch the model is called on, matched by its pixel sum.
        val_sums = {round(float(v), 2) for v in X[n_train:].reshape(n_val, -1).sum(dim=1)}
        train_sums = {round(float(v), 2) for v in X[:n_train].reshape(n_train, -1).sum(dim=1)}
        val_modes = []

        def validation_mode(module, inputs):
            first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            if first is None or first.ndim < 2 or not len(first) or first[0].numel() != 784:
                return
            total = round(float(first[0].detach().float().sum()), 2)
            if total in val_sums and total not in train_sums:
                val_modes.append(bool(module.training))

        handles = [p.register_hook(add(i)) for i, p in enumerate(params)]
        handles += [register_optimizer_step_pre_hook(pre_step), register_optimizer_step_post_hook(post_step)]
        handles.append(model.register_forward_pre_hook(validation_mode))
        try:
            history = model.fit(X[:n_train], y[:n_train], X[n_train:], y[n_train:], epochs=epochs,
                                **grader_batches(model.fit, raise_rate))
            ctx.small_history = history  # the judgement's history when training with the defaults does not finish
        finally:
            for h in handles:
                h.remove()
        loss_after, train_acc = measure(model, X[:n_train], y[:n_train])
        val_loss, val_acc = measure(model, X[n_train:], y[n_train:])
        # The values themselves, not a verdict: the grader compares them (student code may patch torch.equal).
        return {**state_of(model),
                "history": history_values(history), "history_with_grad": with_grad(history),
                "grad_deviation": deviations, "step_moved": moved, "validation_modes": val_modes,
                "learning_rate": None,
                "params_before": parameter_sample(before), "params_after": parameter_sample(params),
                "measured": {"loss_before": loss_before, "train_loss": loss_after, "train_acc": train_acc,
                             "val_loss": val_loss, "val_acc": val_acc}}

    def predict():
        model = getattr(ctx, "small_model", None) or cls()
        model.train()
        modes = []
        hooks = [m.register_forward_pre_hook(lambda m, inp: modes.append([m.training, torch.is_grad_enabled()]))
                 for m in model.modules()]
        X = ctx.train_subset(16, layout)[0]
        try:
            pred = model.predict(X)
        finally:
            for h in hooks:
                h.remove()
        model.eval()
        with torch.no_grad():
            logits = model(X)
        return {"pred": pred, "modes": modes, "logits": logits}

    yield "construct", construct
    yield "forward_flat", lambda: forward("flat")
    yield "forward_image", lambda: forward("image")
    yield "fit_small", fit_small
    yield "predict", predict
    if config.hidden:
        yield from config.hidden.torch_probes(cls)


HELDOUT = 500  # graded test images on which the fresh worker shows whether a small fit learned (learning.py)


def uses_parameters(model, X) -> bool:
    """Whether the model applies its parameters to the input: a weighted sum of its output has, for one parameter,
    a gradient that is not zero and changes with the input (it does for X and for 1 - X).

    A bias added to the input, or a parameter added to a constant, has the same gradient for every input:
    such a forward computes nothing from the input with its parameters.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return False
    gradients = []
    for images in (X, 1 - X):
        with torch.enable_grad():
            out = model(images)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                return False
            weights = torch.arange(out.numel(), dtype=torch.float32).reshape(out.shape).sin()
            grads = torch.autograd.grad((out.float() * weights).sum(), params, allow_unused=True)
        gradients.append([None if g is None else g.detach() for g in grads])
    if not any(a is not None and b is not None and bool(a.abs().sum() > 0) and not torch.allclose(a, b)
               for a, b in zip(*gradients, strict=True)):
        return False
    return moves_with_parameters(model, X, params)


def moves_with_parameters(model, X, params) -> bool:
    """Whether the logits change, in eval mode, when every parameter is nudged: a gradient that reaches the
    parameters through a term that cancels (`lin(X) - lin(X).detach()`) shows them no effect on any value."""
    import torch

    saved, was_training = [p.detach().clone() for p in params], model.training
    try:
        model.eval()
        with torch.no_grad():
            before = model(X)
            generator = torch.Generator().manual_seed(0)
            for p in params:
                p.add_(0.1 * (p.abs().mean() + 1e-3) * torch.randn(p.shape, generator=generator, dtype=p.dtype))
            after = model(X)
        return isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor) and before.shape == after.shape \
            and not torch.allclose(before.float(), after.float())
    except Exception:  # noqa: BLE001 - a model that cannot run in eval mode: predict's tests say so, not forward's
        return True
    finally:
        with torch.no_grad():
            for p, value in zip(params, saved, strict=True):
                p.copy_(value)
        model.train(was_training)


PREDICT_CHUNK = 1_000  # test images per call of the student's predict when the grader measures test accuracy
MEASURE_BATCH = 256  # images per forward pass when the grader measures: a student's wide CNN stays small in memory


def measure(model, X, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model's logits on X, y, as the grader computes them.

    In eval mode and without gradients; the model's mode is restored afterwards.
    """
    import torch

    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = torch.cat([model(X[i:i + MEASURE_BATCH]) for i in range(0, len(X), MEASURE_BATCH)]).float()
            return (torch.nn.functional.cross_entropy(logits, y).item(),
                    (logits.argmax(dim=1) == y).float().mean().item())
    finally:
        model.train(was)


def parameter_sample(tensors, per_tensor: int = 4096) -> np.ndarray:
    """The first `per_tensor` values of each tensor, flattened and concatenated as float64 (empty for none)."""
    parts = [t.detach().reshape(-1)[:per_tensor].cpu().double().numpy() for t in tensors]
    return np.concatenate(parts) if parts else np.zeros(0)


def train_probes(mod, ctx, spec):
    """Train once with the student's defaults; predict the test set; and, for a PyTorch file, plot and judge."""
    state = {}
    kind, cls = spec.layout, getattr(mod, spec.cls)

    def train():
        release_memory()  # what the unit probes left behind, before the largest allocation of the run
        X_train, y_train, X_val, y_val = ctx.train_data(kind)
        release_memory()  # the conversion's scratch
        model = cls()
        started = time.perf_counter()
        history = model.fit(X_train, y_train, X_val, y_val)
        seconds = time.perf_counter() - started
        state.update(model=model, history=history)
        result = {"history": history_values(history), "seconds": seconds,
                  "epochs": len(history.get("train_loss", [])) if isinstance(history, dict) else 0,
                  **(parameters(model, STATE) if kind == "numpy" else state_of(model))}
        if kind != "numpy":  # what the trained model really does, to hold the history against
            val_loss, val_acc = measure(model, X_val, y_val)
            _, train_acc = measure(model, X_train[:MEASURED_TRAIN], y_train[:MEASURED_TRAIN])
            result["measured"] = {"val_loss": val_loss, "val_acc": val_acc, "train_acc": train_acc}
        return result

    def need_model():
        if "model" not in state:
            raise Skipped("training did not finish, so there is no trained model")
        return state["model"]

    def predictions():
        """predict on the test images, PREDICT_CHUNK at a time: a predict that runs the whole batch through a wide
        CNN at once would need about a gigabyte for 10,000 images, more than Gradescope's default machine has."""
        model = need_model()
        images = ctx.test_data(kind)
        parts = [model.predict(images[start:start + PREDICT_CHUNK]) for start in range(0, len(images), PREDICT_CHUNK)]
        if any(np.ndim(part) == 0 for part in parts):  # not one prediction per image: the test says what it got
            return {"pred": np.asarray(parts[0])}
        if kind != "numpy":
            import torch

            if all(isinstance(part, torch.Tensor) for part in parts):
                return {"pred": torch.cat([part.detach().cpu() for part in parts])}
        return {"pred": np.concatenate([np.asarray(part) for part in parts])}

    def plot():
        """Plot the grader's own history (training need not have finished), and read back the curves drawn."""
        model = state.get("model") or getattr(ctx, "small_model", None) or cls()
        import matplotlib.pyplot as plt

        path = ctx.scratch_png
        if os.path.lexists(path):
            os.remove(path)
        fig = model.plot_train_val_metrics({k: list(v) for k, v in PLOT_HISTORY.items()}, path)
        info = {"figure_type": type(fig).__name__, "curves": curves(fig), "written": os.path.isfile(path)}
        if info["written"]:
            with open(path, "rb") as f:
                info["png"] = np.frombuffer(f.read(), dtype=np.uint8)
        plt.close("all")
        return info

    def judgement():
        """The judgement on the trained model's history, or, when training did not finish, on the small fit's."""
        if "model" not in state and getattr(ctx, "small_history", None) is not None:
            return {"word": ctx.small_model.report_my_judgement(ctx.small_history), "on": "small fit"}
        if "model" not in state and "train" in getattr(ctx, "skipped", ()):
            # A worker started again after training was stopped: neither the trained model nor the small
            # fit's history is here, so the rule is asked of a new model on the grader's own history.
            history = {k: list(v) for k, v in PLOT_HISTORY.items()}
            return {"word": cls().report_my_judgement(history), "on": "grader's history"}
        need_model()
        return {"word": state["model"].report_my_judgement(state["history"]), "on": "training"}

    yield "train", train
    yield "test_predictions", predictions
    if spec.kind.probes == "torch":
        yield "plot", plot
        yield "judgement_own", judgement


MEASURED_TRAIN = 2_000  # training images on which the grader measures a trained model's accuracy
STATE = "state."  # the prefix of a trained model's saved state in a call's record: "state.fc1.weight"


ATTRIBUTE = "attribute."  # the prefix of a small tensor kept as a plain attribute: "attribute.norm.mean"
ARRAY_ATTRIBUTE = "array."  # likewise, a NumPy array
ATTRIBUTE_ELEMENTS = 2 * 784  # the largest such tensor carried over (a normalisation's mean and std, per pixel)
BUFFER_ELEMENTS = 2 * 784  # the largest buffer other than BatchNorm's statistics a saved state may hold
STATISTICS = ("running_mean", "running_var", "num_batches_tracked")  # what batch normalisation keeps


def materialise(model, X) -> None:
    """Give lazy layers (nn.LazyLinear, ...) their parameters with one forward pass, as training would."""
    import torch

    if any(torch.nn.parameter.is_lazy(p) for p in model.parameters()):
        with torch.no_grad():
            model(X)


def state_of(model) -> dict:
    """What a fresh worker needs to rebuild the trained network in a new instance (`evaluate_probes`): the
    state_dict (parameters and buffers) as STATE-prefixed tensors, and the small values fit may have kept
    as plain attributes of the model or of any of its modules (a normalisation's mean and std): tensors
    (ATTRIBUTE-prefixed) and NumPy arrays (ARRAY_ATTRIBUTE) of at most ATTRIBUTE_ELEMENTS values, and
    numbers or short tuples and lists of numbers (in `attributes`). bfloat16 travels as float32."""
    import torch

    state, numbers = {}, {}
    for name, value in model.state_dict().items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            state[STATE + name] = value.float() if value.dtype == torch.bfloat16 else value
    for prefix, module in torch.nn.Module.named_modules(model):
        for name, value in vars(module).items():
            if name.startswith("_") or not name.isidentifier() or name == "training":
                continue
            key = f"{prefix}.{name}".lstrip(".")
            if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
                if value.numel() <= ATTRIBUTE_ELEMENTS:
                    value = value.detach().cpu()
                    state[ATTRIBUTE + key] = value.float() if value.dtype == torch.bfloat16 else value
            elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= ATTRIBUTE_ELEMENTS:
                state[ARRAY_ATTRIBUTE + key] = value
            elif (number := plain_number(value)) is not None:
                numbers[key] = number
    return {**state, "attributes": numbers}


def plain_number(value):
    """A number, NumPy scalar, or short tuple or list of them, as JSON: {"kind", "value"}; else None."""
    if type(value) in (int, float, bool):
        return {"kind": type(value).__name__, "value": value}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"kind": "numpy", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, (tuple, list)) and len(value) <= 16 and all(type(v) in (int, float) for v in value):
        return {"kind": type(value).__name__, "value": list(value)}
    return None


def restore_number(number: dict):
    """The value `plain_number` described."""
    kind, value = number.get("kind"), number.get("value")
    if kind == "numpy":
        return np.dtype(number.get("dtype", "<f8")).type(value)
    if kind == "tuple":
        return tuple(value)
    return value


def set_attribute(model, key: str, value) -> None:
    """Set `key` ("norm.mean") on the model or the submodule it names; nothing where that module is gone."""
    owner, _, name = key.rpartition(".")
    try:
        import torch

        target = torch.nn.Module.get_submodule(model, owner)
    except AttributeError:
        return
    setattr(target, name, value)


def evaluate_probes(mod, ctx, file):
    """A fresh worker's calls: a new instance of the student's class takes a saved state (the small fit's, the
    trained model's) and classifies test images. This worker has no training data in reach, and nothing the
    training worker kept: predictions from stored samples or lookups have nothing to draw on here."""
    import torch

    cls, layout = getattr(mod, specs.of(file).cls), specs.of(file).layout

    def evaluate(which: str, count: int | None):
        path = os.path.join(os.environ[DATA_ENV], f"{which}_state.npz")
        if not os.path.isfile(path):
            raise Skipped(f"there is no saved state of the {which} model to evaluate")
        with np.load(path, allow_pickle=False) as saved:
            state = {key: torch.from_numpy(np.array(saved[key])) for key in saved.files}
        model = cls()
        materialise(model, ctx.test_data(layout)[:2])
        tensors = {k: v for k, v in state.items() if not k.startswith((ATTRIBUTE, ARRAY_ATTRIBUTE))}
        place_buffers(model, tensors)
        torch.nn.Module.load_state_dict(model, tensors)  # the base class's: a class's own may take anything
        for key, value in state.items():  # what fit kept in plain attributes: small tensors and arrays
            if key.startswith(ATTRIBUTE):
                set_attribute(model, key[len(ATTRIBUTE):], value)
            elif key.startswith(ARRAY_ATTRIBUTE):
                set_attribute(model, key[len(ARRAY_ATTRIBUTE):], value.numpy())
        for key, number in ctx.numbers(which).items():
            set_attribute(model, key, restore_number(number))
        X = ctx.test_data(layout)
        X = X if count is None else X[:count]
        model.eval()
        with torch.no_grad():
            logits = [model(X[i:i + MEASURE_BATCH]) for i in range(0, len(X), MEASURE_BATCH)]
        return {"pred": torch.cat([part.detach().float().argmax(dim=1) for part in logits])}

    def place_buffers(model, tensors):
        """Make room in a new instance for the buffers fit left: one registered in fit, a placeholder (None,
        or another shape) filled in fit. A network keeps what it learns in its parameters, so a buffer may
        hold at most BUFFER_ELEMENTS values (a mean and std per pixel), BatchNorm's statistics aside: a
        table of training images kept in buffers is refused."""
        parameters = {name for name, _ in torch.nn.Module.named_parameters(model)}
        for name, value in tensors.items():
            if name in parameters:
                continue
            owner, _, leaf = name.rpartition(".")
            module = torch.nn.Module.get_submodule(model, owner)
            current = module._buffers.get(leaf)
            if leaf in STATISTICS and current is not None and current.shape == value.shape:
                continue
            if value.numel() > BUFFER_ELEMENTS:
                raise ValueError(f"the saved state holds {name}, a buffer of {value.numel()} values; beyond "
                                 f"BatchNorm's statistics a buffer may hold {BUFFER_ELEMENTS} (a mean and a "
                                 "standard deviation per pixel): a network keeps what it learns in its "
                                 "parameters")
            module._buffers[leaf] = value.clone()

    yield "evaluate_small", lambda: evaluate("small", HELDOUT)
    yield "evaluate_trained", lambda: evaluate("trained", None)


def curves(fig) -> list:
    """The y values of every line in every panel of a figure, as lists of floats (None where not numbers)."""
    panels = []
    for ax in getattr(fig, "axes", []):
        lines = []
        for line in ax.get_lines():
            try:
                lines.append([float(v) for v in np.asarray(line.get_ydata(), dtype=np.float64).ravel()])
            except (TypeError, ValueError):
                lines.append(None)
        panels.append(lines)
    return panels


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the system (glibc's malloc_trim), to keep the peak low."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Context:
    """Data for the probes, loaded once per worker."""

    def numbers(self, which: str) -> dict:
        """The plain numbers a saved model kept as attributes (`state_of`), written by the grader beside it."""
        path = os.path.join(os.environ[DATA_ENV], f"{which}_numbers.json")
        if not os.path.isfile(path):
            return {}
        import json

        with open(path) as f:
            found = json.load(f)
        return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}

    def __init__(self):
        self._train = None
        self.scratch_png = "grader_plot_check.png"

    def _train_arrays(self):
        if self._train is None:
            data = os.environ[DATA_ENV]
            self._train = tuple(np.load(f"{data}/train_{what}.npy", mmap_mode="r", allow_pickle=False)
                                for what in ("images", "labels"))
        return self._train

    def train_subset(self, n, kind):
        images, labels = self._train_arrays()
        return utils.to_model_format(images[:n], labels[:n], kind)

    def train_data(self, kind):
        """The training and validation split in the model's format: the grader's float32 files (datacache), mapped
        copy-on-write, and the labels of the split."""
        _, labels = self._train_arrays()
        tr, va = utils.train_val_split(len(labels), config.VAL_SIZE)
        self._train = None  # unmap the uint8 pixels: training needs only the float32 images
        data = []
        for part, index in (("train", tr), ("val", va)):
            data += utils.as_model_format(datacache.load(os.environ[DATA_ENV], part), labels[index], kind)
        return tuple(data)

    def test_data(self, kind):
        """The test images in the model's format, mapped as train_data's; None when the grader gave none (the
        expected values are built without them)."""
        mapped = datacache.load(os.environ[DATA_ENV], "test")
        return None if mapped is None else utils.as_model_format(mapped, None, kind)[0]


def configure_threads():
    threads = config.threads()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


NUMPY_UNIT = ("relu", "relu_3d", "relu_prime", "relu_prime_3d", "softmax", "softmax_large", "softmax_shifted",
              "cross_entropy", "cross_entropy_zero", "init", "forward", "backward", "step", "predict", "fit_small",
              "fit_tracking")
TORCH_UNIT = ("construct", "forward_flat", "forward_image", "fit_small", "predict")
EVALUATE = ("evaluate_small", "evaluate_trained")  # a fresh worker's calls (`evaluate_probes`)


def family(file: str):
    """The probes of FILE's kind (specs.Kind.probes): its unit calls, their probes(mod, ctx, spec), its
    training calls and their probes, in order. "numpy" and "torch" are this module's; any other names
    a module of its own that defines UNIT, unit_probes, TRAIN and train_probes."""
    spec = specs.of(file)
    hidden = config.hidden
    if spec.kind.probes == "numpy":
        return ([*NUMPY_UNIT, *(hidden.NUMPY_CALLS if hidden else ()), "modules"],
                lambda mod, ctx, spec: numpy_probes(mod, ctx),
                ["train", "test_predictions"], train_probes)
    if spec.kind.probes == "torch":
        return ([*TORCH_UNIT, *(hidden.TORCH_CALLS if hidden else ())],
                lambda mod, ctx, spec: torch_probes(mod, ctx, spec.file),
                ["train", "test_predictions", "plot", "judgement_own"], train_probes)
    module = importlib.import_module(spec.kind.probes)
    return list(module.UNIT), module.unit_probes, list(module.TRAIN), module.train_probes


def evaluated_in_fresh_worker(file: str) -> bool:
    """Whether the grader evaluates FILE's trained network in a fresh worker (`evaluate_probes`)."""
    return specs.of(file).kind.network == "state_dict"


def plan(file: str, unit_only: bool = False, evaluate: bool = False) -> list[str]:
    """Every call a worker of FILE records, in the order it records them. The grader accepts records for
    these calls alone, in this order (evidence.Records): it needs no student code to know them."""
    if evaluate:
        return ["import", *EVALUATE]
    unit, _, train, _ = family(file)
    return ["import", *unit, *([] if unit_only else train)]


def run(file: str, recorder, skip: set, unit_only: bool = False, evaluate: bool = False):
    """Import the student's file, then run every probe not in `skip`, recording each, in `plan`'s order."""
    ctx = Context()
    ctx.skipped = set(skip)  # the calls an earlier worker of this file recorded (judgement reads it)
    utils.set_seed(0)
    if "import" in skip:
        importlib.import_module(file)
    elif recorder.run("import", lambda: {"module": importlib.import_module(file).__name__},
                      config.cpu_budget(file, "import")) is None:
        return
    mod = sys.modules[file]
    configure_threads()
    if evaluate:
        calls = list(evaluate_probes(mod, ctx, file))
    else:
        _, unit_probes, _, training = family(file)
        calls = list(unit_probes(mod, ctx, specs.of(file)))
        calls += [] if unit_only else list(training(mod, ctx, specs.of(file)))
    names = ["import", *(name for name, _ in calls)]
    if names != plan(file, unit_only, evaluate):  # the grader's plan and the probes must agree: a bug of ours
        raise RuntimeError(f"probes.plan disagrees with the probes: {names}")
    for name, probe in calls:
        if name in skip:
            continue
        utils.set_seed(0)
        configure_threads()
        recorder.run(name, probe, config.cpu_budget(file, name))
    sys.stdout.flush()
