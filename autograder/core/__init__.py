"""What every part of the autograder reads: points and budgets, environment variables, whole-file writes."""
