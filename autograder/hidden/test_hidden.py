"""Hidden tests: graded by `make grade` and on Gradescope, shown to students after the due date.

They are not in the student handout, nor are their inputs and points
(autograder/hidden/__init__.py), and `make check` does not run them.
"""

from autograder.hidden import OTHER
from autograder.runtime import probes
from autograder.suite import advice, learning, measure, torch_tests
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
    visible = f"{file}.judgement: one of the three words, by the rule, on your history"

    @graded(f"{file}.judgement: follows the rule on three textbook histories")
    def test_judgement_on_textbook_histories(grader, record_property):
        """The rule on three textbook histories; a wrong rule is charged once.

        A mistake of the rule that also gives the wrong word on the student's own history is
        charged by the visible judgement test, which names it there; this test then charges only
        what that one did not: it is credited where the textbook histories show the rule at work,
        two of the three right, and says so. A constant word is right on one textbook history at
        most, and a lookup has never seen these histories, so neither collects this test that way;
        a rule wrong on two or three of them is no rule, and is charged here too.
        """
        ev = grader.evidence(file)
        got = ev.result("judgement_textbook", "report_my_judgement on three histories").values
        wrong = {want: got.get(want) for want in WORDS if got.get(want) != want}
        said = (f"report_my_judgement on a history that is {', '.join(wrong)} returned "
                f"{', '.join(repr(v) for v in wrong.values())}")
        charged = torch_tests.charged_on_own_history(ev, file) if len(wrong) == 1 else None
        if charged is None:
            check(not wrong, said)
        learning.credited_if_learned(ev, learning.REPORTED)
        if charged is not None:
            record_property("output", f"Credited: {said}, but {advice.numbered(visible)} already "
                                      f"charges this mistake of the rule on your own history "
                                      f"({charged}), and one mistake is charged once.")
    return test_judgement_on_textbook_histories


test_pytorch_ann_judgement_on_textbook_histories = textbook_test("pytorch_ann")
test_pytorch_cnn_judgement_on_textbook_histories = textbook_test("pytorch_cnn")
