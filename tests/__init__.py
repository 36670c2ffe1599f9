"""The project's own tests (make test; make test-fast for those that neither grade nor train)."""
