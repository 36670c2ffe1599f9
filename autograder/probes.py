"""What the grader asks of each student file: named calls on fixed inputs.

Each probe calls student code and returns a dict of plain values (arrays,
numbers, strings, lists). The worker records them; the tests in
`autograder/tests/` judge them. Running the same probes on `solutions/` gives
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
from autograder import config

DATA_ENV = "GRADER_DATA"  # folder of train_images.npy, train_labels.npy, test_images.npy (sandbox.prepare)
FORBIDDEN = ("torch", "tensorflow", "jax", "sklearn")  # modules numpy_ann.py must not bring in


class Skipped(Exception):
    """A probe that cannot run because an earlier one failed."""


def fixed(shape, seed, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def relu_input():
    z = fixed((4, 5), 1)
    z[0, :3] = 0.0  # exact zeros: relu_prime must give 0 there
    z[1, 1] = -0.0
    return z


def probs_and_labels(n=8, k=10, seed=3):
    logits = fixed((n, k), seed, 2.0)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = utils.one_hot(np.random.default_rng(seed).integers(0, k, n), k).astype(np.float64)
    return p, y


# ----------------------------------------------------------------------- numpy_ann

SMALL = (6, 5, 4)  # input, hidden, output sizes of the network used by the unit probes


def numpy_model(mod, sizes, lr=0.1, seed=7):
    """A NumpyANN with fixed float64 weights; built without __init__ if the student's raises."""
    try:
        model = mod.NumpyANN(*sizes, lr=lr, random_seed=0)
    except Exception:
        model = mod.NumpyANN.__new__(mod.NumpyANN)
        model.lr = lr
    i, h, o = sizes
    model.W1, model.b1 = fixed((i, h), seed), fixed((1, h), seed + 1, 0.1)
    model.W2, model.b2 = fixed((h, o), seed + 2), fixed((1, o), seed + 3, 0.1)
    return model


def batch(sizes, n, seed=11):
    X = fixed((n, sizes[0]), seed)
    y = utils.one_hot(np.random.default_rng(seed).integers(0, sizes[2], n), sizes[2]).astype(np.float64)
    return X, y


def mean_cross_entropy(p, y):
    return float(-np.mean(np.sum(y * np.log(p), axis=1)))


def finite_differences(model, X, y, eps=1e-5):
    """Centred differences of the mean cross-entropy of model.forward, for each parameter."""
    grads = {}
    for name in ("W1", "b1", "W2", "b2"):
        param = getattr(model, name)
        grad = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            plus = mean_cross_entropy(model.forward(X), y)
            param[idx] = old - eps
            minus = mean_cross_entropy(model.forward(X), y)
            param[idx] = old
            grad[idx] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def numpy_probes(mod, ctx):
    z = relu_input()
    logits = fixed((6, 10), 2, 3.0)
    p, y = probs_and_labels()
    p0 = p.copy()
    p0[0] = 0.0
    p0[0, y[0].argmax()] = 1.0
    p0[1, y[1].argmax()] = 0.0  # the true class gets probability exactly 0
    p0[1] /= p0[1].sum()
    z3 = fixed((2, 3, 4), 4)

    def backward_probe(sizes, n):
        model = numpy_model(mod, sizes)
        X, y = batch(sizes, n)
        before = {k: getattr(model, k).copy() for k in ("W1", "b1", "W2", "b2")}
        model.forward(X)
        grads = model.backward(X, y)
        out = {f"d{k}": np.asarray(v) for k, v in grads.items()} if isinstance(grads, dict) else {"returned": repr(grads)[:200]}
        out.update({f"before_{k}": v for k, v in before.items()})
        out.update({f"after_{k}": np.array(getattr(model, k)) for k in before})
        return out

    def fit_tracking():
        """Fit on 200 samples whose first feature encodes their index; log what reaches backward."""
        n, bs = 200, 32
        model = numpy_model(mod, SMALL)
        X, y = batch(SMALL, n, seed=5)
        X[:, 0] = np.arange(n) / 1000
        seen = []
        original = model.backward

        def tracking_backward(Xb, yb):
            seen.append([int(i) for i in np.rint(np.asarray(Xb)[:, 0] * 1000)])
            return original(Xb, yb)

        model.backward = tracking_backward
        model.fit(X, y, X, y, epochs=2, batch_size=bs)
        return {"batches": seen, "n": n}

    def fit_small():
        X, y = ctx.train_subset(320, "numpy")
        model = mod.NumpyANN(random_seed=0)
        return {"history": history_values(model.fit(X, y, X, y, epochs=5, batch_size=32))}

    def step_probe():
        model = numpy_model(mod, SMALL, lr=0.5)
        grads = {k: fixed(getattr(model, k).shape, 20 + i) for i, k in enumerate(("W1", "b1", "W2", "b2"))}
        model.step(grads)
        return {k: np.asarray(getattr(model, k)) for k in grads}

    def init_probe():
        model = mod.NumpyANN(*SMALL, random_seed=0)
        return {k: list(np.shape(getattr(model, k))) for k in ("W1", "b1", "W2", "b2")}

    def fd_probe():
        model = numpy_model(mod, SMALL)
        X, y = batch(SMALL, 8)
        return finite_differences(model, X, y)

    def predict_probe():
        return {"pred": np.asarray(numpy_model(mod, SMALL).predict(batch(SMALL, 8)[0]))}

    yield "relu", lambda: {"out": np.asarray(mod.relu(z))}
    yield "relu_3d", lambda: {"out": np.asarray(mod.relu(z3))}
    yield "relu_prime", lambda: {"out": np.asarray(mod.relu_prime(z))}
    yield "relu_prime_3d", lambda: {"out": np.asarray(mod.relu_prime(z3))}
    yield "softmax", lambda: {"out": np.asarray(mod.softmax(logits))}
    yield "softmax_large", lambda: {"out": np.asarray(mod.softmax(logits / 3 * 1e4))}
    yield "softmax_shifted", lambda: {"out": np.asarray(mod.softmax(logits + np.arange(6)[:, None] * 50.0))}
    yield "cross_entropy", lambda: {"out": float(mod.cross_entropy(p, y))}
    yield "cross_entropy_zero", lambda: {"out": float(mod.cross_entropy(p0, y))}
    yield "init", init_probe
    yield "forward", lambda: {"out": np.asarray(numpy_model(mod, SMALL).forward(batch(SMALL, 8)[0]))}
    yield "backward", lambda: backward_probe(SMALL, 8)
    yield "finite_differences", fd_probe
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


def torch_probes(mod, ctx, file):
    import torch
    from torch import nn
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    cls = getattr(mod, "PyTorchANN" if file == "pytorch_ann" else "PyTorchCNN")
    layout = "flat" if file == "pytorch_ann" else "image"
    images, _ = ctx.train_subset(16, "flat")

    def construct():
        model = cls()
        return {"conv2d": sum(isinstance(m, nn.Conv2d) for m in model.modules()),
                "parameters": sum(p.numel() for p in model.parameters())}

    def forward(layout):
        model = cls()
        X = images if layout == "flat" else images.reshape(-1, 1, 28, 28)
        with torch.no_grad():
            return {"out": model(X)}

    def fit_small():
        X, y = ctx.train_subset(512, layout)
        model = cls()
        params = [p for p in model.parameters() if p.requires_grad]
        before = [p.detach().clone() for p in params]
        incoming = [torch.zeros_like(p) for p in params]
        deviations = []

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

        handles = [p.register_hook(add(i)) for i, p in enumerate(params)]
        handles.append(register_optimizer_step_pre_hook(pre_step))
        try:
            history = model.fit(X[:384], y[:384], X[384:], y[384:], epochs=3)
        finally:
            for h in handles:
                h.remove()
        # The values themselves, not a verdict: the grader compares them (student code may patch torch.equal).
        return {"history": history_values(history), "grad_deviation": deviations,
                "params_before": parameter_sample(before), "params_after": parameter_sample(params)}

    def predict():
        model = cls()
        model.train()
        modes = []
        hooks = [m.register_forward_pre_hook(lambda m, inp: modes.append([m.training, torch.is_grad_enabled()]))
                 for m in model.modules()]
        pred = model.predict(ctx.train_subset(16, layout)[0])
        for h in hooks:
            h.remove()
        return {"pred": pred, "modes": modes}

    yield "construct", construct
    yield "forward_flat", lambda: forward("flat")
    yield "forward_image", lambda: forward("image")
    yield "fit_small", fit_small
    yield "predict", predict
    if config.hidden:
        yield from config.hidden.torch_probes(cls)


def parameter_sample(tensors, per_tensor: int = 4096) -> np.ndarray:
    """The first `per_tensor` values of each tensor, flattened and concatenated as float64 (empty for none)."""
    parts = [t.detach().reshape(-1)[:per_tensor].cpu().double().numpy() for t in tensors]
    return np.concatenate(parts) if parts else np.zeros(0)


def train_probes(mod, ctx, file):
    """Train once with the student's defaults; predict the test set; plot; judge."""
    state = {}
    kind = {"numpy_ann": "numpy", "pytorch_ann": "flat", "pytorch_cnn": "image"}[file]
    cls = getattr(mod, {"numpy_ann": "NumpyANN", "pytorch_ann": "PyTorchANN", "pytorch_cnn": "PyTorchCNN"}[file])

    def train():
        release_memory()  # what the unit probes left behind, before the largest allocation of the run
        X_train, y_train, X_val, y_val = ctx.train_data(kind)
        release_memory()  # the conversion's scratch
        model = cls()
        started = time.perf_counter()
        history = model.fit(X_train, y_train, X_val, y_val)
        seconds = time.perf_counter() - started
        state.update(model=model, history=history)
        return {"history": history_values(history), "seconds": seconds,
                "epochs": len(history.get("train_loss", [])) if isinstance(history, dict) else 0}

    def need_model():
        if "model" not in state:
            raise Skipped("training did not finish, so there is no trained model")
        return state["model"]

    def predictions():
        model = need_model()
        X, _ = utils.to_model_format(ctx.test_images(), None, kind)
        pred = model.predict(X)
        if kind == "numpy":
            return {"pred": np.asarray(pred)}
        import torch

        return {"pred": pred if isinstance(pred, torch.Tensor) else np.asarray(pred)}

    def plot():
        model = need_model()
        import matplotlib.pyplot as plt

        path = ctx.scratch_png
        fig = model.plot_train_val_metrics(state["history"], path)
        with open(path, "rb") as f:
            png = np.frombuffer(f.read(), dtype=np.uint8)
        axes = getattr(fig, "axes", [])
        info = {"figure_type": type(fig).__name__, "png": png,
                "lines_per_axes": [len(ax.get_lines()) for ax in axes]}
        plt.close("all")
        return info

    def judgement():
        need_model()
        return {"word": state["model"].report_my_judgement(state["history"])}

    yield "train", train, config.TRAIN_BUDGET[file]
    yield "test_predictions", predictions, None
    if file != "numpy_ann":
        yield "plot", plot, None
        yield "judgement_own", judgement, None


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
        """The training and validation split, converted straight from the shared uint8 file."""
        images, labels = self._train_arrays()
        tr, va = utils.train_val_split(len(images), config.VAL_SIZE)
        data = (*utils.to_model_format(images, labels, kind, tr), *utils.to_model_format(images, labels, kind, va))
        self._train = None  # unmap the uint8 pixels: training needs only the float copy
        return data

    def test_images(self):
        return np.load(f"{os.environ[DATA_ENV]}/test_images.npy", mmap_mode="r", allow_pickle=False)


def configure_threads():
    threads = config.threads()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def run(file: str, recorder, skip: set, unit_only: bool = False):
    """Import the student's file, then run every probe not in `skip`, recording each."""
    ctx = Context()
    utils.set_seed(0)
    if "import" in skip:
        importlib.import_module(file)
    elif recorder.run("import", lambda: {"module": importlib.import_module(file).__name__}, config.CALL_BUDGET) is None:
        return
    mod = sys.modules[file]
    configure_threads()
    unit = numpy_probes(mod, ctx) if file == "numpy_ann" else torch_probes(mod, ctx, file)
    calls = [(name, probe, config.CALL_BUDGET) for name, probe in unit]
    if not unit_only:
        calls += [(name, probe, budget or config.CALL_BUDGET) for name, probe, budget in train_probes(mod, ctx, file)]
    for name, probe, budget in calls:
        if name in skip:
            continue
        utils.set_seed(0)
        configure_threads()
        recorder.run(name, probe, budget)
    sys.stdout.flush()
