"""Run one student file's probes in this process and record what they return.

    python -m autograder.worker FILE SUBMISSION_DIR OUT_DIR [--skip CALL ...]

This is the only code that imports a submission. The grader starts it as a
separate process (see `evidence.py`) and never imports student code itself.

Protocol, all inside OUT_DIR:
- `log.jsonl`: one JSON line `{"event": "start", "call", "budget"}` before each
  call and one `{"event": "done", "call", "ok", ...}` after it;
- `<call>.npz`: the arrays a call returned (read back with allow_pickle=False);
- `output.txt`: everything the student code printed.

Each call runs under a budget enforced with SIGALRM; the grader also kills a
worker that outlives the budget and restarts it with the finished calls
skipped, so one hanging function costs only its own tests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


class BudgetExceeded(BaseException):
    """Raised by SIGALRM inside student code. A BaseException, so `except Exception` does not swallow it."""


def _on_alarm(signum, frame):
    raise BudgetExceeded()


def where(tb, filename: str) -> str:
    """'numpy_ann.py, line 42, in relu: raise NotImplementedError' for the deepest frame in filename."""
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename).name == filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"{filename}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}"


def to_record(value):
    """Split a probe's return value into (json values, arrays, meta)."""
    values, arrays, meta = {}, {}, {}
    for key, v in value.items():
        kind = type(v).__module__ + "." + type(v).__qualname__
        if kind == "torch.Tensor":
            meta[key] = {"type": "torch.Tensor", "dtype": str(v.dtype), "shape": list(v.shape)}
            arrays[key] = v.detach().cpu().numpy()
        elif isinstance(v, np.ndarray):
            meta[key] = {"type": "numpy.ndarray", "dtype": str(v.dtype), "shape": list(v.shape)}
            if v.dtype == object:
                values[key] = repr(v)[:500]
            else:
                arrays[key] = v
        else:
            values[key] = v
    return values, arrays, meta


def save_npz(path: Path, arrays: dict) -> None:
    """np.savez, but byte-for-byte reproducible (fixed timestamps) and written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    os.replace(tmp, path)


class Recorder:
    def __init__(self, out: Path, filename: str):
        self.out, self.filename = out, filename
        self.log = open(out / "log.jsonl", "a", buffering=1)

    def write(self, **entry):
        self.log.write(json.dumps(entry, default=repr) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def run(self, call: str, probe, budget: float):
        sys.stdout.flush()
        sys.stderr.flush()
        # Where this call's printed output begins: a message about the call reads only what it printed.
        self.write(event="start", call=call, budget=budget, output_at=os.fstat(1).st_size)
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            value = probe()
        except BudgetExceeded as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = {"type": "Timeout", "message": f"did not finish within its budget of {budget:.0f} s",
                     "where": where(e.__traceback__, self.filename)}
        except BaseException as e:  # noqa: BLE001 - student code may raise anything, SystemExit included
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = {"type": type(e).__name__, "message": str(e)[:2000], "where": where(e.__traceback__, self.filename)}
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            values, arrays, meta = to_record(value or {})
            if arrays:
                save_npz(self.out / f"{call}.npz", arrays)
            self.write(event="done", call=call, ok=True, seconds=time.perf_counter() - started,
                       values=values, arrays=sorted(arrays), meta=meta)
            return value
        self.write(event="done", call=call, ok=False, seconds=time.perf_counter() - started, error=error)
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="numpy_ann, pytorch_ann or pytorch_cnn")
    parser.add_argument("submission", type=Path, help="folder holding FILE.py")
    parser.add_argument("out", type=Path, help="folder for the log and arrays")
    parser.add_argument("--skip", nargs="*", default=[], help="calls already recorded")
    parser.add_argument("--unit-only", action="store_true", help="skip training (for expected values)")
    args = parser.parse_args(argv)

    from autograder import probes  # after argument parsing: imports utils, which must come from the grader

    args.out.mkdir(parents=True, exist_ok=True)
    output = os.open(args.out / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    signal.signal(signal.SIGALRM, _on_alarm)
    recorder = Recorder(args.out, f"{args.file}.py")
    sys.path.insert(0, str(args.submission.resolve()))
    os.chdir(args.submission)
    probes.run(args.file, recorder, set(args.skip), unit_only=args.unit_only)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
