"""Every environment variable the grader reads: its name, type, default and meaning, and typed accessors.

    from autograder.core import settings
    settings.number("GRADER_TRAIN_DEADLINE")  # 240.0 unless set

A value that does not parse raises SettingError, which names the variable
and the value (e.g. "GRADER_THREADS must be a whole number of at least 1,
not 'abc'"). A variable set to the empty string counts as unset. The values
are read when asked for: the modules that read them at import keep what they
read then.

utils.py, which students get without this package, reads its own
(GRADER_THREADS, FASHION_MNIST_DATA, FASHION_MNIST_DIR). docs/CONTRACT.md
lists them all; tests/test_contract.py checks its table against VARIABLES.
Workers import this module too (sandbox.LIB_DIRS): it needs only the
standard library.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple


class SettingError(ValueError):
    """An environment variable holds a value the grader cannot use."""


class Variable(NamedTuple):
    name: str
    kind: str  # "whole" (an int of at least 1), "seconds" or "factor" (a float above 0), "user", "text", "flag"
    default: int | float | str | bool | None  # None: computed where it is used (see `meaning`)
    meaning: str
    internal: bool = False  # set by the grader for its own processes, not by hand


VARIABLES = {v.name: v for v in [
    Variable("GRADER_TRAIN_DEADLINE", "seconds", None,
             "CPU-seconds of the reference machine for all of a submission's training "
             "(config.TRAIN_DEADLINE); unset: what fits on Gradescope, config.TRAIN_DEADLINE"),
    Variable("GRADER_SPEED", "factor", None,
             "this machine's CPU-seconds per CPU-second of the reference machine, by which every budget is "
             "multiplied (config.speed); unset: measured at the start of each grading (calibrate.speed)"),
    Variable("GRADER_CALL_BUDGET", "seconds", 30.0, "CPU-seconds for every other call of student code (config.CALL_BUDGET)"),
    Variable("GRADER_THREADS", "whole", 1, "threads of NumPy and PyTorch in a worker (config.threads)"),
    Variable("GRADER_WORKER_MEMORY_MB", "whole", 4096, "memory limit of a worker, in MB (sandbox.MEMORY_BYTES)"),
    Variable("GRADER_STUDENT_USER", "user", "grader-student", "the user workers run as when grading as root (sandbox.USER)"),
    Variable("GRADER_NO_BWRAP", "flag", False, "any non-empty value turns bubblewrap off (sandbox.confined)"),
    Variable("GRADER_NO_CGROUP", "flag", False,
             "any non-empty value keeps workers out of cgroups of their own (cgroup.available)"),
    Variable("GRADER_DEADLINE", "seconds", 900.0,
             "wall-clock seconds for a whole grading, shared out among its files (config.GRADING_DEADLINE; "
             "run_autograder: config.GRADING_DEADLINE_ON_GRADESCOPE)"),
    Variable("GRADER_SALT", "text", "",
             "the grading's salt (fixtures.salt); unset: 32 random bytes made once in build/salt"),
    Variable("GRADE_JOBS", "whole", None, "make grade-all: gradings at once (--jobs); unset: one per CPU (config.cpus)"),
    Variable("GRADE_TIMEOUT", "seconds", 900.0,
             "make grade-all: seconds after which one submission's grading is stopped (--timeout)"),
    Variable("GRADESCOPE_DEADLINE", "seconds", None,
             "seconds after which grading on Gradescope is stopped and a grader error written (gradescope.DEADLINE); "
             "unset: config.GRADESCOPE_DEADLINE, Gradescope's timeout less 30"),
    # Set by the grader for its own processes; read where they are used (evidence.progress, probes, worker).
    Variable("GRADER_PROGRESS_FD", "text", None, "the pipe for progress lines (grade.run_suite to evidence.progress)", True),
    Variable("GRADER_LIB", "text", None, "a worker's code folder (sandbox.prepare)", True),
    Variable("GRADER_DATA", "text", None, "a worker's data folder (sandbox.prepare, probes.DATA_ENV)", True),
]}

USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")  # what useradd takes, at most 32 characters


def _raw(name: str, kind: str) -> str | None:
    """The variable's value, or None when it is unset or empty; `kind` must be the table's."""
    if VARIABLES[name].kind != kind:
        raise TypeError(f"{name} is a {VARIABLES[name].kind} setting, not {kind}")
    return os.environ.get(name) or None


def _parsed(name: str, kind: str, wanted: str, parse: Callable[[str], Any], valid: Callable[[Any], Any]) -> Any:
    """The variable's value through `parse`, if `valid` takes it; its default when unset; else SettingError."""
    value = _raw(name, kind)
    if value is None:
        return VARIABLES[name].default
    try:
        parsed = parse(value)
    except ValueError:
        parsed = None
    if parsed is None or not valid(parsed):
        raise SettingError(f"{name} must be {wanted}, not {value!r}")
    return parsed


def factor(name: str) -> float | None:
    """A number greater than 0 (the default when unset: None for GRADER_SPEED)."""
    return _parsed(name, "factor", "a number greater than 0", float, lambda x: 0 < x < math.inf)


def whole(name: str) -> int | None:
    """A whole number of at least 1 (the default when unset: None for GRADE_JOBS)."""
    return _parsed(name, "whole", "a whole number of at least 1", int, lambda n: n >= 1)


def seconds(name: str) -> float:
    """A number of seconds greater than 0."""
    return _parsed(name, "seconds", "a number of seconds greater than 0", float, lambda x: 0 < x < math.inf)


def user(name: str) -> str:
    """A user name as useradd takes it."""
    return _parsed(name, "user", "a user name (letters, digits, '_', '.' and '-', at most 32, not starting with '-')",
                   str, USER_NAME.fullmatch)


def text(name: str) -> str:
    """Any text (the default when unset or empty)."""
    return _parsed(name, "text", "text", str, lambda _: True)


def flag(name: str) -> bool:
    """True when set to any non-empty value."""
    return _raw(name, "flag") is not None
