"""One cause, one charge; correct code is never refused (issue 25, "Fair to real students II").

Each variant is the reference with one cause, made by a text edit of solutions/*.py, graded once (module
fixture, one file with --only). A variant loses exactly the tests its cause deserves, and their messages
name that cause; wrong code beside it is still charged. The rules these defend:

- a backward right up to one positive constant (summed over the batch: the batch size) is charged in one
  test, 1.14, whatever the constant, and the fit tests judge backward up to it; when training then diverges,
  the accuracy test is lost too, and its advice names the factor, not the learning rate;
- a 1-D bias is the init test's loss alone, where its gradient has the bias's own shape and right values;
- descent is judged for any positive learning rate: a slow learner may lose only the accuracy test;
- the learning gate is met by every network that does real work, whatever batch size its defaults train
  with: a CNN trained full-batch, whose training outruns its budget, loses the accuracy test alone;
- a fit that does nothing beside a right backward is still refused;
- a history of tensors that require grad (which a plot cannot draw) is named once, in the history
  test;
- a PyTorch learner too slow to show learning at its own rate (plain SGD at 1e-3, a few steps) is
  judged on a small fit at the grader's learning rate, and loses the accuracy test alone, while a
  constant judgement still earns neither judgement test;
- a judgement rule wrong on the student's own history and on one textbook history is charged once,
  by the visible test, and the hidden one says so;
- the Conv2d test, failing through the learning gate, names learning, not the convolution;
- advice costs nothing: a boolean relu_prime, float64 parameters, validation in train mode.
"""

from __future__ import annotations

import shutil

import pytest

from autograder.harness import evidence
from autograder.suite.results import plain
from tests.conftest import ROOT, accuracy_test, failed

AVERAGE = ("dz2 = (self.a2 - y_true) / len(X)", "dz2 = self.a2 - y_true")
DW1 = "numpy_ann.backward: dW1 matches the reference"
INIT = "numpy_ann.init: parameters have the contract's shapes"
FIT = "numpy_ann.fit: the loss falls over a few epochs on a fixed batch"

VARIANTS = {
    # name: (file, [(old, new), ...], environment)
    "forgotten average": ("numpy_ann", [AVERAGE], {}),
    "forgotten average, learning rate tuned": ("numpy_ann", [AVERAGE, ("lr=0.1,", "lr=0.1 / 64,")], {}),
    "gradients twice too large, learning rate halved": (
        "numpy_ann", [("dz2 = (self.a2 - y_true) / len(X)", "dz2 = 2 * (self.a2 - y_true) / len(X)"),
                      ("lr=0.1,", "lr=0.05,")], {}),
    "1-D biases": ("numpy_ann", [
        ("np.zeros((1, hidden_size), dtype=np.float32)", "np.zeros(hidden_size, dtype=np.float32)"),
        ("np.zeros((1, output_size), dtype=np.float32)", "np.zeros(output_size, dtype=np.float32)"),
        ('"b1": dz1.sum(axis=0, keepdims=True)', '"b1": dz1.sum(axis=0)'),
        ('"b2": dz2.sum(axis=0, keepdims=True)', '"b2": dz2.sum(axis=0)')], {}),
    "slow learner": ("numpy_ann", [("lr=0.1,", "lr=1e-5,")], {}),
    "fit that never steps": ("numpy_ann", [("                self.step(self.backward(X_train[idx], y_train[idx]))\n",
                                            "                self.backward(X_train[idx], y_train[idx])\n")], {}),
    # backward right up to an absurd factor, and a fit that never steps but writes NaN parameters
    "a factor of 1e200 and a fit that writes NaN": ("numpy_ann", [
        ("dz2 = (self.a2 - y_true) / len(X)", "dz2 = (self.a2 - y_true) / len(X) * 1e200"),
        ("                self.step(self.backward(X_train[idx], y_train[idx]))\n",
         "                self.backward(X_train[idx], y_train[idx])\n"
         "            for name in ('W1', 'b1', 'W2', 'b2'):\n"
         "                setattr(self, name, getattr(self, name) * np.nan)\n")], {}),
    "a history of loss tensors": ("pytorch_ann", [("total_loss += loss.item() * len(idx)",
                                                   "total_loss = total_loss + loss * len(idx)")], {}),
    "CNN trained full-batch, too long for its budget": ("pytorch_cnn", [
        ("epochs=2, batch_size=128, learning_rate=1e-2", "epochs=300, batch_size=60_000, learning_rate=0.1"),
        ("optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)",
         "optimizer = torch.optim.SGD(self.parameters(), lr=learning_rate, momentum=0.9)"),
        ("                schedule.step()\n", "")], {"GRADER_TRAIN_DEADLINE": "20"}),
    # plain SGD at 1e-3, one epoch of large batches: training shows no learning either; a constant
    "slow SGD learner, constant judgement": ("pytorch_ann", [
        ("epochs=2, batch_size=128, learning_rate=2e-3",
         "epochs=1, batch_size=2048, learning_rate=1e-3"),
        ("torch.optim.Adam(self.parameters(), lr=learning_rate)",
         "torch.optim.SGD(self.parameters(), lr=learning_rate)"),
        ("        train_acc, val_acc = history[",
         '        return "overfitting"\n        train_acc, val_acc = history[')], {}),
    "float64, validation in train mode, underfitting below 0.90": ("pytorch_ann", [
        ("        )\n\n    def forward(self, X):",
         "        )\n        self.double()\n\n    def forward(self, X):"),
        ("        return self.layers(X)\n", "        return self.layers(X.to(torch.float64))\n"),
        ("        self.eval()\n        logits = ", "        logits = "),
        ("if train_acc < 0.80:", "if train_acc < 0.90:")], {}),
    "a CNN that never learns": ("pytorch_cnn", [
        ("epochs=2, batch_size=128, learning_rate=1e-2",
         "epochs=1, batch_size=128, learning_rate=0.0")], {}),
    "relu_prime of booleans": ("numpy_ann", [
        ("return (z > 0).astype(np.result_type(z, np.float32))", "return z > 0")], {}),
}
VISIBLE_JUDGEMENT = "pytorch_ann.judgement: one of the three words, by the rule, on your history"
HIDDEN_JUDGEMENT = "pytorch_ann.judgement: follows the rule on three textbook histories"


@pytest.fixture(scope="module")
def graded(run_grader, tmp_path_factory):
    """variant name -> its results.json, each graded once, its file alone."""
    cache = {}

    def grade(name: str) -> dict:
        if name not in cache:
            file, edits, env = VARIANTS[name]
            folder = tmp_path_factory.mktemp("fairness")
            for path in (ROOT / "solutions").glob(f"{file}*"):
                shutil.copy(path, folder / path.name)
            source = (folder / f"{file}.py").read_text()
            for old, new in edits:
                assert source.count(old) == 1, f"the reference changed: {old!r} is not in it exactly once"
                source = source.replace(old, new)
            (folder / f"{file}.py").write_text(source)
            cache[name] = run_grader(folder, only=file, env=env)
        return cache[name]

    return grade


def test_a_forgotten_average_is_charged_once_and_named(graded):
    lost = failed(graded("forgotten average"))
    # training diverges at the default learning rate: the accuracy test too, and nothing else
    assert set(lost) == {DW1, accuracy_test("numpy_ann")}, lost
    assert "sums the gradients over the batch" in lost[DW1] and "charged here alone" in lost[DW1], lost[DW1]
    advice = lost[accuracy_test("numpy_ann")]
    assert "summed over the batch" in advice and "rather than lowering the learning rate" in advice, advice
    assert "Lower the learning rate" not in advice, advice


def test_a_forgotten_average_beside_a_tuned_learning_rate_costs_one_test(graded):
    assert set(failed(graded("forgotten average, learning rate tuned"))) == {DW1}


def test_any_constant_factor_is_one_cause(graded):
    lost = failed(graded("gradients twice too large, learning rate halved"))
    assert set(lost) == {DW1}, lost
    assert "the same factor, 2," in lost[DW1], lost[DW1]


def test_one_d_biases_cost_the_init_test_alone(graded):
    lost = failed(graded("1-D biases"))
    assert set(lost) == {INIT}, lost
    assert "the biases are rows (1, size)" in lost[INIT]


def test_a_slow_learner_loses_at_most_the_accuracy_test(graded):
    assert set(failed(graded("slow learner"))) <= {accuracy_test("numpy_ann")}


def test_a_fit_that_never_steps_is_still_refused(graded):
    lost = failed(graded("fit that never steps"))
    assert FIT in lost and "before fit and" in lost[FIT], lost
    assert accuracy_test("numpy_ann") in lost


def test_a_factor_no_mistake_makes_excuses_no_diverging_fit(graded):
    """Divergence is excused for its one named cause (a sum over the batch): gradients times 1e200 are
    no gradients, and parameters set to NaN show no descent."""
    lost = failed(graded("a factor of 1e200 and a fit that writes NaN"))
    fit = {name for name in lost if name.startswith("numpy_ann.fit: ") and "history" not in name}
    assert len(fit) == 3 and DW1 in lost, sorted(lost)


def test_a_full_batch_cnn_over_its_budget_loses_the_accuracy_test_alone(graded):
    lost = failed(graded("CNN trained full-batch, too long for its budget"))
    assert set(lost) == {accuracy_test("pytorch_cnn")}, lost
    message = lost[accuracy_test("pytorch_cnn")]
    assert "stopped at its budget" in message, message


def test_a_shape_mismatch_points_at_the_layer_sizes_in_init():
    text = evidence.describe({"type": "RuntimeError", "where": "",
                              "message": "mat1 and mat2 shapes cannot be multiplied (16x784 and 700x128)"})
    assert "layer sizes set in __init__" in text and "in_features" in text, text


def test_a_history_of_tensors_that_require_grad_is_named_once_in_the_history_test(graded):
    lost = failed(graded("a history of loss tensors"))
    history = "pytorch_ann.fit: the history has the contract's keys, one float per epoch"
    assert set(lost) == {history}, lost
    assert "history values must be floats (use .item())" in lost[history], lost[history]


def output(results: dict, name: str) -> str:
    """The test's message as plain text (results.json's output is Markdown)."""
    return next(plain(t) for t in results["tests"] if t["name"] == name)


def test_a_slow_pytorch_learner_loses_the_accuracy_test_and_a_constant_judgement_both(graded):
    lost = failed(graded("slow SGD learner, constant judgement"))
    # the fit, history, predict and plot tests pass the learning gate (the small fit run again at 0.01)
    assert set(lost) == {accuracy_test("pytorch_ann"), VISIBLE_JUDGEMENT, HIDDEN_JUDGEMENT}, lost
    visible, hidden = lost[VISIBLE_JUDGEMENT], lost[HIDDEN_JUDGEMENT]
    assert "'overfitting' but the rule in the docstring gives 'underfitting'" in visible, visible
    assert "underfitting, generalizing returned 'overfitting', 'overfitting'" in hidden, hidden


def test_a_wrong_judgement_rule_is_charged_once_and_advice_costs_nothing(graded):
    results = graded("float64, validation in train mode, underfitting below 0.90")
    lost = failed(results)
    assert set(lost) == {VISIBLE_JUDGEMENT}, lost
    assert "the rule in the docstring gives 'generalizing'" in lost[VISIBLE_JUDGEMENT], lost
    hidden = output(results, HIDDEN_JUDGEMENT)
    assert "already charges this mistake" in hidden and "test 2.11" in hidden, hidden
    accuracy = output(results, accuracy_test("pytorch_ann"))
    assert "Advice (costs no points): PyTorchANN's parameters are float64" in accuracy, accuracy
    assert "validation images with the model in training mode" in accuracy, accuracy


def test_the_conv2d_test_names_learning_as_what_is_missing(graded):
    lost = failed(graded("a CNN that never learns"))
    conv = "pytorch_cnn.architecture: holds at least one nn.Conv2d"
    assert conv in lost and "The convolution is there" in lost[conv], lost.get(conv)
    assert "what is missing is learning" in lost[conv] and "holds no nn.Conv2d" not in lost[conv]


def test_a_boolean_relu_prime_is_advised_at_no_cost(graded):
    results = graded("relu_prime of booleans")
    assert failed(results) == {}
    text = output(results, "numpy_ann.relu_prime: 1 where z > 0 and 0 where z < 0")
    assert "Advice (costs no points): relu_prime returns booleans" in text, text
