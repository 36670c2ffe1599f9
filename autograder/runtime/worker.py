"""Run one student file's probes in this process and record what they return.

    python -m autograder.runtime.worker FILE SUBMISSION_DIR --records-fd FD [--skip CALL ...]

This is the only code that imports a submission. The grader starts it as a
separate process (see `evidence.py`) and never imports student code itself.

Protocol: the worker writes frames to a pipe the grader created and reads
(`--records-fd`), never to a file: what the grader reads is what arrived, in
order, and nothing can be changed or linked after the fact. A frame is a
4-byte big-endian header length, a JSON header, and for an array its raw
bytes (`"nbytes"` of them):
- `{"event": "start", "call", "output_at"}` before each call;
- `{"event": "array", "call", "key", "dtype", "shape", "nbytes"}` + bytes for
  each array a call returned;
- `{"event": "done", "call", "ok", ...}` after it.
Printed output goes to stdout and stderr, a file the grader opened.

Each call runs under a budget of CPU time, enforced with ITIMER_PROF; the
grader also kills a worker whose processes outlive it (by the CPU time it
reads from /proc, against its own table, config.cpu_budget), and
restarts it with the finished calls skipped, so one hanging function costs
only its own tests. Student code runs in this process, so it can write
frames too: the grader believes only the first record of each call, and
judges values, not claims.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import sys
import time
import traceback
from pathlib import Path

import numpy as np


class BudgetExceeded(BaseException):
    """Raised by SIGPROF inside student code. A BaseException, so `except Exception` does not swallow it."""


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
            meta[key] = {"type": kind.removeprefix("builtins.")}  # what it is, for a message: list, NoneType, ...
            values[key] = v
    return values, arrays, meta


class Recorder:
    def __init__(self, fd: int, filename: str):
        self.fd, self.filename = fd, filename

    def frame(self, header: dict, payload: bytes | memoryview = b"") -> None:
        data = json.dumps(header, default=repr).encode()
        view = memoryview(struct.pack(">I", len(data)) + data)
        for chunk in (view, memoryview(payload).cast("B")):
            while len(chunk):
                chunk = chunk[os.write(self.fd, chunk):]

    def write(self, **entry):
        self.frame(entry)

    def send_arrays(self, call: str, arrays: dict) -> None:
        for key in sorted(arrays):
            a = np.asarray(arrays[key], order="C")  # keeps a 0-d array 0-d (ascontiguousarray makes it 1-d)
            self.frame({"event": "array", "call": call, "key": key, "dtype": a.dtype.str, "shape": list(a.shape),
                        "nbytes": a.nbytes}, a.data if a.nbytes else b"")

    def run(self, call: str, probe, budget: float):
        sys.stdout.flush()
        sys.stderr.flush()
        # Where this call's printed output begins: a message about the call reads only what it printed.
        self.write(event="start", call=call, output_at=os.fstat(1).st_size)
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_PROF, budget)  # CPU time of this process, all its threads
        try:
            value = probe()
        except BudgetExceeded as e:
            signal.setitimer(signal.ITIMER_PROF, 0)
            error = {"type": "Timeout", "message": f"did not finish within its budget of {budget:.0f} s of CPU time",
                     "where": where(e.__traceback__, self.filename)}
        except BaseException as e:  # noqa: BLE001 - student code may raise anything, SystemExit included
            signal.setitimer(signal.ITIMER_PROF, 0)
            error = {"type": type(e).__name__, "message": str(e)[:2000], "where": where(e.__traceback__, self.filename)}
        else:
            signal.setitimer(signal.ITIMER_PROF, 0)
            values, arrays, meta = to_record(value or {})
            self.send_arrays(call, arrays)
            self.write(event="done", call=call, ok=True, seconds=time.perf_counter() - started,
                       values=values, arrays=sorted(arrays), meta=meta)
            return value
        self.write(event="done", call=call, ok=False, seconds=time.perf_counter() - started, error=error)
        return None


def fork_by_default() -> None:
    """On Linux, child processes start by fork unless student code asks otherwise, as up to 3.13.

    Python 3.14 starts them by forkserver: a DataLoader's workers (num_workers=2) would then
    receive the whole dataset through shared memory, 172 MB for the training set, over the size
    of a file a worker may write (sandbox.FILE_BYTES) and of a confined worker's /dev/shm. By
    fork they inherit it.
    """
    import multiprocessing

    if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods():
        multiprocessing.set_start_method("fork", force=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="numpy_ann, pytorch_ann or pytorch_cnn")
    parser.add_argument("submission", type=Path, help="folder holding FILE.py")
    parser.add_argument("--records-fd", type=int, required=True, help="the pipe for the records")
    parser.add_argument("--skip", nargs="*", default=[], help="calls already recorded")
    parser.add_argument("--unit-only", action="store_true", help="skip training (for expected values)")
    parser.add_argument("--evaluate", action="store_true", help="a fresh worker: evaluate saved states only")
    args = parser.parse_args(argv)

    from autograder.runtime import datacache, probes  # after argument parsing: utils must come from the grader

    datacache.seed_font_list(os.environ.get(probes.DATA_ENV, "."))

    signal.signal(signal.SIGPROF, _on_alarm)
    fork_by_default()
    recorder = Recorder(args.records_fd, f"{args.file}.py")
    sys.path.insert(0, str(args.submission.resolve()))
    os.chdir(args.submission)
    probes.run(args.file, recorder, set(args.skip), unit_only=args.unit_only, evaluate=args.evaluate)
    return 0


def leave(code: int) -> None:
    """Exit at once, once printed output is out. Python's own shutdown, with torch loaded, takes about 0.6 s of
    the student's wait and runs nothing the grader needs: the records went out as they were written, and any
    atexit hook or finaliser is student code the grader has no reason to run."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed or replaced by student code
            pass
    os._exit(code)


if __name__ == "__main__":
    leave(main())
