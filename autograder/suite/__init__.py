"""The graded suite: the pytest tests run on every submission (visible ones in make check, hidden ones on Gradescope)."""
