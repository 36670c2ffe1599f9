"""Failures of student code are explained by their likely cause, not only by the raw exception."""

import pytest

from autograder import evidence


@pytest.mark.parametrize("error, phrase", [
    ({"type": "RuntimeError", "message": "Found no NVIDIA driver on your system."}, "the grader has no GPU"),
    ({"type": "AssertionError", "message": "Torch not compiled with CUDA enabled"}, "torch.cuda.is_available()"),
    ({"type": "BdbQuit", "message": ""}, "breakpoint()"),
    ({"type": "RuntimeError", "message": "[enforce fail at alloc_cpu.cpp:118] . DefaultCPUAllocator: can't allocate "
      "memory: you tried to allocate 5519360000 bytes."}, "mini-batches"),
    ({"type": "MemoryError", "message": "Unable to allocate 20.0 GiB for an array"}, "out of memory"),
])
def test_a_failure_names_its_likely_cause(error, phrase):
    assert phrase in evidence.describe(dict(error, where=""))


def test_one_hint_is_given_once():
    text = evidence.describe({"type": "MemoryError", "message": "Unable to allocate 1 GiB", "where": ""})
    assert text.count("out of memory") == 1
