"""`python -m autograder.batch`: grade a whole class (see the package's docstring)."""

import sys

from autograder.batch import main

sys.exit(main())
