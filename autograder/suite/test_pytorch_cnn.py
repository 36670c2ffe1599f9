"""pytorch_cnn.py: the model, its training loop, its plot, its judgement and its test accuracy."""

from autograder.suite.torch_tests import make_tests

globals().update(make_tests("pytorch_cnn"))
