"""The grader's environment variables (autograder/core/settings.py): a bad value is named, unset means the default.

Fast: the modules that read a variable at import are imported in a fresh
Python with that variable set, as the grader does; nothing is graded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autograder.core import settings
from tests.conftest import ROOT

# Where the grader uses each variable: the import that reads it, and the expression that shows what it got.
USES = {
    "GRADER_TRAIN_DEADLINE": ("from autograder.core import config", "config.TRAIN_DEADLINE"),
    "GRADER_CALL_BUDGET": ("from autograder.core import config", "config.CALL_BUDGET"),
    "GRADER_SPEED": ("from autograder.core import config", "config.speed()"),
    "GRADER_THREADS": ("from autograder.core import config", "config.threads()"),
    "GRADER_WORKER_MEMORY_MB": ("from autograder.harness import sandbox", "sandbox.MEMORY_BYTES >> 20"),
    "GRADER_STUDENT_USER": ("from autograder.harness import sandbox", "sandbox.USER"),
    "GRADER_NO_BWRAP": ("from autograder.core import settings", "settings.flag('GRADER_NO_BWRAP')"),
    "GRADER_NO_CGROUP": ("from autograder.core import settings",
                         "settings.flag('GRADER_NO_CGROUP')"),
    "GRADER_SALT": ("from autograder.core import settings", "settings.text('GRADER_SALT')"),
    "GRADER_DEADLINE": ("from autograder.core import config", "config.GRADING_DEADLINE"),
    # grade_all reads these two when it builds its options (test_grade_all_takes_... below)
    "GRADE_JOBS": ("from autograder.core import settings", "settings.whole('GRADE_JOBS')"),
    "GRADE_TIMEOUT": ("from autograder.core import settings", "settings.seconds('GRADE_TIMEOUT')"),
    "GRADESCOPE_DEADLINE": ("from autograder.packaging import gradescope", "gradescope.DEADLINE"),
}
BAD = [
    ("GRADER_TRAIN_DEADLINE", "soon"), ("GRADER_TRAIN_DEADLINE", "0"),
    ("GRADER_CALL_BUDGET", "-5"), ("GRADER_CALL_BUDGET", "nan"), ("GRADER_SPEED", "fast"), ("GRADER_SPEED", "0"),
    ("GRADER_THREADS", "abc"), ("GRADER_THREADS", "0"), ("GRADER_THREADS", "1.5"),
    ("GRADER_WORKER_MEMORY_MB", "4G"),
    ("GRADER_STUDENT_USER", "-rf"), ("GRADER_STUDENT_USER", "a b"),
    ("GRADE_JOBS", "many"), ("GRADE_TIMEOUT", "15 min"), ("GRADER_DEADLINE", "never"), ("GRADESCOPE_DEADLINE", "inf"),
]
VALID = {"GRADER_TRAIN_DEADLINE": ("1500", 1500.0), "GRADER_CALL_BUDGET": ("2.5", 2.5), "GRADER_THREADS": ("3", 3),
         "GRADER_WORKER_MEMORY_MB": ("512", 512), "GRADER_STUDENT_USER": ("grader-student-7", "grader-student-7"),
         "GRADER_NO_BWRAP": ("1", True), "GRADER_NO_CGROUP": ("1", True),
         "GRADER_SALT": ("s3cr3t", "s3cr3t"), "GRADE_JOBS": ("4", 4), "GRADE_TIMEOUT": ("30", 30.0),
         "GRADER_DEADLINE": ("120", 120.0), "GRADESCOPE_DEADLINE": ("600", 600.0), "GRADER_SPEED": ("1.5", 1.5)}


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`code` in a fresh Python whose environment is ours less every grader variable, plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in settings.VARIABLES}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**base, "PYTHONPATH": str(ROOT), **env})


def uses(names) -> str:
    """Code that imports what reads `names` and prints what each got, as JSON."""
    imports = sorted({USES[name][0] for name in names})
    shown = ", ".join(f"{name!r}: {USES[name][1]}" for name in names)
    return "\n".join([*imports, "import json", f"print(json.dumps({{{shown}}}))"])


def test_every_variable_is_listed_with_a_type_a_meaning_and_a_use_here():
    kinds = {"whole", "seconds", "factor", "user", "text", "flag"}
    for v in settings.VARIABLES.values():
        assert v.kind in kinds and v.meaning, v
    assert set(USES) == {name for name, v in settings.VARIABLES.items() if not v.internal}
    assert {name for name, _ in BAD} >= {name for name in USES if settings.VARIABLES[name].kind not in ("text", "flag")}


@pytest.mark.parametrize(("name", "bad"), BAD)
def test_a_bad_value_stops_the_grader_with_a_message_naming_the_variable_and_the_value(name, bad):
    done = python(uses([name]), {name: bad})
    assert done.returncode != 0, f"{name}={bad!r} was taken: {done.stdout}"
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("autograder.core.settings.SettingError: ") and f"{name} must be " in last and repr(bad) in last, last


def test_grade_all_names_a_bad_grade_jobs_before_it_grades():
    done = subprocess.run([sys.executable, "-m", "autograder.batch", "nowhere"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), "GRADE_JOBS": "many"})
    assert done.returncode != 0 and "GRADE_JOBS must be a whole number of at least 1, not 'many'" in done.stderr


def unset(name: str):
    """What the code uses when NAME is unset: its default, or where that is computed, the computed value."""
    from autograder.core import config

    computed = {"GRADESCOPE_DEADLINE": config.GRADESCOPE_DEADLINE, "GRADER_SPEED": 1.0,
                "GRADER_TRAIN_DEADLINE": int(config.TRAIN_DEADLINE_ON_GRADESCOPE / config.GRADESCOPE_SPEED)}
    return computed.get(name, settings.VARIABLES[name].default)


def test_the_defaults_apply_when_unset():
    got = json.loads(python(uses(USES), {}).stdout)
    for name, value in got.items():
        assert value == unset(name), name


def test_an_empty_value_counts_as_unset():
    got = json.loads(python(uses(USES), dict.fromkeys(USES, "")).stdout)
    for name, value in got.items():
        assert value == unset(name), name


def test_a_valid_value_is_used():
    got = json.loads(python(uses(USES), {name: raw for name, (raw, _) in VALID.items()}).stdout)
    assert got == {name: value for name, (_, value) in VALID.items()}


def test_grade_all_takes_grade_jobs_and_grade_timeout_as_its_option_defaults(monkeypatch):
    from autograder import batch as grade_all

    seen = {}

    def parse_args(parser, argv=None):  # the options as main() built them, then stop before any grading
        seen.update(jobs=parser.get_default("jobs"), timeout=parser.get_default("timeout"))
        raise SystemExit(0)

    monkeypatch.setattr(grade_all.argparse.ArgumentParser, "parse_args", parse_args)
    for env, jobs, timeout in [({}, None, 900.0), ({"GRADE_JOBS": "3", "GRADE_TIMEOUT": "30"}, 3, 30.0)]:
        for name in ("GRADE_JOBS", "GRADE_TIMEOUT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit):
            grade_all.main([])
        assert seen == {"jobs": jobs or grade_all.config.cpus(), "timeout": timeout}


def test_the_accessors_read_the_environment_when_asked(monkeypatch):
    monkeypatch.setenv("GRADER_THREADS", " 2 ")
    assert settings.whole("GRADER_THREADS") == 2
    monkeypatch.delenv("GRADER_THREADS")
    assert settings.whole("GRADER_THREADS") == 1
    monkeypatch.setenv("GRADER_NO_BWRAP", "0")  # any non-empty value
    assert settings.flag("GRADER_NO_BWRAP") is True
    with pytest.raises(TypeError):
        settings.seconds("GRADER_THREADS")  # the table says it is whole
