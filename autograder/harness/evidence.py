"""Run a submission's file in worker processes and read back what it did.

`collect(file, submission, out)` starts `python -m autograder.runtime.worker` and
watches its log. A worker that outlives a call's budget is killed; a worker
that dies (crash, `os._exit`, killed) is noted against the call it was in.
Either way a new worker resumes with the finished calls skipped, so one
broken function costs only its own tests. `Evidence(out)` then answers the
tests: `ev.result("relu")` is what `relu` returned, or a pytest failure that
says why there is nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import specs
from autograder.core import config, settings
from autograder.core.atomic import replacing
from autograder.core.text import printable
from autograder.harness import sandbox
from autograder.runtime import probes, records

MAX_RESTARTS = 8
# utils.progress lines, with or without the epoch's seconds at the end
PROGRESS = re.compile(r"epoch\s+(\d+)/(\d+)\b(?:.*\((\d+(?:\.\d+)?) s\))?")


ECHO_LINES = 200  # lines of what training prints that are echoed, each cut at ECHO_WIDTH characters
ECHO_WIDTH = 160
HEARTBEAT = 20.0  # seconds without a progress line, in a call, after which one says what still runs
last_progress = [time.monotonic()]  # when the last progress line went out


def progress(line: str) -> None:
    """A line for the person waiting on `make check` or `make grade`, when grade.py gave a pipe for it.

    pytest captures the grader's output, so these lines go to their own file
    descriptor (GRADER_PROGRESS_FD), which grade.py echoes as they come.
    """
    last_progress[0] = time.monotonic()
    fd = settings.text("GRADER_PROGRESS_FD")
    if fd:
        with contextlib.suppress(OSError, ValueError):
            os.write(int(fd), (line + "\n").encode())


class TrainingEcho:
    """Passes on what training prints (its epoch lines, the student's own prints), while it runs.

    The lines are the student's: they go on as printable text (core.text), never as escapes,
    the first ECHO_LINES of them, each cut at ECHO_WIDTH characters; then a count of the rest.
    Of a line redrawn with carriage returns (a progress bar), the last drawing is shown.
    """

    def __init__(self, file: str, out: Path):
        self.file, self.path = file, out / "output.txt"
        self.offset: int | None = None
        self.pending = b""
        self.shown = self.held = 0

    def started(self, entry: dict) -> None:
        self.offset = entry["output_at"] if entry["call"] == "train" else None
        self.pending = b""
        self.shown = self.held = 0
        if self.offset is not None:
            cores = config.threads()
            progress(f"{self.file}.py: training with your defaults (budget: {seconds(entry['budget'])} of CPU time"
                     + (f" on each of {cores} cores" if cores > 1 else "") + ") ...")

    def poll(self) -> None:
        if self.offset is None or not settings.text("GRADER_PROGRESS_FD") or not self.path.exists():
            return
        with open_own(self.path) as f:
            f.seek(self.offset)
            data = f.read(1 << 16)
        self.offset += len(data)
        *lines, self.pending = (self.pending + data).split(b"\n")
        self.pending = self.pending[-(1 << 16):]  # a line that never ends: its tail is enough
        for line in lines:
            drawings = line.decode(errors="replace").split("\r")
            text = next((part.strip() for part in reversed(drawings) if part.strip()), "")
            if not text:
                continue
            if self.shown < ECHO_LINES:
                cut = "..." if len(text) > ECHO_WIDTH else ""
                progress("    " + printable(text[:ECHO_WIDTH], lines=False) + cut)
                self.shown += 1
            else:
                self.held += 1

    def finished(self) -> None:
        self.poll()
        if self.offset is not None and self.held:
            progress(f"    ({self.held} more lines of training's output not shown here; the first "
                     f"{ECHO_LINES} are)")
        self.offset = None


def heartbeat(records: Records) -> None:
    """After HEARTBEAT seconds without a progress line, while a call runs: a line that says
    which, so that no long phase (a slow training, an import, an evaluation) is silent."""
    if records.current is not None and time.monotonic() - last_progress[0] > HEARTBEAT:
        doing = "training" if records.current == "train" else f"the call {records.current!r}"
        progress(f"{records.file}.py: still running: {doing}, {records.cpu_used():.0f} s of CPU "
                 "time so far ...")


def seconds(value: float) -> str:
    """'144 s', or '0.8 s' below 10 s."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def open_own(path: Path):
    """Open one of the grader's own files for reading, never through a link."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb")


def read_log(out: Path) -> list[dict]:
    """The records the grader kept in `out` (its own folder: a worker never writes there)."""
    path = out / "log.jsonl"
    if not path.is_file() or path.is_symlink():
        return []
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except (ValueError, RecursionError):
            continue
    return entries



def save_npz(path: Path, arrays: dict) -> None:
    """np.savez, but byte-for-byte reproducible (fixed timestamps) and written atomically.

    Not compressed: deflating a grading's arrays cost about 0.4 s of one core, for files that live only as long
    as the grading. Not fsynced: it is read back by this grading, and a crash loses the grading anyway.
    """
    with replacing(path, durable=False) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w") as member:
                np.lib.format.write_array(member, np.asarray(arrays[key], order="C"), allow_pickle=False)

# glibc's malloc in the worker. By default its mmap threshold rises with every large block freed, so the
# evaluation chunks of a CNN end up on the heap and fragment it: the peak wanders between about 540 and 575 MB
# from run to run. Blocks of 4 MB and more mapped on their own, and the heap trimmed only past 64 MB, keep
# the CNN worker's peak near 540 MB for about 5 % more training time (measured with the reference).
MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}
# The only variables a worker inherits from the grader (others, GRADER_SALT among them, never reach it).
PASSED_ON = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "GRADER_TRAIN_DEADLINE", "GRADER_CALL_BUDGET",
             "GRADER_THREADS", "GRADER_WORKER_MEMORY_MB", "GRADER_SPEED")


def worker_env(sandbox_env: dict, user) -> dict:
    """The worker's environment: an allowlist of the grader's, plus where its sandbox is."""
    env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1",
               OMP_NUM_THREADS=str(config.threads()), OPENBLAS_NUM_THREADS=str(config.threads()),
               MKL_NUM_THREADS=str(config.threads()), OMP_WAIT_POLICY="PASSIVE", MALLOC_ARENA_MAX="2", **MALLOC,
               **sandbox_env)
    if sandbox.confined() or user is not None:
        env["HOME"] = sandbox.HOME if sandbox.confined() else sandbox_env["GRADER_DATA"]
    if sandbox.confined():
        env.update(MPLCONFIGDIR=sandbox.HOME + "/matplotlib", TMPDIR="/tmp")
    return env


# What the grader accepts from a worker's pipe before it stops believing it.
HEADER_BYTES = 256 << 10  # one record's JSON header (a call's values: lists of floats, short texts)
CALL_BYTES = 48 << 20  # all the frames of one call (a trained model's state, at most STATE_BYTES, and its values)
GRADING_BYTES = 160 << 20  # all the frames of one grading, every worker of every file
MAX_DIMENSION = 1 << 31  # of one axis of an array
KEY = re.compile(r"[A-Za-z0-9_.\-]{1,200}")  # an array's name: probes' keys and state_dict names
# The dtypes a probe's arrays have: booleans, integers, floats, complex numbers, and texts of 1 to 9999 characters.
DTYPE = re.compile(r"\|b1|[<>|]([iu][1248]|f[248]|c(8|16))|[<>|][US][1-9]\d{0,3}")


class ChannelError(Exception):
    """The worker's pipe carried something that is not a record: the code wrote into it, or it was cut short."""


class Allowance:
    """Bytes a grading may still receive from its workers (GRADING_BYTES), shared by all its files' workers."""

    def __init__(self, total: int = GRADING_BYTES):
        self.left = total

    def take(self, nbytes: int) -> None:
        if nbytes > self.left:
            raise ChannelError(f"more than {GRADING_BYTES >> 20} MB in all for one grading")
        self.left -= nbytes


class Records:
    """The grader's side of a worker's pipe: frames in, records kept in `out`, budgets from the grader's table.

    The grader holds the file's plan (probes.plan: every call, in order) and
    accepts exactly that: for the next planned call a start, its arrays, then
    its done. Anything else (a record for another call, a second start, an
    unknown event), a frame that cannot be read, or more bytes than a call or
    the grading may send, ends the channel: the worker is stopped and the call
    charged, with the cause named. So a worker can neither add calls nor make
    a call's clock start again, and every restart moves the plan forward.
    """

    def __init__(self, file: str, out: Path, fd: int, plan: list[str], done: set,
                 allowance: Allowance | None = None):
        self.file, self.out, self.fd = file, out, fd
        self.done = set(done)
        self.pending = [call for call in plan if call not in self.done]  # the calls still to come, in order
        self.allowance = allowance or Allowance()
        self.buffer = bytearray()
        self.current: str | None = None
        self.arrays: dict = {}
        self.call_bytes = 0
        self.broken: str | None = None
        self.new: list[dict] = []  # records accepted since the caller last looked
        self.read_cpu = lambda: 0.0  # CPU-seconds the worker's processes have used so far (watch() sets it)
        self.started_cpu = self.last_cpu = 0.0
        self.started_any = False  # whether this worker started a planned call (else: it broke while importing)

    def expected(self) -> str | None:
        """The call the grader waits on: the one running, else the next planned one (None when all are done)."""
        return self.current or (self.pending[0] if self.pending else None)

    def read(self) -> None:
        """Take in whatever the worker has written so far."""
        while self.broken is None:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buffer += chunk
            try:
                self.parse()
            except ChannelError as e:
                self.broken = str(e)
            except Exception as e:  # noqa: BLE001 - whatever a frame does to the reader, the worker sent it
                self.broken = f"a record the grader could not take ({type(e).__name__})"
            if self.broken is not None:
                self.buffer.clear()
                self.arrays = {}

    def parse(self) -> None:
        """Take every whole frame in the buffer; a partial one waits for its bytes, counted once when whole."""
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "big")
            if size > HEADER_BYTES:
                raise ChannelError(f"a record header of {size} bytes (at most {HEADER_BYTES >> 10} KB)")
            if len(self.buffer) < 4 + size:
                return
            header = decode(bytes(self.buffer[4:4 + size]))
            nbytes = payload_size(header)
            if self.call_bytes + 4 + size + nbytes > CALL_BYTES:
                raise ChannelError(f"more than {CALL_BYTES >> 20} MB for one call")
            if len(self.buffer) < 4 + size + nbytes:
                return
            payload = bytes(self.buffer[4 + size:4 + size + nbytes])
            del self.buffer[:4 + size + nbytes]
            self.allowance.take(4 + size + nbytes)
            self.call_bytes += 4 + size + nbytes
            self.accept(header, payload)

    def accept(self, header: dict, payload: bytes) -> None:
        event, call = header.get("event"), header.get("call")
        if event == "start" and self.current is None and self.pending and call == self.pending[0]:
            self.started_any = True
            output_at = header.get("output_at")
            self.current, self.arrays, self.started_cpu = call, {}, self.cpu()
            self.keep({"event": "start", "call": call, "budget": config.budget(self.file, call),
                       "output_at": self.output_at(output_at)})
        elif event == "array" and self.current is not None and call == self.current:
            key = header.get("key")
            if not isinstance(key, str) or not KEY.fullmatch(key) or key in self.arrays:
                raise ChannelError("an array record without a name of its own")
            self.arrays[key] = to_array(payload, header)
        elif event == "done" and self.current is not None and call == self.current:
            self.finish(header)
        else:
            raise ChannelError(f"a record the grader did not ask for ({describe_record(header)}, while it "
                               f"waited for {self.waiting()})")

    def waiting(self) -> str:
        if self.current is not None:
            return f"the arrays or the end of the call {self.current!r}"
        return f"the start of the call {self.pending[0]!r}" if self.pending else "nothing more"

    def output_at(self, claimed) -> int:
        """Where the call's printed output begins in output.txt: the worker's word, never past what the grader
        sees there (a claim can only make a message read more of the call's own output)."""
        try:
            size = os.stat(self.out / "output.txt").st_size
        except OSError:
            size = 0
        return min(claimed, size) if isinstance(claimed, int) and claimed >= 0 else size

    def finish(self, header: dict) -> None:
        call, ok = self.current, header.get("ok") is True
        entry = {"event": "done", "call": call, "ok": ok,
                 "seconds": header["seconds"] if isinstance(header.get("seconds"), (int, float)) else None,
                 "cpu_seconds": self.cpu_used()}
        if ok:
            values, meta = header.get("values"), header.get("meta")
            values = values if isinstance(values, dict) else {}
            strange = records.unknown(specs.of(self.file).kind.probes, call, [*values, *self.arrays])
            if strange:  # the probes write only their schema's keys: these came from somewhere else
                raise ChannelError(f"a record of {call!r} with keys no record of that call holds "
                                   f"({', '.join(repr(k[:40]) for k in strange[:3])})")
            entry.update(values=values,
                         meta=meta if isinstance(meta, dict) else {}, arrays=sorted(self.arrays))
            if self.arrays:
                save_npz(self.out / f"{call}.npz", self.arrays)
        else:
            error = header.get("error") if isinstance(header.get("error"), dict) else {}
            entry["error"] = {key: str(error.get(key, ""))[:4000] for key in ("type", "message", "where")}
            entry["error"]["type"] = entry["error"]["type"] or "Error"
        self.keep(entry)
        self.close_call(call)

    def fail(self, call: str, why: str) -> None:
        """What the grader saw happen to `call`: the worker died in it, or outran its budget."""
        self.keep({"event": "done", "call": call, "ok": False, "seconds": None, "cpu_seconds": self.cpu_used(),
                   "error": {"type": "WorkerDied", "message": why, "where": ""}})
        self.close_call(call)

    def close_call(self, call: str) -> None:
        self.done.add(call)
        if call in self.pending:
            self.pending.remove(call)
        self.current, self.arrays, self.call_bytes = None, {}, 0

    def cpu(self) -> float:
        """CPU-seconds the worker's processes have used so far: the last reading while they were still there."""
        self.last_cpu = max(self.last_cpu, self.read_cpu())
        return self.last_cpu

    def cpu_used(self) -> float:
        """CPU-seconds the worker has used since the current call started (measured by the grader)."""
        return round(max(self.cpu() - self.started_cpu, 0.0), 2)

    def keep(self, entry: dict) -> None:
        with open(self.out / "log.jsonl", "a") as log:
            log.write(json.dumps(entry) + "\n")
        self.new.append(entry)


MAX_DEPTH = 32  # of nested lists and objects in a header: a probe's values nest three or four deep


def decode(data: bytes) -> dict:
    """A frame's JSON header, or ChannelError: never the parser's own exception (deep nesting, bad text)."""
    if nesting(data) > MAX_DEPTH:
        raise ChannelError(f"a record nested more than {MAX_DEPTH} deep")
    try:
        header = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        raise ChannelError("a record that is not readable JSON") from None
    if not isinstance(header, dict):
        raise ChannelError("a record that is not a JSON object")
    return header


def nesting(data: bytes) -> int:
    """How deep the brackets of a JSON text nest, outside its strings: measured before it is parsed, in linear
    time, so that nothing deeper than MAX_DEPTH ever reaches a recursive parser or writer."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def payload_size(header: dict) -> int:
    """The bytes that follow an array record's header, checked against its dtype and shape; 0 for others."""
    if header.get("event") != "array":
        return 0
    dtype, shape, nbytes = header.get("dtype"), header.get("shape"), header.get("nbytes")
    if not (isinstance(dtype, str) and DTYPE.fullmatch(dtype) and isinstance(shape, list) and len(shape) <= 8
            and all(type(n) is int and 0 <= n < MAX_DIMENSION for n in shape) and type(nbytes) is int):
        raise ChannelError("an array record of a kind the grader does not take")
    if nbytes != math.prod(shape) * np.dtype(dtype).itemsize:
        raise ChannelError("an array record whose size does not match its shape")
    return nbytes


def to_array(payload: bytes, header: dict) -> np.ndarray:
    try:
        return np.frombuffer(payload, dtype=header["dtype"]).reshape(header["shape"])
    except (ValueError, TypeError, MemoryError):
        raise ChannelError("an array record the grader cannot read") from None


def describe_record(header: dict) -> str:
    """A record, in a few words, for a message: its event and call, cut short and made printable."""
    event, call = header.get("event"), header.get("call")
    words = [f"{name} {value!r}"[:60] for name, value in (("event", event), ("call", call)) if value is not None]
    return ", ".join(words).encode("ascii", "backslashreplace").decode() or "no event"


def collect(file: str, submission: Path, out: Path, sandbox_env: dict, unit_only: bool = False,
            evaluate: bool = False, until: float | None = None, allowance: Allowance | None = None) -> None:
    """Run FILE's probes from `submission` in workers until every planned call is recorded.

    `sandbox_env` comes from `sandbox.prepare`: where the worker code and the data are.
    The records and the printed output go into `out`, which only the grader can write.
    `until` is the time (time.monotonic) by which this file must be done, whatever its workers
    write: at that time the worker is stopped, and the call in progress and every call after it
    are charged. `evaluate` runs a fresh worker that only evaluates saved states (probes.EVALUATE).
    """
    sandbox.become_subreaper()
    sandbox.cpu_seconds()  # computed here, not between fork and exec
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, mode=0o700)
    plan = probes.plan(file, unit_only, evaluate)
    allowance = allowance or Allowance()
    done: set = set()
    for _ in range(MAX_RESTARTS):
        if any(e["call"] == "import" and not e["ok"] for e in read_log(out) if e["event"] == "done"):
            return
        records = run_worker(file, submission, out, sandbox_env, plan, done, allowance, until,
                             [*(["--unit-only"] if unit_only else []), *(["--evaluate"] if evaluate else [])])
        done = set(records.done)
        if not records.pending:
            return


def run_worker(file: str, submission: Path, out: Path, sandbox_env: dict, plan: list[str], done: set,
               allowance: Allowance, until: float | None, flags: list[str]) -> Records:
    """One worker, from the first planned call not in `done` until it ends or is stopped; its Records."""
    user = sandbox.student_user()
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    cmd = [sys.executable, "-s", "-m", "autograder.runtime.worker", file, str(submission), "--records-fd",
           str(write_end), *flags, "--skip", *sorted(done)]
    output = os.open(out / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    records = Records(file, out, read_end, plan, done, allowance)
    try:
        # The user's lock and the run folder, for this worker alone; afterwards nothing of it runs.
        with sandbox.worker(user, submission) as preexec:
            proc = subprocess.Popen(sandbox.command(user, cmd, sandbox_env, submission),
                                    cwd=sandbox_env["GRADER_LIB"], env=worker_env(sandbox_env, user),
                                    stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                    start_new_session=True, pass_fds=(write_end,),
                                    preexec_fn=preexec)
            os.close(write_end)
            write_end = None
            try:
                outcome = watch(proc, records, TrainingEcho(file, out), until)
            finally:
                kill(proc)
    finally:
        for fd in (read_end, write_end, output):
            if fd is not None:
                os.close(fd)
    if outcome is not None:
        call, why = outcome
        records.fail(call, why)
        if why == OUT_OF_TIME:
            for later in list(records.pending):
                records.fail(later, f"not run: {OUT_OF_TIME}")
        elif records.broken is not None and not records.started_any:
            # It broke the channel before any call began: the file's own code does it whenever it is loaded,
            # so every restart would end the same way.
            for later in list(records.pending):
                records.fail(later, f"not run: when {file}.py is imported, its code writes into the grader's "
                                    f"record channel ({records.broken})")
    return records


OUT_OF_TIME = ("this file's share of the grading's time ran out (config.GRADING_DEADLINE), so the grader "
               "stopped its worker")


def watch(proc: subprocess.Popen, records: Records, echo: TrainingEcho | None = None,
          until: float | None = None):
    """Wait for the worker. None when it finished its plan; else (call to charge, what happened).

    A call is stopped when its worker's processes have used its CPU budget
    (config.cpu_budget, from the grader's own table) and config.GRACE more, or, for
    code that waits instead of computing, after WALL_FACTOR times its budget
    in wall-clock time. Every clock here is the grader's own, started when the
    grader accepts a call's start; and the whole file stops at `until`.
    """
    deadline, cpu_limit, checked = time.monotonic() + config.IDLE, None, 0.0
    user = sandbox.student_user()  # one worker at a time runs as it (sandbox.exclusive): all its CPU is this one's
    records.read_cpu = lambda: sandbox.tree_cpu_seconds(proc.pid, user.pw_uid if user else None)
    echo = echo or TrainingEcho("", records.out)
    while True:
        code = proc.poll()
        records.read()
        for e in records.new:
            if e["event"] == "start":
                deadline = time.monotonic() + e["budget"] * config.WALL_FACTOR + config.GRACE
                cpu_limit = records.started_cpu + e["budget"] * config.threads() + config.GRACE
                echo.started(e)
            else:
                deadline, cpu_limit = time.monotonic() + config.IDLE, None
                echo.finished()
        records.new.clear()
        echo.poll()
        heartbeat(records)
        expected = records.expected()
        if records.broken is not None:
            kill(proc)
            return expected, (f"the worker sent malformed data: {records.broken} came through the grader's "
                              "record channel, so the grader stopped the worker and charged this call")
        if code is not None:
            records.read()
            if records.new or records.broken is not None:
                continue
            if records.expected() is None:
                return None  # every planned call is recorded
            return expected, died(code, records.current is not None)
        if until is not None and time.monotonic() > until:
            kill(proc)
            return expected, OUT_OF_TIME
        if cpu_limit is not None and records.current is not None and time.monotonic() - checked > 0.5:
            checked = time.monotonic()
            if records.cpu() > cpu_limit:
                kill(proc)
                return expected, (f"used more than its budget of CPU time ({records.cpu_used():.0f} CPU-seconds) "
                                  "and did not stop when interrupted, so it was killed")
        if time.monotonic() > deadline:
            kill(proc)
            if records.current is None:
                return expected, (f"the worker did nothing for {config.IDLE:.0f} s before this call started "
                                  "(code at import, or a thread, that waits?), so it was stopped")
            return expected, (f"did not finish within {config.WALL_FACTOR:g} times its budget in wall-clock "
                              "time, mostly waiting rather than computing (sleep, input(), a lock?), so it was "
                              "killed")
        select.select([records.fd], [], [], 0.05)


def died(code: int, in_call: bool = True) -> str:
    """How a worker that ended by itself with calls still to come ended, for the call it owed."""
    if sandbox.confined() and code > 128:  # bubblewrap exits with 128 + the signal that killed the worker
        code = 128 - code
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    how = f"exited with status {code}" if code >= 0 else f"was killed by signal {name}"
    if code == -signal.SIGXFSZ:
        how += f" (the code printed or wrote more than {sandbox.FILE_BYTES >> 20} MB)"
    elif code == -signal.SIGXCPU:
        how += f" (it used more than {sandbox.cpu_seconds()} s of CPU time)"
    elif code == -signal.SIGKILL:
        how += " (most often because the machine ran out of memory)"
    if not in_call:
        return f"the process running the code {how} between two calls, before this one started"
    return f"the process running it {how} before the call returned (sys.exit, os._exit or a crash?)"


def kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------------- reading

class Result:
    """One recorded call that returned: json values, arrays and their metadata."""

    def __init__(self, entry: dict, out: Path, probes: str | None = None):
        self.call, self.probes = entry["call"], probes  # the call's schema (runtime/records.py), where known
        self.values, self.meta, self.seconds = entry["values"], entry["meta"], entry["seconds"]
        self.cpu_seconds = entry.get("cpu_seconds")  # measured by the grader, from /proc: not reported by the worker
        self.arrays = {}
        if entry["arrays"]:
            with np.load(out / f"{entry['call']}.npz", allow_pickle=False) as npz:
                self.arrays = {k: npz[k] for k in npz.files}

    def __getitem__(self, key):
        if self.probes is not None:
            records.check(self.probes, self.call, key)  # a key the call never records: the grader's bug
        if key in self.arrays:
            return self.arrays[key]
        return self.values[key]

    def get(self, key, default=None):
        try:
            return self[key]  # which checks the key against the call's schema (SchemaError is no KeyError)
        except KeyError:
            return default


class Evidence:
    """Everything one worker run recorded, for one file."""

    def __init__(self, file: str, out: Path, missing: str | None = None):
        self.file, self.out, self.missing = file, out, missing
        self.probes = specs.of(file).kind.probes if file in specs.BY_FILE else None
        self.entries = {e["call"]: e for e in read_log(out) if e["event"] == "done"} if missing is None else {}

    def preload(self) -> Evidence:
        """Read every recorded array now, so that nothing is read from disk after student code has run."""
        self.loaded = {call: Result(e, self.out, self.probes) for call, e in self.entries.items() if e["ok"]}
        return self

    def failure(self, call: str, what: str) -> str | None:
        """Why `call` has no result, or None when it has one."""
        if self.missing:
            return self.missing
        imp = self.entries.get("import")
        if imp is not None and not imp["ok"]:
            return f"{self.file}.py could not be imported, so {what} could not be tested: {describe(imp['error'])}"
        entry = self.entries.get(call)
        if entry is None:
            return f"{what} was never reached: the grader stopped before it (see the other failures of {self.file})"
        if entry["ok"]:
            return None
        err = entry["error"]
        if err["type"] == "NotImplementedError":
            place = f" ({err['where'].split(':')[0]})" if err.get("where") else ""
            return (f"{what} is not implemented yet: {err['message'] or 'a function'} still raises "
                    f"NotImplementedError{place}. Fill in its YOUR CODE HERE region.")
        if err["type"] == "Skipped":
            return f"{what} was not tested: {err['message']}"
        if err["type"] in ("Timeout", "WorkerDied") and call == "train" and "budget" in err["message"]:
            return self.too_slow(err["message"])
        return f"{what} raised {describe(err)}"

    def too_slow(self, why: str = "") -> str:
        """The message for training that outran its budget, with the pace read from the progress lines."""
        budget, cores = config.TRAIN_BUDGET[self.file], config.threads()
        used = (self.entries.get("train") or {}).get("cpu_seconds")
        if "wall-clock" in why:  # it waited rather than computed: the CPU budget was never reached
            message = f"training {why.split(', so it was killed')[0]}, so it was stopped"
        else:
            message = f"training was stopped at its budget of {seconds(budget)} of CPU time"
            message += f" on each of the {cores} cores it is given" if cores > 1 else ""
        message += f" (it used {seconds(used)} of CPU time)" if used else ""
        epochs = PROGRESS.findall(self.printed("train"))
        if len(epochs) > 1 and len({done for done, _, _ in epochs}) == 1:
            return (message + f". It printed epoch {epochs[0][0]}/{epochs[0][1]} {len(epochs)} times: the epoch "
                    "counter never advances, so the loop cannot end. Check the loop over epochs.")
        if epochs:
            done, total, pace = epochs[-1]
            message += f" after {done} of {total} epochs"
            if pace:
                message += f", at about {float(pace):.0f} s per epoch ({float(pace) * int(total):.0f} s for all {total})"
                if float(pace) * int(total) <= budget * cores * (1 + config.BAND):
                    message += (f". That is within {config.BAND:.0%} of the budget, so on another machine "
                                "(Gradescope) the verdict may differ")
        else:
            message += ("; it printed no utils.progress line, the only epoch count the grader reads while "
                        "training runs, so how many epochs it finished is unknown")
        return message + ". Use fewer epochs, a larger batch or a smaller model, so that training fits the budget."

    def printed(self, call: str) -> str:
        """What the student code printed from the last start of `call` on."""
        path = self.out / "output.txt"
        starts = [e for e in read_log(self.out) if e["event"] == "start" and e["call"] == call]
        if not path.exists() or not starts:
            return ""
        with open_own(path) as f:
            f.seek(starts[-1].get("output_at", 0))
            return f.read(1 << 20).decode(errors="replace")

    def result(self, call: str, what: str | None = None) -> Result:
        """The recorded result of `call`, or a failed test that says why there is none."""
        why = self.failure(call, what or call)
        if why:
            pytest.fail(why, pytrace=False)
        loaded = getattr(self, "loaded", {})
        return loaded[call] if call in loaded else Result(self.entries[call], self.out, self.probes)


OUT_OF_MEMORY = (f"out of memory: a worker may use {sandbox.MEMORY_BYTES >> 20} MB here, and a whole grading 768 MB "
                 "on Gradescope; predict and evaluate large sets in mini-batches, and keep no copies of the data")
SHARED_DATA = ("a DataLoader's workers started by spawn or forkserver receive the whole dataset "
               f"through shared memory, more than the {sandbox.FILE_BYTES >> 20} MB a worker may "
               "write: leave the start method alone (fork, Linux's) or use num_workers=0")
NO_GPU = ("the grader has no GPU: pick the device with torch.cuda.is_available(), or leave the model and the data "
          "on the CPU")
HINTS = {  # what a message means for a student, where it is not obvious
    "File too large": f"the code printed or wrote more than {sandbox.FILE_BYTES >> 20} MB",
    "Resource temporarily unavailable": "the code started too many processes or threads",
    "unable to resize file": SHARED_DATA,
    "out of shared memory": SHARED_DATA,
    "Network is unreachable": "grading runs without network",
    "Connection refused": "grading runs without network",
    "Name or service not known": "grading runs without network",
    "Temporary failure in name resolution": "grading runs without network",
    "shapes cannot be multiplied": ("the layer sizes set in __init__ do not fit together: each nn.Linear's "
                                    "in_features must be the number of values that reach it (784 for a flat "
                                    "image; after convolutions, channels x height x width)"),
    "can't allocate memory": OUT_OF_MEMORY,
    "Unable to allocate": OUT_OF_MEMORY,
    "NVIDIA driver": NO_GPU,
    "not compiled with CUDA": NO_GPU,
}
TYPE_HINTS = {  # likewise, by the exception's type
    "BdbQuit": "a breakpoint() or pdb call is left in the code; the grader runs it without a terminal: remove it",
    "MemoryError": OUT_OF_MEMORY,
    "ModuleNotFoundError": ("only the graded file itself runs, with NumPy, PyTorch, torchvision, matplotlib, the "
                            "standard library and the course's utils.py: put helper code of your own inside the file"),
}


def describe(error: dict) -> str:
    text = f"{error['type']}: {error['message']}" if error["message"] else error["type"]
    hints = [hint for key, hint in HINTS.items() if key in error["message"]]
    hints += [TYPE_HINTS[error["type"]]] if error["type"] in TYPE_HINTS else []
    text += "".join(f" ({hint})" for hint in dict.fromkeys(hints))
    if error.get("where"):
        text += f" (at {error['where']})"
    return text
