"""The worker runtime: the code that runs inside a worker process, beside the student's (received whole)."""
