"""The grader's side of a grading: intake (notebooks too), the sandbox, workers and their records,
the expected values."""
