"""The Gradescope autograder: build its zip (`make gradescope`) and run it on a submission.

    python -m autograder.packaging.gradescope build [dist/autograder.zip]
    python -m autograder.packaging.gradescope run --root /autograder

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` there once
as root, and for every submission runs `run_autograder`, which must leave
/autograder/results/results.json. `run` writes a "grader error, 0 points"
result first, so even a crash leaves Gradescope something to show, then
grades the submission with every test and replaces that file atomically.

The zip holds the grading suite, `utils.py` and the expected values as data:
no reference solution code. Building twice from the same commit gives the
same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from autograder import ROOT, grade, packaging
from autograder.core import config, settings
from autograder.core.atomic import replacing, write_json_atomically
from autograder.harness import calibrate
from autograder.packaging import limits
from autograder.suite.results import error_results

FILES = Path(__file__).resolve().parent / "gradescope_files"
# Seconds after which grading is stopped so that results still get written before Gradescope's timeout.
DEADLINE = settings.seconds("GRADESCOPE_DEADLINE") or config.GRADESCOPE_DEADLINE


def pins() -> dict[str, str]:
    """package -> version, from requirements.txt (the one list of pinned versions)."""
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))


def setup_sh() -> str:
    versions = pins()
    return (FILES / "setup.sh").read_text().replace("@TORCH@", versions["torch"]).replace(
        "@TORCHVISION@", versions["torchvision"])


# The result run_autograder puts in place before any Python starts; @@WHY@@ is where it writes the cause.
NOT_STARTED = ("Grader error: the autograder could not grade this submission. Nothing in your submission was "
               "graded; please tell the course staff.@@WHY@@")


def grader_error() -> str:
    """The "grader error, 0 points" results.json, every test listed, for run_autograder's shell to write."""
    return json.dumps(error_results(NOT_STARTED), indent=1) + "\n"


def zip_members(expected_dir: Path) -> list[tuple[str, bytes, int]]:
    """(name in the zip, content, mode) for everything the autograder needs."""
    members = [("setup.sh", setup_sh().encode(), 0o755),
               ("run_autograder", (FILES / "run_autograder").read_bytes(), 0o755),
               ("grader_error.json", grader_error().encode(), 0o644),
               ("requirements.txt", (ROOT / "requirements.txt").read_bytes(), 0o644),
               ("utils.py", (ROOT / "utils.py").read_bytes(), 0o644)]
    package = ROOT / "autograder"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".ini"):
            members.append((str(path.relative_to(ROOT)), path.read_bytes(), 0o644))
    from autograder.harness import notebook  # the build's alone: `run` stays small

    for file in config.FILES:  # the stubs: the grader tells an untouched file from an edited one
        stub = (ROOT / "student" / f"{file}.py").read_bytes()
        members.append((notebook.STUB_PLACES[1].format(file), stub, 0o644))
    for path in sorted(expected_dir.rglob("*")):
        if path.is_file():
            members.append(("expected/" + str(path.relative_to(expected_dir)), path.read_bytes(), 0o644))
    return sorted(members)


def build(out: Path) -> Path:
    """Write the autograder zip to `out`, byte-for-byte reproducibly."""
    with tempfile.TemporaryDirectory() as tmp:
        from autograder.harness import expected  # the build needs NumPy; `run` must not

        members = zip_members(expected.build(Path(tmp) / "expected"))
    return write_zip(out, members)


def write_zip(out: Path, members: list[tuple[str, bytes, int]]) -> Path:
    """Write (name, content, mode) members to `out` atomically, with fixed timestamps: same members, same bytes."""
    with replacing(out) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3
            zf.writestr(info, data)
    return out


def capped_speed(measured: float) -> float:
    """The speed factor for budgets on Gradescope: the one measured, unless the budgets at that factor would
    not fit in its timeout (config.TRAIN_DEADLINE_ON_GRADESCOPE); then the largest that fits, said aloud."""
    fits = config.TRAIN_DEADLINE_ON_GRADESCOPE / config.TRAIN_DEADLINE
    if measured > fits:
        print(f"this machine takes {measured:.2f} CPU-seconds for one of the reference machine's, so the "
              f"training budgets, {config.TRAIN_DEADLINE * measured:.0f} CPU-seconds here, are cut to "
              f"{config.TRAIN_DEADLINE_ON_GRADESCOPE} to fit in the timeout "
              f"({config.GRADESCOPE_TIMEOUT:g} s): raise the timeout or the CPUs for the full budgets")
        return round(fits, 3)
    return measured


def read_metadata(metadata: Path):
    """Gradescope's submission_metadata.json as parsed JSON (None when absent or unreadable), its
    submission and users logged; a file of any content is read without failing."""
    meta = None
    if metadata.exists():
        try:
            meta = json.loads(metadata.read_text())
            users = [u.get("email") for u in meta.get("users", [])]
            print(f"submission {meta.get('id')} by {users}")
        except Exception:  # noqa: BLE001  (not UTF-8, nested too deep, users not a list ...)
            print("submission_metadata.json is not readable JSON of the expected shape")
    return meta


def run(root: Path) -> int:
    """Grade /autograder/submission into /autograder/results/results.json, whatever happens."""
    results = root / "results" / "results.json"
    write_json_atomically(results, error_results(
        "Grader error: the autograder stopped before it finished grading this submission. "
        "Nothing in your submission was graded; please tell the course staff."))
    meta = read_metadata(root / "submission_metadata.json")
    limited = limits.refusal(meta, config.SUBMISSIONS_PER_DAY)
    if limited is not None:  # over the daily limit: the last graded result, and when the next is
        write_json_atomically(results, limited)
        print(limited["output"].split("\n")[0])
        return 0
    if not os.environ.get("GRADER_SPEED"):
        os.environ["GRADER_SPEED"] = str(capped_speed(calibrate.speed()))
    # The grading's own deadline ends each file in time; DEADLINE, just after it, is the last resort.
    os.environ.setdefault("GRADER_DEADLINE", str(min(DEADLINE - config.FILE_RESERVE,
                                                      config.GRADING_DEADLINE_ON_GRADESCOPE)))
    if os.geteuid() == 0:
        results.parent.chmod(0o700)  # student code runs as grader-student and must not touch the results
    graded = results.with_name("graded.json")
    started = time.monotonic()
    code = grade.run_suite(root / "submission", graded, expected=ROOT / "expected", quiet=False,
                           timeout=DEADLINE)
    if code is None or not graded.exists():
        why = (f"grading took longer than {DEADLINE} s and was stopped" if code is None
               else f"the grading suite failed (status {code})")
        write_json_atomically(results, error_results(f"Grader error: {why}. Please tell the course staff."))
        return 0
    data = json.loads(graded.read_text())
    data["execution_time"] = round(time.monotonic() - started, 1)
    write_json_atomically(results, data)
    graded.unlink()
    print(grade.table(data))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write dist/autograder.zip")
    b.add_argument("out", nargs="?", type=Path, default=ROOT / "dist" / "autograder.zip")
    r = sub.add_parser("run", help="grade a submission as Gradescope does")
    r.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.root)
    packaging.show(build(args.out), "Upload it as the autograder (Ubuntu 22.04 base image); see README, "
                   "'Publish on Gradescope'.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
