"""The grader's side of a grading: intake, the sandbox, workers and their records, the expected values."""
