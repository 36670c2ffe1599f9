"""Hidden tests: graded by `make grade` and on Gradescope, shown to students after the due date.

They are not in the student handout, nor are their inputs and points
(autograder/hidden/__init__.py), and `make check` does not run them.
"""

from autograder.hidden import OTHER
from autograder.runtime import probes
from autograder.suite import learning, measure
from autograder.suite.compare import close
from autograder.suite.graded import check, graded
from autograder.suite.test_numpy_ann import gradient, out, true_gradients
from autograder.suite.torch_tests import WORDS


@graded("numpy_ann.forward: matches the reference for a 3-7-5 network and a batch of 1")
def test_forward_matches_the_reference_for_another_shape(grader):
    want = measure.probabilities(probes.fixed_params(OTHER), probes.batch(OTHER, 1)[0])

    close(out(grader.evidence("numpy_ann"), "forward_other", "forward(X)"), want,
          "forward(X) for a 3-7-5 network on one sample")


@graded("numpy_ann.backward: matches the reference for a 3-7-5 network and a batch of 1")
def test_backward_matches_the_reference_for_another_shape(grader):
    want = true_gradients(probes.probe_seed(), OTHER, 1)
    for name in ("W1", "b1", "W2", "b2"):
        close(gradient(grader.evidence("numpy_ann"), "backward_other", name), want[name],
              f"backward(X, y)['{name}'] for a 3-7-5 network on one sample")


def textbook_test(file: str):
    @graded(f"{file}.judgement: follows the rule on three textbook histories")
    def test_judgement_on_textbook_histories(grader):
        ev = grader.evidence(file)
        got = ev.result("judgement_textbook", "report_my_judgement on three histories").values
        wrong = {want: got.get(want) for want in WORDS if got.get(want) != want}
        check(not wrong, f"report_my_judgement on a history that is {', '.join(wrong)} returned "
                         f"{', '.join(repr(v) for v in wrong.values())}")
        learning.credited_if_learned(ev, learning.REPORTED)
    return test_judgement_on_textbook_histories


test_pytorch_ann_judgement_on_textbook_histories = textbook_test("pytorch_ann")
test_pytorch_cnn_judgement_on_textbook_histories = textbook_test("pytorch_cnn")
