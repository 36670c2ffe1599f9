"""The tests pytorch_ann.py and pytorch_cnn.py share, made once for each file."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import specs
from autograder.core import config
from autograder.runtime import probes
from autograder.suite import advice, learning, pngcheck
from autograder.suite.graded import check, graded, passes
from autograder.suite.test_numpy_ann import accuracy_test, consistent, history_ok, loss_falls

# A trained model's history against the grader's measurement on the 5,000 validation images (and 2,000
# training images): validation metrics must agree closely; training metrics may be running averages in train mode.
TRAINED_TOLERANCE = {"val_acc": (0.03, 0.0), "val_loss": (0.03, 0.1), "train_acc": (0.15, 0.0)}

WORDS = ("overfitting", "underfitting", "generalizing")


def judge(history: dict) -> str:
    """The rule the stubs document for report_my_judgement, applied to the last epoch.

    overfitting  when train_acc - val_acc > 0.05;
    underfitting otherwise, when train_acc < 0.80;
    generalizing otherwise.
    """
    # Written apart from the reference solutions: this file ships in the student handout.
    last = {key: history[key][-1] for key in ("train_acc", "val_acc")}
    rules = [("overfitting", last["train_acc"] - last["val_acc"] > 0.05), ("underfitting", last["train_acc"] < 0.80)]
    return next((word for word, holds in rules if holds), "generalizing")


HISTORY_TEST = "fit: the history has the contract's keys, one float per epoch"


def own_judgement(ev, file: str) -> tuple[str, str, dict]:
    """(the word report_my_judgement gave, the rule's word, the history) on the student's own
    history: the trained model's, or the small fit's where training did not finish. Fails, naming
    the cause, where there is no history to judge, the word is none of WORDS, or the history
    disagrees with the model."""
    if ev.failure("judgement_own", "report_my_judgement(history)"):
        trained = getattr(ev, "loaded", {}).get("train")
        history = trained.get("history") if trained is not None else None
        if trained is not None and (not isinstance(history, dict) or "__type__" in history):
            # No history to judge: the history test charges that; this one names it.
            shown = (history.get("__type__") if isinstance(history, dict)
                     else type(history).__name__)
            history_test = advice.numbered(f"{file}.{HISTORY_TEST}")
            learning.another_cause(
                f"report_my_judgement is judged on the history your fit returns, and fit returned "
                f"a {shown}, not the history dict ({history_test} says so). Return the history "
                "from fit.")
    result = ev.result("judgement_own", "report_my_judgement(history)")
    word = result["word"]
    check(word in WORDS,
          f"report_my_judgement returned {word!r}; expected one of {', '.join(WORDS)}")
    if result.get("on") == "grader's history":  # a worker started again after training stopped
        history = {key: list(values) for key, values in probes.PLOT_HISTORY.items()}
    elif result.get("on") == "small fit":  # training did not finish: its tests say why; this judges
        small = ev.result("fit_small", "fit on 384 images for 3 epochs")
        history = small["history"]
        n_train, n_val, epochs = probes.SMALL_FIT
        history_ok(history, epochs, f"fit(..., epochs={epochs})")
        consistent(history, small["measured"],
                   f"measured in eval mode on the {n_val} validation images fit was given")
    else:
        train = ev.result("train", "training")
        history = train["history"]
        history_ok(history,
                   len(history.get("train_loss", [])) if isinstance(history, dict) else 0,
                   "fit with your defaults")
        consistent(history, train["measured"],
                   "measured on the 5,000 validation and 2,000 of the training images",
                   TRAINED_TOLERANCE)
    return word, judge(history), history


def rule_message(word: str, want: str, history: dict) -> str:
    return (f"report_my_judgement returned {word!r} but the rule in the docstring gives {want!r} "
            f"for your history (last epoch: train_acc {history['train_acc'][-1]:.4f}, val_acc "
            f"{history['val_acc'][-1]:.4f})")


def charged_on_own_history(ev, file: str) -> str | None:
    """The visible judgement test's message where it charges a word against the rule on the
    student's own history (the rule's mistake, named there); None where it passes or fails for
    another cause."""
    try:
        word, want, history = own_judgement(ev, file)
    except pytest.fail.Exception:
        return None
    return rule_message(word, want, history) if word != want else None


def torch_advice(ev, cls: str) -> list[str]:
    """Remarks on correct code that could be better, seen by the probes; they cost no points."""
    found = []
    construct = getattr(ev, "loaded", {}).get("construct")
    dtypes = construct.get("dtypes") if construct is not None else None
    if isinstance(dtypes, list) and "torch.float64" in dtypes:
        found.append(f"{cls}'s parameters are float64 (torch.float64): that is graded like "
                     "float32, but every step takes about twice the time, and the float32 images "
                     "must be cast to it. PyTorch's default, float32, is enough for this network.")
    small = getattr(ev, "loaded", {}).get("fit_small")
    modes = small.get("validation_modes") if small is not None else None
    if isinstance(modes, list) and any(mode is True for mode in modes):
        found.append("fit evaluates the validation images with the model in training mode "
                     "(model.training is True): dropout and batch norm then act as in training, "
                     "so val_loss and val_acc are noisier and worse than the model's. Call "
                     "self.eval() before, and self.train() again before the next epoch's training.")
    return found

def missing_curves(panels: list) -> list[str]:
    """Which of the plot history's four curves no panel shows beside its partner (accuracies also in percent)."""
    def shows(line, values):
        return line is not None and len(line) == len(values) and (
            np.allclose(line, values, rtol=1e-6) or np.allclose(line, np.multiply(values, 100), rtol=1e-6))

    missing = []
    for pair in (("train_loss", "val_loss"), ("train_acc", "val_acc")):
        if not any(all(any(shows(line, probes.PLOT_HISTORY[key]) for line in panel) for key in pair)
                   for panel in panels):
            missing.append(" and ".join(pair) + " in one panel")
    return missing


def make_tests(file: str) -> dict:
    """All the visible tests of one PyTorch file, as module-level test functions."""
    tests = {}

    def add(name, reported=True, **kw):
        """Register a test; a `reported` one checks what the worker reports, so it needs a model seen to learn."""
        def register(fn):
            tests[fn.__name__] = graded(name, **kw)(learning.reported(fn) if reported else fn)
            return fn
        return register

    @pytest.fixture(scope="module")
    def ev(grader):
        return grader.evidence(file)

    tests["ev"] = ev

    def logits(ev, call, layout):
        result = ev.result(call, f"model(X) for X of shape {layout}")
        got = result.get("out")
        check(isinstance(got, np.ndarray), f"forward should return a Tensor, got {got!r:.100}")
        return got, result

    def computed(got, result, layout):
        """Logits credited only where the model computes them: from the input, with its parameters."""
        problems = []
        if got.ndim == 2 and len(got) > 1 and np.nanmax(np.abs(got - got[0])) <= 1e-6:
            problems.append("gives all 16 images the same logits, so they do not depend on the input")
        if not result.get("uses_parameters"):
            problems.append("computes them without applying the model's weights to the input (no parameter's "
                            "gradient depends on the input)")
        check(not problems, f"model(X) for X of shape {layout} {' and '.join(problems)}: forward must compute "
                            "the logits with the model's layers.")

    def shaped(ev, call, layout):
        got, result = logits(ev, call, layout)
        check(got.shape == (16, 10), f"model(X) for X of shape {layout}: expected logits of shape (16, 10), "
                                     f"got {got.shape}. Reshape the input to the layout your first layer needs.")
        computed(got, result, layout)

    @add(f"{file}.forward: logits of shape (n, 10) for (n, 784) input")
    def test_forward_takes_flat_input(ev):
        shaped(ev, "forward_flat", "(16, 784)")

    @add(f"{file}.forward: logits of shape (n, 10) for (n, 1, 28, 28) input")
    def test_forward_takes_image_input(ev):
        shaped(ev, "forward_image", "(16, 1, 28, 28)")

    @add(f"{file}.forward: returns logits, not probabilities")
    def test_forward_returns_logits(ev):
        # Judged on whichever input layout forward accepts: a layout it rejects is the shape tests' loss alone.
        call, layout = next(((c, lay) for c, lay in (("forward_flat", "(16, 784)"), ("forward_image", "(16, 1, 28, 28)"))
                             if ev.failure(c, c) is None), ("forward_flat", "(16, 784)"))
        got, result = logits(ev, call, layout)
        computed(got, result, layout)
        probabilities = np.all(got >= 0) and np.all(got <= 1) and np.allclose(got.sum(axis=-1), 1, atol=1e-4)
        check(not probabilities, "forward returns rows that sum to 1: probabilities. Return the raw scores "
                                 "(logits): nn.CrossEntropyLoss applies log-softmax itself, so a softmax in "
                                 "forward is applied twice and slows learning.")

    def small_fit(ev):
        return ev.result("fit_small", "fit on 384 images for 3 epochs")

    def steps_move(result, credit: str) -> None:
        """The optimizer's own steps moved the parameters (not a learning rate of 0, not a change by hand)."""
        moved = result["step_moved"]
        still = sum(1 for m in moved if not m > 1e-9)
        check(moved and still <= len(moved) / 2,
              f"the optimizer's steps left the parameters where they were in {still} of {len(moved)} steps "
              f"(a learning rate of 0?). {credit} is credited only for steps that train.")

    @add(f"{file}.fit: the loss falls")
    def test_fit_lowers_the_loss(ev):
        result = small_fit(ev)
        measured = result["measured"]
        loss_falls(measured["loss_before"], measured["train_loss"],
                   "of the model on its 384 training images, in eval mode,",
                   advice.negative_loss(result.get("history"), file)  # the cause, where the history shows it
                   or "Is optimizer.step() called, with a learning rate above 0?")

    @add(f"{file}.fit: gradients do not accumulate across steps")
    def test_fit_zeroes_the_gradients(ev):
        result = small_fit(ev)
        deviations = result["grad_deviation"]
        check(deviations, "fit never called optimizer.step(): use a torch.optim optimizer.")
        worst = max(deviations)
        check(worst < 1e-3, "at an optimizer step the gradients held more than the last batch's: they accumulate "
                            "across steps. Call optimizer.zero_grad() before loss.backward() in every step.")
        steps_move(result, "Zeroing the gradients")

    @add(f"{file}.fit: the parameters change")
    def test_fit_changes_the_parameters(ev):
        result = small_fit(ev)
        before, after = result.get("params_before"), result.get("params_after")
        check(isinstance(before, np.ndarray) and before.size > 0, "the model has no trainable parameters: build "
                                                                  "its layers in __init__ from nn modules.")
        check(isinstance(after, np.ndarray) and after.shape == before.shape,
              "the model's parameters changed in number or shape during fit: create them once, in __init__.")
        check(not np.array_equal(before, after), "fit left every parameter as it was: pass model.parameters() to "
                                                 "the optimizer and call optimizer.step().")
        check(result["step_moved"], "fit changed the parameters without optimizer.step(): use a torch.optim "
                                    "optimizer over model.parameters().")
        steps_move(result, "A change of the parameters")

    @add(f"{file}.fit: the history has the contract's keys, one float per epoch")
    def test_fit_returns_the_history(ev):
        result = small_fit(ev)
        n_train, n_val, epochs = probes.SMALL_FIT
        history_ok(result["history"], epochs, f"fit(..., epochs={epochs})")
        tensors = result.get("history_with_grad") or []
        check(not tensors, f"history values must be floats (use .item()): history{tensors} holds tensors that "
                           "require grad, which plotting the history cannot turn into numbers (\"Can't call "
                           "numpy() on Tensor that requires grad\"). Append loss.item(), not loss.")
        consistent(result["history"], result["measured"],
                   f"measured in eval mode on the {n_val} validation images fit was given")

    @add(f"{file}.predict: int64 class indices of shape (n,)")
    def test_predict_returns_int64_indices(ev):
        result = ev.result("predict", "predict(X)")
        meta = result.meta.get("pred", {})
        check(meta.get("type") == "torch.Tensor", f"predict should return a torch Tensor, got {meta.get('type')}")
        check(meta.get("dtype") == "torch.int64", f"predict should return int64 (torch.long) indices, got "
                                                  f"{meta.get('dtype')}. Use logits.argmax(dim=1).")
        check(tuple(meta.get("shape", ())) == (16,), f"predict(X) for 16 samples: expected shape (16,), got "
                                                     f"{tuple(meta.get('shape', ()))}")
        pred = result["pred"]
        check(pred.min() >= 0 and pred.max() <= 9, f"predict returned indices outside 0..9: {pred}")
        modes = result.get("modes") or []
        if any(training for training, _ in modes) and not passes(argmax_of_logits, result):
            # Predictions in training mode (dropout) differ from eval mode's argmax: one cause, which the eval-mode
            # test charges; this one still asks for the model's own classes on most images.
            logits, pred = result["logits"], np.asarray(result["pred"]).reshape(-1)
            eval_test = advice.numbered(f"{file}.predict: runs in eval mode without gradients")
            varied = logits.ndim == 2 and np.nanmax(np.abs(logits - logits[0])) > 1e-6
            check(varied and pred.shape == (16,) and np.mean(pred == logits.argmax(axis=1)) >= 0.5,
                  f"predict(X) is not the argmax of the model's logits, not even on most images: predict runs the "
                  f"model in training mode ({eval_test} says so), but that explains only a few differences.")
            return
        argmax_of_logits(result)

    def argmax_of_logits(result) -> None:
        """Predictions credited only as the model's own: the argmax of logits that depend on the input."""
        logits, pred = result["logits"], np.asarray(result["pred"]).reshape(-1)
        check(logits.ndim == 2 and np.nanmax(np.abs(logits - logits[0])) > 1e-6,
              "the model gives every image the same logits, so predict cannot tell the images apart: "
              "see the forward tests.")
        want = logits.argmax(axis=1)
        if pred.shape == want.shape:
            check(np.array_equal(pred, want), f"predict(X) is not the argmax of the model's logits for X: "
                                              f"expected {want.tolist()}, got {pred.tolist()}.")

    @add(f"{file}.predict: runs in eval mode without gradients")
    def test_predict_runs_in_eval_mode(ev):
        result = ev.result("predict", "predict(X)")
        modes = result["modes"]
        check(modes, "predict never called the model's layers")
        problems = []
        if any(training for training, _ in modes):
            problems.append("predict ran the model in training mode: call self.eval() first (dropout and batch "
                            "norm behave differently in training).")
        if any(grad for _, grad in modes):
            problems.append("predict computed gradients: wrap it in torch.no_grad().")
        check(not problems, " ".join(problems))
        argmax_of_logits(result)

    @add(f"{file}.plot: writes a valid PNG and returns its Figure")
    def test_plot_writes_a_png(ev):
        result = ev.result("plot", "plot_train_val_metrics(history, path)")
        check(result["written"], "plot_train_val_metrics(history, path) wrote no file at the path it was given: "
                                 "save the figure there, with utils.save_figure(fig, path) or fig.savefig(path).")
        problem = pngcheck.problem(result["png"].tobytes())
        check(problem is None, f"plot_train_val_metrics wrote a PNG that {problem}")
        check(result["figure_type"] == "Figure", f"plot_train_val_metrics should return the matplotlib Figure, "
                                                 f"got a {result['figure_type']}")
        missing = missing_curves(result["curves"])
        check(not missing, f"the figure should show the history it is given: a loss panel with the train_loss and "
                           f"val_loss curves and an accuracy panel with train_acc and val_acc. Given a 4-epoch "
                           f"history, it does not show {', '.join(missing)} (curves found, per panel: "
                           f"{[len(panel) for panel in result['curves']]}).")

    @add(f"{file}.judgement: one of the three words, by the rule, on your history")
    def test_judgement_follows_the_rule(ev):
        word, want, history = own_judgement(ev, file)
        check(word == want, rule_message(word, want, history))

    spec = specs.of(file)
    label = spec.label

    @add(f"{file}.accuracy: at least {config.THRESHOLDS[file]:.0%} on the test set", reported=False,
         leaderboard_column=f"{label} accuracy")
    def test_accuracy_reaches_the_threshold(grader, ev, record_property, set_leaderboard_value=None):
        for text in torch_advice(ev, spec.cls):  # costs nothing, passed or failed
            record_property("advice", text)
        accuracy_test(grader, ev, file, record_property, set_leaderboard_value)

    png = config.PNG_FILES[file]

    def not_submitted(grader) -> str:
        """Why the PNG is missing: absent, or skipped by the intake (a link, a FIFO, too large, ...)."""
        why = grader.intake.skipped.get(png)
        return f"{png} is not in the submission" + (f" as a file the grader takes ({why})" if why else "")

    @add(f"{file}.artifact: {png} is in the submission", reported=False)
    def test_png_is_submitted(grader):
        check(grader.png(file) is not None, f"{not_submitted(grader)}: run `python {file}.py` to "
                                            "write it, and submit it with the .py files.")

    @add(f"{file}.artifact: the PNG is at least 300x200 pixels and not blank", reported=False)
    def test_png_is_a_real_plot(grader):
        path = grader.png(file)
        check(path is not None, not_submitted(grader))
        problem = pngcheck.problem(path)
        check(problem is None, f"{png} {problem}")

    if spec.row("architecture: holds at least one nn.Conv2d"):  # the CNN's own row
        @add(f"{file}.architecture: holds at least one nn.Conv2d", reported=False)
        def test_model_has_a_convolution(ev):
            """The count of layers is reported by the worker, so it is credited beside learning
            alone; the message names what is missing: the convolution, learning, or both."""
            count = ev.result("construct", f"{spec.cls}()")["conv2d"]
            try:
                learning.credited_if_learned(ev, learning.REPORTED)
                unlearned = None
            except pytest.fail.Exception as e:
                unlearned = str(e.msg) if hasattr(e, "msg") else str(e)
            if count < 1:
                check(False, f"{spec.cls} holds no nn.Conv2d layer: a CNN needs at least one "
                             "convolution." + (" Nor has the grader seen it learn, which this test "
                                               "needs too." if unlearned else ""))
            if unlearned:
                layers = f"{count} nn.Conv2d layer{'s' * (count != 1)}"
                learning.another_cause(f"The convolution is there ({spec.cls} holds {layers}); "
                                       f"what is missing is learning. {unlearned}")

    return tests

