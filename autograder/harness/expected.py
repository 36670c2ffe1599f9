"""Expected values: the unit probes run on the reference solutions, saved as data.

    python -m autograder.harness.expected OUT_DIR

The grader compares a submission's evidence with these. `make grade` builds
them on demand into build/expected/ (rebuilt whenever the solutions or the
probes change); the Gradescope zip ships them prebuilt, without any
reference code.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from autograder import ROOT
from autograder.harness import evidence, sandbox
from autograder.runtime import datacache

DEFAULT = ROOT / "build" / "expected"
# What the expected values depend on: everything a worker receives (sandbox.lib_files), the records' reader, and
# the reference.
SOURCES = [*(ROOT / name for name in sandbox.lib_files()), ROOT / "autograder" / "harness" / "evidence.py",
           ROOT / "solutions" / "numpy_ann.py"]
# Only numpy_ann's tests compare with the reference; the PyTorch tests check properties.
FILES = ("numpy_ann",)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in filter(Path.exists, SOURCES):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(out: Path) -> Path:
    """Record the reference's unit probes into out/<file>/ for every file."""
    with tempfile.TemporaryDirectory(prefix="expected-") as tmp:
        Path(tmp).chmod(0o755)  # workers may run as grader-student
        staging = Path(tmp) / "expected"
        sandbox_env = sandbox.prepare(Path(tmp) / "sandbox", None, datacache.worker_files())
        for file in FILES:
            scratch = Path(tmp) / "run" / file
            scratch.mkdir(parents=True)
            shutil.copyfile(ROOT / "solutions" / f"{file}.py", scratch / f"{file}.py")
            evidence.collect(file, scratch, staging / file, sandbox_env, unit_only=True)
            done = [e for e in evidence.read_log(staging / file) if e["event"] == "done"]
            failed = [e for e in done if not e["ok"]]
            if failed or not done:
                output = (staging / file / "output.txt")
                raise RuntimeError(f"the reference {file}.py failed its own probes: {failed or 'no call recorded'}\n"
                                   f"{output.read_text()[-2000:] if output.exists() else ''}")
            (staging / file / "output.txt").unlink(missing_ok=True)
            reproducible_log(staging / file / "log.jsonl")
        (staging / "fingerprint.txt").write_text(fingerprint())
        for path in [staging, *staging.rglob("*")]:
            os.chown(path, os.getuid(), os.getgid())
            path.chmod(0o755 if path.is_dir() else 0o644)  # the handout ships them; ACLs keep workers out
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(out))
    return out


def reproducible_log(path: Path) -> None:
    """Keep only the results, without timings, so that the same solutions give the same bytes."""
    entries = [dict(e, seconds=0, cpu_seconds=0) for e in evidence.read_log(path.parent) if e["event"] == "done"]
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def ensure(out: Path = DEFAULT) -> Path:
    """The expected values in `out`, rebuilt when missing or stale; one builder at a time (gradings started
    together on a fresh machine wait for the first one's build, then use it)."""
    stamp = out / "fingerprint.txt"
    if stamp.exists() and stamp.read_text() == fingerprint():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == fingerprint()):
            print(f"Building expected values from solutions/ into {out} ...", flush=True)
            build(out)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    print(f"expected values written to {build(target)}")
