"""Grade many submissions at once: one child grader per submission, each with its own sandbox user, stopped at
its timeout; results kept per submission, so an interrupted batch resumes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder import ROOT, grade
from autograder.batch.accounts import Scratch, release, sandbox_users
from autograder.batch.submissions import METADATA, Submission
from autograder.core import config, settings
from autograder.core.atomic import write_json_atomically
from autograder.core.text import printable
from autograder.harness import expected, intake, sandbox
from autograder.suite.results import error_results

DEFAULT_TIMEOUT = settings.VARIABLES["GRADE_TIMEOUT"].default


class ThreadOutput(io.TextIOBase):
    """sys.stdout while grading: what a grading thread prints is kept for its submission, not shown."""

    def __init__(self, default):
        self.default, self.local = default, threading.local()

    def write(self, text: str) -> int:
        return getattr(self.local, "buffer", self.default).write(text)

    def flush(self) -> None:
        getattr(self.local, "buffer", self.default).flush()


def fingerprint(sub: Submission) -> str:
    """A digest of the files that grading takes from the submission: a changed submission is graded again."""
    digest = hashlib.sha256()
    found = intake.find_files(sub.path)
    for name in sorted(found):
        data, _ = intake.read_regular(found[name], intake.limit(name), sub.path)
        digest.update(name.encode() + b"\0" + (data or b""))
    return digest.hexdigest()


def finish(sub: Submission, results: dict, status: str, reason: str, started: float) -> dict:
    """`results` with grade-all's record; its reason may quote a folder's name or printed output."""
    results.setdefault("extra_data", {})["grade_all"] = {
        "status": status, "reason": printable(reason),
        "seconds": round(time.monotonic() - started, 1),
        "fingerprint": fingerprint(sub)}
    return results


def batch_info(results: dict) -> dict:
    """What grade-all recorded of a submission: status, reason, seconds and the fingerprint of its files."""
    return results.get("extra_data", {}).get("grade_all", {})


def grade_one(sub: Submission, expected_dir: Path, timeout: float, threads: int, user: str) -> dict:
    """Grade one submission as `make grade` does; its results.json, with grade-all's record in "extra_data"."""
    started = time.monotonic()
    if not sub.path.is_dir():
        why = f"{METADATA} lists {sub.key}, but its folder is missing from the export"
        return finish(sub, error_results(why), "empty", why, started)
    if not intake.find_files(sub.path):
        held = "the folder is empty" if not any(sub.path.rglob("*")) else intake.listing(sub.path)
        names = ", ".join(intake.EXPECTED + intake.NOTEBOOKS)
        why = f"nothing to grade: none of {names} is there ({held})"
        return finish(sub, error_results(why), "empty", why, started)
    stdout = sys.stdout if isinstance(sys.stdout, ThreadOutput) else None
    if stdout:
        stdout.local.buffer = io.StringIO()  # what run_suite prints about a failed suite
    scratch = None
    try:
        scratch = Scratch.make(user)
        results = scratch.results / "results.json"
        env = {"TMPDIR": str(scratch.tmp), "GRADER_THREADS": str(threads), "GRADER_STUDENT_USER": user}
        code = grade.run_suite(sub.path.resolve(), results, expected=expected_dir, timeout=timeout, env=env)
        if code is None:
            sandbox.stop_user(user)
            why = f"grading took longer than {timeout:g} s and was stopped: does the code hang?"
            return finish(sub, error_results(why), "timeout", why, started)
        if not results.exists():
            printed = stdout.local.buffer.getvalue() if stdout else ""
            why = f"the grading suite failed (pytest exit status {code}) {' '.join(printed.split()[-60:])}".strip()
            return finish(sub, error_results(why), "error", why, started)
        return finish(sub, json.loads(results.read_text()), "graded", "", started)
    except Exception as e:  # whatever goes wrong costs this submission only
        why = f"grader error: {type(e).__name__}: {e}"
        return finish(sub, error_results(why), "error", why, started)
    finally:
        sandbox.stop_user(user)  # nothing of this grading outlives it, to write into its folders or the next grading's
        if scratch is not None:
            scratch.remove()
        if stdout:
            del stdout.local.buffer


def real_folder(folder: Path) -> Path:
    """`folder`, a folder of our output: a symlink planted there is removed (never followed), then it is made."""
    if folder.is_symlink():
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_json(path: Path) -> dict:
    """A JSON file of our output, read neither through a symlinked file nor a symlinked folder."""
    if path.parent.is_symlink():
        raise OSError(f"{path.parent} is a symlink")
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)) as f:
        return json.load(f)


def save_results(out: Path, sub: Submission, results: dict) -> None:
    """<out>/<submission>/results.json, written atomically, replacing (not following) a symlink found there."""
    write_json_atomically(real_folder(out / sub.key) / "results.json", results)


def is_graded(out: Path, sub: Submission) -> bool:
    """Whether `out` holds results for the submission as it is now (the same files)."""
    try:
        results = read_json(out / sub.key / "results.json")
        return "tests" in results and batch_info(results)["fingerprint"] == fingerprint(sub)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def kill_children() -> None:
    """Kill the grading processes this process started (each leads its own process group)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """One line per finished submission: a bar, the count done, the submission's score, the time left."""

    def __init__(self, total: int, width: int = 30):
        self.total, self.width, self.done, self.started = total, width, 0, time.monotonic()

    def line(self, sub: Submission, results: dict) -> str:
        self.done += 1
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        info = batch_info(results)
        top = sum(t["max_score"] for t in results["tests"])
        what = f"{results['score']:g}/{top:g}" if info["status"] == "graded" else info["status"]
        eta = f"~{duration(left)} left" if self.done < self.total else f"done in {duration(elapsed)}"
        key = printable(sub.key, lines=False)  # a folder's name may hold a newline or an escape
        return f"[{bar}] {self.done}/{self.total}  {eta}  | {key}: {what} ({info['seconds']:.0f} s)"


def grade_many(todo: list[Submission], out: Path, jobs: int, timeout: float) -> None:
    """Grade `todo` with `jobs` graders at once, writing each results.json as soon as it is done."""
    expected_dir = expected.ensure()
    if jobs > 1 and sandbox.is_root() and not sandbox.acls_work(ROOT):
        print("This filesystem has no POSIX ACLs, so the grader's folders are closed by chmod while a submission "
              "is graded; overlapping gradings would reopen them for each other. Grading one at a time.", flush=True)
        jobs = 1
    users = sandbox_users(jobs)
    threads = config.threads()
    print(f"Grading {len(todo)} submission(s), {jobs} at a time ({threads} thread(s) each), at most "
          f"{timeout:g} s each ...", flush=True)
    free: queue.SimpleQueue = queue.SimpleQueue()
    for user in users:
        free.put(user)
    stopping = threading.Event()

    def task(sub: Submission) -> dict | None:
        if stopping.is_set():
            return None
        user = free.get()
        try:
            results = grade_one(sub, expected_dir, timeout, threads, user)
        finally:
            free.put(user)
        if stopping.is_set():
            return None  # interrupted: not written, so that the next run grades it again
        save_results(out, sub, results)
        return results

    progress = Progress(len(todo))
    real_stdout = sys.stdout
    pool = ThreadPoolExecutor(jobs)
    sys.stdout = ThreadOutput(real_stdout)
    try:
        futures = {pool.submit(task, sub): sub for sub in todo}
        for future in as_completed(futures):
            print(progress.line(futures[future], future.result()), flush=True)
        pool.shutdown()
    except KeyboardInterrupt:
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        kill_children()
        for user in users:
            sandbox.stop_user(user)
        pool.shutdown()
        raise
    finally:
        sys.stdout = real_stdout
        release(users)
