"""Typical student mistakes, each a small edit of the reference, lose points where they should.

Each mistake names the tests it targets: they must fail, with the hint that
points at the cause. Where the mistake also breaks what depends on it (a
gradient of the wrong shape stops training), those tests are listed as
`also` and may fail too. Every other test must pass.
"""

from dataclasses import dataclass, field

import pytest

from autograder.core import config
from autograder.harness import evidence
from tests.conftest import accuracy_test, failed

# Work that costs CPU time, as slow training does (a sleep costs none), in the full training only.
BUSY = ("            _t0 = time.process_time()\n"
        "            while len(X_train) > 10_000 and time.process_time() - _t0 < {seconds}:\n"
        "                pass\n")
TRAINING = ["numpy_ann.fit: the loss falls over a few epochs on a fixed batch",
            "numpy_ann.fit: every sample is seen once per epoch",
            "numpy_ann.fit: the order is reshuffled between epochs",
            "numpy_ann.fit: the history has the contract's keys, one float per epoch",
            accuracy_test("numpy_ann")]
BACKWARD = [f"numpy_ann.backward: d{p} matches {what}" for p in ("W1", "b1", "W2", "b2")
            for what in ("the reference", "finite differences")]


@dataclass
class Mistake:
    name: str
    file: str
    old: str
    new: str
    targets: dict  # test name -> a phrase its message must contain
    also: list = field(default_factory=list)


MISTAKES = [
    Mistake("relu_prime is 1 at zero", "numpy_ann", "(z > 0)", "(z >= 0)",
            {"numpy_ann.relu_prime: zero at z == 0": "Use z > 0"}),
    Mistake("softmax without the max shift", "numpy_ann",
            "np.exp(z - z.max(axis=-1, keepdims=True))", "np.exp(z)",
            {"numpy_ann.softmax: finite for logits near 1e4": "Subtract each row's maximum"}),
    Mistake("softmax over the wrong axis", "numpy_ann",
            "e = np.exp(z - z.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)",
            "e = np.exp(z - z.max(axis=0, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)",
            # backward is judged on a right forward cache: what is built on softmax fails, backward does not
            {"numpy_ann.softmax: rows sum to 1": "not axis=0",
             accuracy_test("numpy_ann"): "Fix test 1.7 (softmax: matches the reference) first",
             "numpy_ann.predict: class indices of shape (n,)": "fix forward first"},
            also=["numpy_ann.softmax: matches the reference", "numpy_ann.softmax: finite for logits near 1e4",
                  "numpy_ann.softmax: unchanged when a row is shifted by a constant",
                  "numpy_ann.forward: matches the reference on fixed weights",
                  "numpy_ann.forward: matches the reference for a 3-7-5 network and a batch of 1", *TRAINING]),
    Mistake("cross-entropy averaged over every entry", "numpy_ann",
            "-np.mean(np.sum(y_true * np.log(np.clip(y_pred, 1e-12, None)), axis=1))",
            "-np.mean(y_true * np.log(np.clip(y_pred, 1e-12, None)))",
            # the history's losses are 10 times too small too: the cross-entropy tests charge that, not fit's
            {"numpy_ann.cross_entropy: the mean over rows, not the sum": "10 times too small"},
            also=["numpy_ann.cross_entropy: finite where a probability is 0"]),  # credited with the right values only
    Mistake("labels not shuffled with their images", "numpy_ann",
            "self.step(self.backward(X_train[idx], y_train[idx]))",
            "self.step(self.backward(X_train[idx], y_train[np.sort(idx)]))",
            {accuracy_test("numpy_ann"): "labels that do not belong to their images"},
            also=TRAINING),
    Mistake("cross-entropy summed instead of averaged", "numpy_ann",
            "-np.mean(np.sum(y_true", "-np.sum(np.sum(y_true",
            {"numpy_ann.cross_entropy: the mean over rows, not the sum": "take the mean over rows"}),
    Mistake("cross-entropy without clipping", "numpy_ann",
            "np.log(np.clip(y_pred, 1e-12, None))", "np.log(y_pred)",
            {"numpy_ann.cross_entropy: finite where a probability is 0": "Clip"}),
    Mistake("backward does not divide by the batch size", "numpy_ann",
            "dz2 = (self.a2 - y_true) / len(X)", "dz2 = self.a2 - y_true",
            # one cause, one charge: the other backward tests and fit's tests judge backward up to the factor
            {BACKWARD[0]: "Divide by the batch size", accuracy_test("numpy_ann"): "summed over the batch"}),
    Mistake("a transposed gradient", "numpy_ann",
            '"W2": self.a1.T @ dz2,', '"W2": (self.a1.T @ dz2).T,',
            {"numpy_ann.backward: dW2 matches the reference": "transposed",
             "numpy_ann.backward: dW2 matches finite differences": "transposed"},
            also=[*TRAINING, "numpy_ann.backward: matches the reference for a 3-7-5 network and a batch of 1"]),
    Mistake("the b1 gradient is not summed over the batch", "numpy_ann",
            '"b1": dz1.sum(axis=0, keepdims=True),', '"b1": dz1,',
            {"numpy_ann.backward: db1 matches the reference": "Sum over the batch axis",
             "numpy_ann.backward: db1 matches finite differences": "Sum over the batch axis"},
            also=TRAINING),
    Mistake("backward updates the parameters itself", "numpy_ann",
            "        dz1 = (dz2 @ self.W2.T) * relu_prime(self.z1)\n",
            "        dz1 = (dz2 @ self.W2.T) * relu_prime(self.z1)\n        self.b2 = self.b2 - 0.0 + 1e-3\n",
            {"numpy_ann.backward: changes no parameter": "step() applies them"},
            also=[*BACKWARD, "numpy_ann.backward: matches the reference for a 3-7-5 network and a batch of 1"]),
    Mistake("no shuffling", "numpy_ann",
            "utils.minibatches(len(X_train), batch_size, self.rng)", "utils.minibatches(len(X_train), batch_size)",
            {"numpy_ann.fit: the order is reshuffled between epochs": "original order"}),
    Mistake("the last partial batch is dropped", "numpy_ann",
            "for idx in utils.minibatches(len(X_train), batch_size, self.rng):",
            "for idx in [b for b in utils.minibatches(len(X_train), batch_size, self.rng) if len(b) == batch_size]:",
            {"numpy_ann.fit: every sample is seen once per epoch": "last partial batch is dropped"}),
    Mistake("numpy_ann.py imports torch", "numpy_ann", "import numpy as np\n", "import numpy as np\nimport torch  # noqa\n",
            {"numpy_ann.imports: only NumPy and the standard library": "imports torch"}),
    Mistake("zero_grad is missing", "pytorch_ann", "                optimizer.zero_grad()\n", "",
            {"pytorch_ann.fit: gradients do not accumulate across steps": "optimizer.zero_grad()"},
            also=[accuracy_test("pytorch_ann"), "pytorch_ann.fit: the loss falls",
                  "pytorch_ann.judgement: one of the three words, by the rule, on your history"]),
    Mistake("softmax applied before CrossEntropyLoss", "pytorch_ann",
            "return self.layers(X)", "return torch.softmax(self.layers(X), dim=1)",
            {"pytorch_ann.forward: returns logits, not probabilities": "applied twice"},
            also=[accuracy_test("pytorch_ann")]),
    Mistake("predict in train mode", "pytorch_ann",
            "        self.eval()\n        return torch.cat([self(X[i:i + 1024]).argmax(dim=1)",
            "        return torch.cat([self(X[i:i + 1024]).argmax(dim=1)",
            {"pytorch_ann.predict: runs in eval mode without gradients": "self.eval()"}),
    Mistake("predict returns floats", "pytorch_ann", ".argmax(dim=1) for i in range", ".argmax(dim=1).float() for i in range",
            {"pytorch_ann.predict: int64 class indices of shape (n,)": "int64"}),
    Mistake("judgement ignores the history", "pytorch_ann",
            '        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]\n',
            '        return "generalizing"\n        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]\n',
            {"pytorch_ann.judgement: follows the rule on three textbook histories": "overfitting"}),
    Mistake("the CNN rejects flat input", "pytorch_cnn",
            "return self.layers(X.reshape(-1, 1, 28, 28))", "return self.layers(X)",
            {"pytorch_cnn.forward: logits of shape (n, 10) for (n, 784) input": "raised"}),  # one cause, one loss
    Mistake("a library imported under if __name__ == '__main__' only", "numpy_ann",
            'if __name__ == "__main__":\n', 'if __name__ == "__main__":\n    import sklearn  # noqa: F401\n', {}),
    Mistake("step adds the gradient", "numpy_ann", "getattr(self, name) - self.lr * grad",
            "getattr(self, name) + self.lr * grad",
            {"numpy_ann.step: subtracts lr times each gradient": "expected W1 - lr",
             accuracy_test("numpy_ann"): "Fix test 1.23"},  # the root cause, not "tune"
            also=TRAINING),
    Mistake("predict returns the probabilities", "numpy_ann", "return self.forward(X).argmax(axis=1)",
            "return self.forward(X)",  # the accuracy is still the model's: the grader takes the argmax itself
            {"numpy_ann.predict: class indices of shape (n,)": "Use argmax(axis=1)"}),
    Mistake("weights initialised without scaling", "numpy_ann",
            "(self.rng.standard_normal((input_size, hidden_size)) * np.sqrt(2 / input_size))",
            "(self.rng.standard_normal((input_size, hidden_size)))",
            {accuracy_test("numpy_ann"): "starts with large weights"}),
    Mistake("nn.NLLLoss on raw logits", "pytorch_ann", "loss_fn = nn.CrossEntropyLoss()", "loss_fn = nn.NLLLoss()",
            {accuracy_test("pytorch_ann"): "nn.NLLLoss on raw logits",
             "pytorch_ann.fit: the history has the contract's keys, one float per epoch": "no cross-entropy is",
             "pytorch_ann.fit: the loss falls": "nn.NLLLoss on raw logits"},  # a model that does not learn
            also=[name for name in config.POINTS if name.startswith("pytorch_ann.") and ".artifact:" not in name]),
    Mistake("fit returns no history", "pytorch_ann", "        return history\n", "",
            {"pytorch_ann.fit: the history has the contract's keys, one float per epoch": "got a NoneType",
             "pytorch_ann.judgement: one of the three words, by the rule, on your history": "Return the history"}),
    Mistake("predict returns a list", "pytorch_ann", ".argmax(dim=1) for i in range(0, len(X), 1024)])\n",
            ".argmax(dim=1) for i in range(0, len(X), 1024)]).tolist()\n",
            {"pytorch_ann.predict: int64 class indices of shape (n,)": "got list"}),
    Mistake("training raises on the full data", "pytorch_ann",
            "        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)\n",
            "        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)\n"
            "        if len(X_train) > 10_000:\n            raise RuntimeError('out of patience')\n",
            # the plot is judged with the grader's own history, the judgement with the small fit's: both pass
            {accuracy_test("pytorch_ann"): "out of patience"}),
]


def apply(mistake: Mistake, folder):
    path = folder / f"{mistake.file}.py"
    source = path.read_text()
    assert source.count(mistake.old) == 1, f"the reference changed: {mistake.old!r} is not in it exactly once"
    path.write_text(source.replace(mistake.old, mistake.new))


def check_outcome(results, targets: dict, also=()):
    fails = failed(results)
    for name, phrase in targets.items():
        assert name in fails, f"{name} should fail"
        assert phrase in fails[name], f"{name}: the message should say {phrase!r}; it says {fails[name]!r}"
    unexpected = set(fails) - set(targets) - set(also)
    assert not unexpected, f"these tests should have passed: { {n: fails[n] for n in unexpected} }"


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_mistake_loses_points_where_it_should(mistake, run_grader, reference_copy):
    apply(mistake, reference_copy)
    check_outcome(run_grader(reference_copy, only=mistake.file), mistake.targets, mistake.also)


def test_a_missing_png_fails_only_the_artifact_tests(run_grader, reference_copy):
    (reference_copy / "pytorch_ann_train_val_metrics.png").unlink()
    check_outcome(run_grader(reference_copy, only="pytorch_ann"), {
        "pytorch_ann.artifact: pytorch_ann_train_val_metrics.png is in the submission": "not in the submission",
        "pytorch_ann.artifact: the PNG is at least 300x200 pixels and not blank": "not in the submission",
    })


def test_a_blank_png_fails_only_the_not_blank_test(run_grader, reference_copy):
    from PIL import Image

    Image.new("RGB", (1000, 400), "white").save(reference_copy / "pytorch_ann_train_val_metrics.png")
    check_outcome(run_grader(reference_copy, only="pytorch_ann"), {
        "pytorch_ann.artifact: the PNG is at least 300x200 pixels and not blank": "blank",
    })


def numpy_budget(deadline: float) -> str:
    """numpy_ann's training budget under GRADER_TRAIN_DEADLINE=deadline, as the grader's messages write it."""
    return evidence.seconds(deadline * config.TRAIN_SHARE["numpy_ann"])


def test_training_over_its_budget_fails_only_the_training_tests_and_says_how_slow(run_grader, reference_copy):
    apply(Mistake("slow", "numpy_ann", "            utils.progress(epoch, epochs, history,",
                  BUSY.format(seconds=2) + "            utils.progress(epoch, epochs, history,", {}), reference_copy)
    results = run_grader(reference_copy, only="numpy_ann", env={"GRADER_TRAIN_DEADLINE": "20"})
    fails = failed(results)
    assert set(fails) == {accuracy_test("numpy_ann")}
    message = fails[accuracy_test("numpy_ann")]
    assert f"budget of {numpy_budget(20)} of CPU time (it used" in message, message
    assert "after 1 of 2 epochs" in message and "s per epoch" in message, message


def test_an_epoch_counter_that_never_advances_is_named(run_grader, reference_copy):
    apply(Mistake("stuck", "numpy_ann", "        for epoch in range(1, epochs + 1):\n",
                  "        epoch = 1\n        while epoch <= epochs:\n", {}), reference_copy)
    results = run_grader(reference_copy, only="numpy_ann",
                         env={"GRADER_TRAIN_DEADLINE": "20", "GRADER_CALL_BUDGET": "5"})
    message = failed(results)[accuracy_test("numpy_ann")]
    assert "never advances" in message and "epoch 1/2" in message, message


def test_training_that_waits_is_stopped_by_the_wall_clock_backstop(run_grader, reference_copy):
    """Sleeping costs no CPU time: after 3 times its budget in wall-clock time, training is stopped all the same."""
    apply(Mistake("sleepy", "numpy_ann", "            utils.progress(epoch, epochs, history,",
                  "            time.sleep(40 if len(X_train) > 10_000 else 0)\n"
                  "            utils.progress(epoch, epochs, history,", {}), reference_copy)
    results = run_grader(reference_copy, only="numpy_ann", env={"GRADER_TRAIN_DEADLINE": "20"})
    fails = failed(results)
    assert set(fails) == {accuracy_test("numpy_ann")}
    message = fails[accuracy_test("numpy_ann")]
    assert "wall-clock" in message and "waiting" in message, message


def test_training_stopped_before_any_progress_line_claims_no_pace(run_grader, reference_copy):
    """The unit tests' small fits print epoch lines too: the message reads only what training itself printed."""
    apply(Mistake("slower", "numpy_ann", "            utils.progress(epoch, epochs, history,",
                  BUSY.format(seconds=8) + "            utils.progress(epoch, epochs, history,", {}), reference_copy)
    results = run_grader(reference_copy, only="numpy_ann", env={"GRADER_TRAIN_DEADLINE": "20"})
    message = failed(results)[accuracy_test("numpy_ann")]
    assert f"budget of {numpy_budget(20)} of CPU time" in message and "no utils.progress line" in message, message
    assert "per epoch" not in message and " after " not in message.split("Use fewer")[0], message  # no pace
