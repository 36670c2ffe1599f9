"""Hidden tests: graded by `make grade` and on Gradescope, shown to students after the due date.

They are not in the student handout, and `make check` does not run them.
"""

from autograder.graded import graded
from autograder.tests.compare import close
from autograder.tests.test_numpy_ann import gradient, out
from autograder.tests.torch_tests import textbook_test


@graded("numpy_ann.forward: matches the reference for a 3-7-5 network and a batch of 1")
def test_forward_matches_the_reference_for_another_shape(grader):
    close(out(grader.evidence("numpy_ann"), "forward_other", "forward(X)"),
          grader.expected("numpy_ann").result("forward_other")["out"], "forward(X) for a 3-7-5 network on one sample")


@graded("numpy_ann.backward: matches the reference for a 3-7-5 network and a batch of 1")
def test_backward_matches_the_reference_for_another_shape(grader):
    for name in ("W1", "b1", "W2", "b2"):
        close(gradient(grader.evidence("numpy_ann"), "backward_other", name),
              grader.expected("numpy_ann").result("backward_other")[f"d{name}"],
              f"backward(X, y)['{name}'] for a 3-7-5 network on one sample")


test_pytorch_ann_judgement_on_textbook_histories = textbook_test("pytorch_ann")
test_pytorch_cnn_judgement_on_textbook_histories = textbook_test("pytorch_cnn")
