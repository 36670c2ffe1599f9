"""Failures of student code are explained by their likely cause, not only by the raw exception."""

import pytest

from autograder.harness import evidence


@pytest.mark.parametrize("error, phrase", [
    ({"type": "RuntimeError", "message": "Found no NVIDIA driver on your system."}, "the grader has no GPU"),
    ({"type": "AssertionError", "message": "Torch not compiled with CUDA enabled"}, "torch.cuda.is_available()"),
    ({"type": "BdbQuit", "message": ""}, "breakpoint()"),
    ({"type": "RuntimeError", "message": "[enforce fail at alloc_cpu.cpp:118] . DefaultCPUAllocator: can't allocate "
      "memory: you tried to allocate 5519360000 bytes."}, "mini-batches"),
    ({"type": "MemoryError", "message": "Unable to allocate 20.0 GiB for an array"}, "out of memory"),
    ({"type": "ModuleNotFoundError", "message": "No module named 'my_layers'"}, "inside the file"),
    ({"type": "ModuleNotFoundError", "message": "No module named 'sklearn'"}, "NumPy, PyTorch, torchvision"),
])
def test_a_failure_names_its_likely_cause(error, phrase):
    assert phrase in evidence.describe(dict(error, where=""))


def test_one_hint_is_given_once():
    text = evidence.describe({"type": "MemoryError", "message": "Unable to allocate 1 GiB", "where": ""})
    assert text.count("out of memory") == 1


def test_a_low_accuracy_is_advised_by_its_root_cause_first():
    import numpy as np

    from autograder.suite import advice

    spread = np.arange(20) % 10
    step = "numpy_ann.step: subtracts lr times each gradient"
    diverged = {"history": {"train_loss": [2.3, float("nan")]}}
    # A failing unit test of what training is built from comes first, then a diverged loss, then one class.
    assert "Fix test 1.23" in advice.accuracy_advice(None, "numpy_ann", diverged, spread, {step})
    assert "diverged" in advice.accuracy_advice(None, "numpy_ann", diverged, spread, set())
    assert "epoch 2" in advice.accuracy_advice(None, "numpy_ann", diverged, spread, set())
    fine = {"history": {"train_loss": [2.3, 1.9]}}
    assert "every image" in advice.accuracy_advice(None, "pytorch_ann", fine, np.zeros(20, int), set())
    assert advice.accuracy_advice(None, "pytorch_ann", fine, spread, set()) == advice.GENERIC
    zero_grad = "pytorch_ann.fit: gradients do not accumulate across steps"
    assert "Fix test 2.5" in advice.accuracy_advice(None, "pytorch_ann", fine, spread, {zero_grad})
