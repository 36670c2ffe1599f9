"""Nothing for nothing: code that does no real work earns no point, and correct code written unlike the
reference earns every point.

`tests/submissions/` holds whole submissions, graded once each:
- `placeholders`: every region filled with the simplest code of the right shapes and types, doing no work
  (zeros, constants, an invented history, an optimizer at learning rate 0). It may keep only the PNG
  artifacts, the parameters' shapes and the nn.Conv2d check: at most 8/100 (the README's guarantee);
- `busywork`: degenerate code that looks busy: the input returned (plus a bias, in the CNN), a one-hot
  "softmax", the parameters returned as gradients, shuffled batches that never train, every parameter nudged
  by hand, predict in eval mode over logits that ignore the model, no Conv2d, no PNG;
- `variant_a`, `variant_b`, `variant_c`: correct, and written unlike the reference (float64, float32 and
  momentum, other initialisations, architectures, optimisers, batch sizes, plots in percent, buffers that
  fit fills in, lazy layers): 100/100. `unusual_state` holds MLPs that keep their normalisation elsewhere
  (NumPy scalars, a buffer registered in fit, a placeholder buffer of another shape): each keeps every
  point, graded in the fresh worker that measures accuracy.

TWINS names, for every graded test, the degenerate submissions that must earn 0 on it.
"""

from __future__ import annotations

import shutil

import pytest

from autograder.core import config
from tests.conftest import ROOT, failed

SUBMISSIONS = ROOT / "tests" / "submissions"
# What the placeholder submission may keep: it ships the reference's PNGs and has the right shapes.
KEPT = {name for name in config.POINTS
        if ".artifact:" in name or name.startswith(("numpy_ann.init:", "pytorch_cnn.architecture:"))}
# busywork judges its invented history by the right rule, so it earns the textbook-judgement tests.
RULE = {name for name in config.POINTS if ".judgement: follows the rule on three textbook histories" in name}
TWINS = {name: tuple(twin for twin, spared in (("placeholders", KEPT), ("busywork", RULE)) if name not in spared)
         for name in config.POINTS}


@pytest.fixture(scope="module")
def graded(run_grader, tmp_path_factory):
    """name -> results.json of that submission, each graded once (the PNGs copied from solutions/ where kept)."""
    cache = {}

    def grade(name: str) -> dict:
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            shutil.copytree(SUBMISSIONS / name, folder, dirs_exist_ok=True)
            if name != "busywork":
                for png in config.PNG_FILES.values():
                    shutil.copyfile(ROOT / "solutions" / png, folder / png)
            cache[name] = run_grader(folder)
        return cache[name]

    return grade


def test_every_graded_test_has_a_degenerate_twin():
    assert set(TWINS) == set(config.POINTS)
    assert [name for name, twins in TWINS.items() if not twins] == []


@pytest.mark.parametrize("twin", ["placeholders", "busywork"])
def test_each_degenerate_twin_earns_nothing_on_the_tests_it_stands_for(twin, graded):
    results = graded(twin)
    scores = {t["name"]: t["score"] for t in results["tests"]}
    earned = {name: scores[name] for name, twins in TWINS.items() if twin in twins and scores[name] > 0}
    assert earned == {}


def test_the_placeholder_submission_scores_at_most_8(graded):
    results = graded("placeholders")
    passed = {t["name"] for t in results["tests"] if t["status"] == "passed"}
    assert passed <= KEPT
    assert results["score"] <= 8


def test_degenerate_failures_say_what_was_measured(graded):
    reasons = failed(graded("placeholders"))
    assert "where the grader measured" in reasons["pytorch_ann.fit: the history has the contract's keys, one float per epoch"]
    assert "learning rate of 0" in reasons["pytorch_ann.fit: the parameters change"]
    assert "before fit and" in reasons["numpy_ann.fit: the loss falls over a few epochs on a fixed batch"]
    assert "do not depend on the input" in reasons["pytorch_cnn.forward: returns logits, not probabilities"]


@pytest.mark.parametrize("variant", ["variant_a", "variant_b", "variant_c"])
def test_a_correct_submission_unlike_the_reference_scores_100(variant, graded):
    results = graded(variant)
    assert failed(results) == {}
    assert results["score"] == 100


def test_a_forward_that_adds_a_parameter_to_the_input_is_named(graded):
    reasons = failed(graded("busywork"))
    for test in ("forward: logits of shape (n, 10) for (n, 784) input", "forward: returns logits, not probabilities"):
        assert "without applying the model's weights to the input" in reasons[f"pytorch_cnn.{test}"]


@pytest.mark.parametrize("kind", ["d", "f", "h"])
def test_normalisation_kept_outside_the_usual_buffers_keeps_every_point(kind, run_grader, tmp_path):
    folder = tmp_path / kind
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "unusual_state" / f"pytorch_ann_{kind}.py", folder / "pytorch_ann.py")
    shutil.copy(ROOT / "solutions" / config.PNG_FILES["pytorch_ann"], folder)
    results = run_grader(folder, only="pytorch_ann")
    assert failed(results) == {}
