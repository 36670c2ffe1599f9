"""The autograder: probes run student code in workers, tests judge what they recorded."""
