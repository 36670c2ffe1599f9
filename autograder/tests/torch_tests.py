"""The tests pytorch_ann.py and pytorch_cnn.py share, made once for each file."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import config, pngcheck
from autograder.graded import check, graded
from autograder.tests.test_numpy_ann import accuracy_test, history_ok, loss_falls

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


def make_tests(file: str) -> dict:
    """All the visible tests of one PyTorch file, as module-level test functions."""
    tests = {}

    def add(name, **kw):
        def register(fn):
            tests[fn.__name__] = graded(name, **kw)(fn)
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
        return got

    @add(f"{file}.forward: logits of shape (n, 10) for (n, 784) input")
    def test_forward_takes_flat_input(ev):
        got = logits(ev, "forward_flat", "(16, 784)")
        check(got.shape == (16, 10), f"model(X) for X of shape (16, 784): expected logits of shape (16, 10), "
                                     f"got {got.shape}. Reshape the input to the layout your first layer needs.")

    @add(f"{file}.forward: logits of shape (n, 10) for (n, 1, 28, 28) input")
    def test_forward_takes_image_input(ev):
        got = logits(ev, "forward_image", "(16, 1, 28, 28)")
        check(got.shape == (16, 10), f"model(X) for X of shape (16, 1, 28, 28): expected logits of shape (16, 10), "
                                     f"got {got.shape}. Reshape the input to the layout your first layer needs.")

    @add(f"{file}.forward: returns logits, not probabilities")
    def test_forward_returns_logits(ev):
        got = logits(ev, "forward_flat", "(16, 784)")
        probabilities = np.all(got >= 0) and np.all(got <= 1) and np.allclose(got.sum(axis=-1), 1, atol=1e-4)
        check(not probabilities, "forward returns rows that sum to 1: probabilities. Return the raw scores "
                                 "(logits): nn.CrossEntropyLoss applies log-softmax itself, so a softmax in "
                                 "forward is applied twice and slows learning.")

    def small_fit(ev):
        return ev.result("fit_small", "fit on 384 images for 3 epochs")

    @add(f"{file}.fit: the loss falls")
    def test_fit_lowers_the_loss(ev):
        loss_falls(small_fit(ev)["history"], "3 epochs on 384 images", "Is optimizer.step() called?")

    @add(f"{file}.fit: gradients do not accumulate across steps")
    def test_fit_zeroes_the_gradients(ev):
        deviations = small_fit(ev)["grad_deviation"]
        check(deviations, "fit never called optimizer.step(): use a torch.optim optimizer.")
        worst = max(deviations)
        check(worst < 1e-3, "at an optimizer step the gradients held more than the last batch's: they accumulate "
                            "across steps. Call optimizer.zero_grad() before loss.backward() in every step.")

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

    @add(f"{file}.fit: the history has the contract's keys, one float per epoch")
    def test_fit_returns_the_history(ev):
        history_ok(small_fit(ev)["history"], 3, "fit(..., epochs=3)")

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

    @add(f"{file}.predict: runs in eval mode without gradients")
    def test_predict_runs_in_eval_mode(ev):
        modes = ev.result("predict", "predict(X)")["modes"]
        check(modes, "predict never called the model's layers")
        check(not any(training for training, _ in modes),
              "predict ran the model in training mode: call self.eval() first (dropout and batch norm behave "
              "differently in training).")
        check(not any(grad for _, grad in modes), "predict computed gradients: wrap it in torch.no_grad().")

    @add(f"{file}.plot: writes a valid PNG and returns its Figure")
    def test_plot_writes_a_png(ev):
        result = ev.result("plot", "plot_train_val_metrics(history, path)")
        check("png" in result.arrays, "plot_train_val_metrics did not write the PNG at the path it was given")
        problem = pngcheck.problem(result["png"].tobytes())
        check(problem is None, f"plot_train_val_metrics wrote a PNG that {problem}")
        check(result["figure_type"] == "Figure", f"plot_train_val_metrics should return the matplotlib Figure, "
                                                 f"got a {result['figure_type']}")
        lines = result["lines_per_axes"]
        check(len([n for n in lines if n >= 2]) >= 2, f"the figure should have a loss panel and an accuracy panel, "
                                                      f"each with a train and a validation curve; its panels hold "
                                                      f"{lines} lines")

    @add(f"{file}.judgement: one of the three words, by the rule, on your history")
    def test_judgement_follows_the_rule(ev):
        word = ev.result("judgement_own", "report_my_judgement(history)")["word"]
        check(word in WORDS, f"report_my_judgement returned {word!r}; expected one of {', '.join(WORDS)}")
        history = ev.result("train", "training")["history"]
        want = judge(history)
        check(word == want, f"report_my_judgement returned {word!r} but the rule in the docstring gives {want!r} "
                            f"for your history (last epoch: train_acc {history['train_acc'][-1]:.4f}, "
                            f"val_acc {history['val_acc'][-1]:.4f})")

    label = "PyTorch ANN" if file == "pytorch_ann" else "PyTorch CNN"

    @add(f"{file}.accuracy: at least {config.THRESHOLDS[file]:.0%} on the test set",
         leaderboard_column=f"{label} accuracy")
    def test_accuracy_reaches_the_threshold(grader, ev, record_property, set_leaderboard_value=None):
        accuracy_test(grader, ev, file, record_property, set_leaderboard_value)

    png = config.PNG_FILES[file]

    @add(f"{file}.artifact: {png} is in the submission")
    def test_png_is_submitted(grader):
        check(grader.png(file) is not None, f"{png} is not in the submission: run `python {file}.py` to "
                                            "write it, and submit it with the .py files.")

    @add(f"{file}.artifact: the PNG is at least 300x200 pixels and not blank")
    def test_png_is_a_real_plot(grader):
        path = grader.png(file)
        check(path is not None, f"{png} is not in the submission")
        problem = pngcheck.problem(path.read_bytes())
        check(problem is None, f"{png} {problem}")

    if file == "pytorch_cnn":
        @add(f"{file}.architecture: holds at least one nn.Conv2d")
        def test_model_has_a_convolution(ev):
            count = ev.result("construct", "PyTorchCNN()")["conv2d"]
            check(count >= 1, "PyTorchCNN holds no nn.Conv2d layer: a CNN needs at least one convolution.")

    return tests

