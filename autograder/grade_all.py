"""`make grade-all`: grade a whole class, several submissions at a time, and report on it.

    python -m autograder.grade_all SUBMISSIONS [--out grades] [--force] [--jobs N] [--timeout SECONDS]

SUBMISSIONS holds one sub-folder per student, or is Gradescope's "Export
Submissions" download: submission_metadata.yml and one folder per submission
(the folder that holds them both, or the one above it). Each submission is
graded exactly as `make grade` grades one: a child pytest process whose
workers run the student's code in the sandbox. `--jobs` of them (GRADE_JOBS;
default one per core) run at once, each with its own sandbox user (one that
no other grading, of this batch or of another grade-all, uses meanwhile), and
each is stopped after `--timeout` seconds (GRADE_TIMEOUT; default 900). A
submission that is empty, breaks the grader or runs out of time gets its row
with the reason; the batch goes on.

Each grading also gets two fresh folders from tempfile.mkdtemp, removed when
it ends: a private one (0700, the grader's alone) where its results.json is
written and read back, and its TMPDIR, open to its own sandbox user alone. No
name in them is predictable, and no grading, and no student's leftover
process, can reach another grading's folders.

The output folder (default grades/) receives
- <submission>/results.json: Gradescope's results.json for that submission,
  with its status (graded, empty, timeout, error), the reason and the
  seconds it took under "extra_data" (the top-level key Gradescope's format
  keeps for data of one's own) -> "grade_all";
- grades.csv: one row per student: status, reason, total, the three test
  accuracies and every test's score;
- report.md: the distribution of totals, the pass rate of every test from
  the hardest, the most common failure messages and the spread of the
  accuracies; report.png: a histogram of totals and the pass rates.
Every one of them is written atomically (a mkstemp file beside it, then
os.replace), which replaces a symlink found in its place instead of writing
through it. A submission whose results.json is already there, for the same
files, is skipped unless --force (FORCE=1): an interrupted batch resumes where
it stopped, and a submission whose files changed is graded again.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import grp
import hashlib
import io
import json
import os
import pwd
import queue
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder import config, expected, grade, intake, sandbox, settings
from autograder.atomic import write_bytes_atomically, write_json_atomically, write_text_atomically
from autograder.results import error_results, in_order, number_key

ROOT = Path(__file__).resolve().parent.parent
METADATA = "submission_metadata.yml"
# Leaderboard names of the three test accuracies, as the accuracy tests report them.
ACCURACIES = {"numpy_ann": "NumPy ANN accuracy", "pytorch_ann": "PyTorch ANN accuracy",
              "pytorch_cnn": "PyTorch CNN accuracy"}
TESTS = in_order(config.POINTS)
DEFAULT_TIMEOUT = settings.VARIABLES["GRADE_TIMEOUT"].default


class InputError(Exception):
    """The submissions folder is not one this tool can grade; the message says why."""


@dataclass
class Submission:
    key: str  # the name of its folder, here and in the output folder
    path: Path
    students: list[dict] = field(default_factory=list)  # {"name", "email", "sid"}, from Gradescope's metadata


# --------------------------------------------------------------------------- input

def read_metadata(path: Path) -> dict[str, list[dict]]:
    """Submission folder -> its submitters ({"name", "sid", "email"}, as text), from Gradescope's submission_metadata.yml.

    Its keys are Ruby symbols, which YAML reads as text with a leading colon: each submission's
    `:submitters:` lists `- :name: ...`, `:sid: ...`, `:email: ...`. Whatever else it holds is ignored.
    """
    try:
        data = yaml.safe_load(path.read_text(errors="replace"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path} is not readable YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} is not Gradescope's submission metadata: it should map each submission's folder "
                         "to its submitters")
    out: dict[str, list[dict]] = {}
    for key, entry in data.items():
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        out[str(key)] = []
        for person in submitters if isinstance(submitters, list) else []:
            if isinstance(person, dict):  # `:sid: 1001`, unquoted, is read as a number: every value becomes text
                out[str(key)].append({str(name).lstrip(":"): "" if value is None else str(value)
                                      for name, value in person.items()})
    return out


def folders(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def discover(path: Path, out: Path | None = None) -> tuple[Path, list[Submission]]:
    """(the folder graded, its submissions): one per sub-folder but `out`, with Gradescope's submitters if known."""
    if not path.exists():
        raise InputError(f"the submissions folder {path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder: give the folder that holds one sub-folder per student "
                         "(unzip Gradescope's export first)")
    if not (path / METADATA).is_file():
        inner = [p for p in folders(path) if (p / METADATA).is_file()]
        path = inner[0] if len(inner) == 1 else path
    metadata = read_metadata(path / METADATA) if (path / METADATA).is_file() else {}
    odd = [key for key in metadata if key in ("", ".", "..") or "/" in key or "\0" in key]
    if odd:  # the name of its folder in the output folder, too: never a path elsewhere
        raise InputError(f"{path / METADATA} lists a submission {odd[0]!r}, which is no folder name")
    skip = out.resolve() if out else None
    subs = {p.name: Submission(p.name, p, metadata.get(p.name, [])) for p in folders(path) if p.resolve() != skip}
    for key, students in metadata.items():
        subs.setdefault(key, Submission(key, path / key, students))  # listed, but its folder is missing
    if not subs:
        raise InputError(f"{path} holds no sub-folder: it should hold one folder per student, or be Gradescope's "
                         f"export ({METADATA} and one folder per submission)")
    return path, [subs[key] for key in sorted(subs)]


# ------------------------------------------------------------------------- grading

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
    results.setdefault("extra_data", {})["grade_all"] = {
        "status": status, "reason": reason, "seconds": round(time.monotonic() - started, 1),
        "fingerprint": fingerprint(sub)}
    return results


def batch_info(results: dict) -> dict:
    """What grade-all recorded of a submission: status, reason, seconds and the fingerprint of its files."""
    return results.get("extra_data", {}).get("grade_all", {})


def sandbox_account(user: str) -> pwd.struct_passwd | None:
    """The sandbox user `user` whose workers will use a grading's TMPDIR; None when not root (no user switch)."""
    if not sandbox.is_root():
        return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


def grant_acl(path: Path, uid: int) -> bool:
    """Give `path` an access ACL: its owner and `uid` may do everything, nobody else anything."""
    every = 0xFFFFFFFF  # ACL_UNDEFINED_ID
    entries = [(0x01, 7, every), (0x02, 7, uid), (0x04, 0, every), (0x10, 7, every), (0x20, 0, every)]
    data = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", data, follow_symlinks=False)
        return True
    except OSError:
        return False


def own_group(account: pwd.struct_passwd) -> bool:
    """Whether `account`'s primary group holds that user alone (no other user has it, as primary or extra)."""
    try:
        if grp.getgrgid(account.pw_gid).gr_mem:
            return False
    except KeyError:
        return False
    return all(other.pw_gid != account.pw_gid or other.pw_uid == account.pw_uid for other in pwd.getpwall())


def open_to(path: Path, account: pwd.struct_passwd) -> None:
    """Let `account` alone (and root) use the folder `path`, which root created: a TMPDIR for its workers.

    Sticky, as /tmp is: the sandbox user may add its own files but neither rename nor delete the grader's.
    By an ACL entry for that user, or where the filesystem has no ACLs, by that user's own group.
    """
    os.chmod(path, 0o1700)  # the folder is ours (mkdtemp): nobody can have swapped it for a symlink
    if grant_acl(path, account.pw_uid):
        return
    if not own_group(account):
        raise OSError(f"cannot open {path} to {account.pw_name} alone: the filesystem takes no ACLs and the group "
                      f"{account.pw_gid} is not that user's own")
    os.chown(path, -1, account.pw_gid)
    os.chmod(path, 0o1770)


@dataclass
class Scratch:
    """The folders of one grading, both fresh from tempfile.mkdtemp (unpredictable names), removed afterwards.

    results: where the grading suite writes results.json; 0700, the grader's alone: no sandbox user enters it.
    tmp: the grading's TMPDIR, for the grader and for its workers, which run as its sandbox user: open to that
    user alone (not to other gradings' users, not to everyone as /tmp is).
    """
    results: Path
    tmp: Path

    @classmethod
    def make(cls, user: str) -> Scratch:
        results = Path(tempfile.mkdtemp(prefix="grade-all-results-"))
        try:
            tmp = Path(tempfile.mkdtemp(prefix="grade-all-tmp-"))
        except BaseException:
            shutil.rmtree(results, ignore_errors=True)
            raise
        scratch = cls(results, tmp)
        try:
            account = sandbox_account(user)
            if account is not None:
                open_to(tmp, account)
        except BaseException:
            scratch.remove()
            raise
        return scratch

    def remove(self) -> None:
        # Folders we made ourselves, in place: rmtree removes symlinks found inside, never what they point to.
        for folder in (self.results, self.tmp):
            shutil.rmtree(folder, ignore_errors=True)


def grade_one(sub: Submission, expected_dir: Path, timeout: float, threads: int, user: str) -> dict:
    """Grade one submission as `make grade` does; its results.json, with grade-all's record in "extra_data"."""
    started = time.monotonic()
    if not sub.path.is_dir():
        why = f"{METADATA} lists {sub.key}, but its folder is missing from the export"
        return finish(sub, error_results(why), "empty", why, started)
    if not intake.find_files(sub.path):
        held = "the folder is empty" if not any(sub.path.rglob("*")) else intake.listing(sub.path)
        why = f"nothing to grade: none of {', '.join(intake.EXPECTED)} is there ({held})"
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


CLAIMS: dict[str, int] = {}  # sandbox user -> the open lock file by which this process holds it


def claim(user: str) -> bool:
    """As root: hold `user` for this batch alone, by a lock on a file of root's (released when the batch ends)."""
    try:
        fd = os.open(sandbox.LOCKS / f"autograder-batch-{user}.lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return False  # a symlink or a file we may not open, planted there: take another user
    try:
        if os.fstat(fd).st_uid == os.geteuid():  # not a file someone else made, to hold the lock from outside
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            CLAIMS[user] = fd
            return True
    except OSError:
        pass  # another batch (another grade-all) grades with this user now
    os.close(fd)
    return False


def release(users: list[str]) -> None:
    for user in users:
        fd = CLAIMS.pop(user, None)
        if fd is not None:
            os.close(fd)


def claim_users(jobs: int, tries: int = 100) -> list[str]:
    """`jobs` sandbox user names, grader-student-<n>; as root, ones no other batch running now holds.

    Within a batch, a user is lent to one grading at a time (grade_many); across batches, the claims keep
    two grade-alls on one machine from sharing a user (and from killing each other's workers).
    """
    users: list[str] = []
    for n in range(1, jobs + tries + 1):
        if len(users) == jobs:
            break
        user = f"{sandbox.USER}-{n}"
        if not sandbox.is_root() or claim(user):
            users.append(user)
    if len(users) < jobs:
        release(users)
        raise InputError(f"could not find {jobs} sandbox user(s) free of other gradings under {sandbox.LOCKS}")
    return users


def sandbox_users(jobs: int) -> list[str]:
    """One sandbox user per parallel grader; as root, each is claimed and created now, one after the other."""
    users = claim_users(jobs)
    if sandbox.is_root():
        for user in users:
            done = subprocess.run([sys.executable, "-c", "from autograder import sandbox; sandbox.student_user()"],
                                  cwd=ROOT, env=dict(os.environ, GRADER_STUDENT_USER=user), capture_output=True,
                                  text=True)
            if done.returncode:
                release(users)
                raise InputError(f"could not create the sandbox user {user}: {done.stderr.strip()[-500:]}")
            try:
                Scratch.make(user).remove()  # its TMPDIR can be opened to it alone
            except OSError as e:
                release(users)
                raise InputError(str(e)) from e
    return users


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
        return f"[{bar}] {self.done}/{self.total}  {eta}  | {sub.key}: {what} ({info['seconds']:.0f} s)"


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


# ------------------------------------------------------------------------- reports

def rows(subs: list[Submission], out: Path) -> list[tuple[Submission, dict]]:
    """(submission, its results) for every submission graded in `out`."""
    found = []
    for sub in subs:
        if is_graded(out, sub):
            found.append((sub, read_json(out / sub.key / "results.json")))
    return found


def accuracies(results: dict) -> dict[str, float]:
    """file -> test accuracy in percent, for the accuracies the grader could measure."""
    board = {entry["name"]: entry["value"] for entry in results.get("leaderboard", [])}
    return {file: float(board[name]) for file, name in ACCURACIES.items() if name in board}


def status(results: dict) -> tuple[str, str]:
    info = batch_info(results)
    return info.get("status", "graded"), info.get("reason", "")


def csv_text(graded: list[tuple[Submission, dict]]) -> str:
    """grades.csv: one row per student (per submitter of a group submission)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "email", "sid", "submission", "status", "reason", "total",
                     *(f"{name} (%)" for name in ACCURACIES.values()),
                     *(f"{config.POINTS[name][0]} {name}" for name in TESTS)])
    for sub, results in graded:
        scores = {t["name"]: t["score"] for t in results["tests"]}
        acc = accuracies(results)
        for student in sub.students or [{"name": sub.key}]:
            writer.writerow([student.get("name", ""), student.get("email", ""), student.get("sid", ""), sub.key,
                             *status(results), f"{results['score']:g}",
                             *(f"{acc[file]:g}" if file in acc else "" for file in ACCURACIES),
                             *(f"{scores[name]:g}" if name in scores else "" for name in TESTS)])
    return buffer.getvalue()


def message_pattern(output: str) -> str:
    """A failure message with its numbers blanked, so that the same mistake groups together."""
    text = " ".join(output.split())
    text = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return text if len(text) <= 200 else text[:197] + "..."


def spread(values: list[float]) -> str:
    if not values:
        return "| - | - | - | - | - |"
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return (f"| {statistics.mean(values):.1f} | {statistics.median(values):.1f} | {sd:.1f} | {min(values):g} | "
            f"{max(values):g} |")


def report_md(graded: list[tuple[Submission, dict]], source: Path) -> str:
    """report.md: totals, pass rates from the hardest test, common failures, spread of the accuracies."""
    totals = [results["score"] for _, results in graded]
    full = [(sub, r) for sub, r in graded if status(r)[0] == "graded"]
    top = sum(p for _, p, _ in config.POINTS.values())
    lines = [f"# Grade report: {len(graded)} submissions", "",
             f"From `{source}`. A submission that was empty, hung or broke the grader scores 0 and is listed under "
             "*Not graded*; pass rates, failure messages and accuracies are over the "
             f"{len(full)} submissions graded to the end.", "",
             f"## Totals (out of {top:g})", "",
             "| submissions | mean | median | sd | min | max |", "| --- | --- | --- | --- | --- | --- |",
             f"| {len(totals)} " + spread(totals), "",
             "| total | submissions | |", "| --- | --- | --- |"]
    for low in range(0, int(top), 10):
        last = low + 10 >= top  # the last bin holds the full score too
        count = sum(low <= t < low + 10 or (last and t >= low) for t in totals)
        lines.append(f"| {f'{low}-{top:g}' if last else f'{low}-{low + 9}'} | {count} | {'#' * count} |")
    broken = [(sub, r) for sub, r in graded if status(r)[0] != "graded"]
    lines += ["", "## Not graded", ""]
    if broken:
        lines += ["| submission | status | reason |", "| --- | --- | --- |"]
        lines += [f"| {sub.key} | {status(r)[0]} | {status(r)[1].replace('|', '/')} |" for sub, r in broken]
    else:
        lines.append("Every submission was graded to the end.")
    lines += ["", "## Pass rate of every test, hardest first", ""]
    rates = pass_rates(full)
    if rates:
        lines += ["| test | points | passed | pass rate |", "| --- | --- | --- | --- |"]
        for name, passed, rate in rates:
            lines.append(f"| {label(name)} | {config.POINTS[name][1]:g} | {passed}/{len(full)} | {rate:.0%} |")
    else:
        lines.append("No submission was graded to the end.")
    failures: Counter = Counter()
    where: dict[str, set] = {}
    who: dict[str, set] = {}
    for sub, results in full:
        for t in results["tests"]:
            if t["status"] != "passed":
                pattern = message_pattern(t["output"] or "(no message)")
                failures[pattern] += 1
                where.setdefault(pattern, set()).add(t["name"])
                who.setdefault(pattern, set()).add(sub.key)
    lines += ["", "## Most common failure messages", "",
              "Numbers are blanked (#) so that one mistake groups together.", ""]
    if failures:
        lines += ["| failures | submissions | message | tests |", "| --- | --- | --- | --- |"]
        for pattern in sorted(failures, key=lambda p: (-len(who[p]), -failures[p], p))[:15]:
            count = failures[pattern]
            tests = sorted(where[pattern], key=lambda n: number_key(config.POINTS.get(n, ("0",))[0]))
            shown = ", ".join(config.POINTS[n][0] if n in config.POINTS else n for n in tests)
            lines.append(f"| {count} | {len(who[pattern])} | {pattern.replace('|', '/')} | {shown} |")
    else:
        lines.append("No test failed.")
    lines += ["", "## Test accuracy (%)", "",
              "| model | threshold | measured | at or above | mean | median | sd | min | max |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for file, name in ACCURACIES.items():
        values = [accuracies(r)[file] for _, r in full if file in accuracies(r)]
        threshold = 100 * config.THRESHOLDS[file]
        above = sum(v >= threshold for v in values)
        lines.append(f"| {name.removesuffix(' accuracy')} | {threshold:g} | {len(values)}/{len(full)} | {above} "
                     + spread(values))
    return "\n".join(lines) + "\n"


def label(name: str, width: int = 200) -> str:
    """A test as the report shows it: its number, its name, and whether students see it."""
    text = f"{config.POINTS[name][0]} {name}"
    text = text if len(text) <= width else text[:width - 3] + "..."
    return text + (" (hidden)" if config.POINTS[name][2] != "visible" else "")


def pass_rates(full: list[tuple[Submission, dict]]) -> list[tuple[str, int, float]]:
    """(test, submissions passing it, pass rate) for every test, the hardest first."""
    if not full:
        return []
    passed = Counter(t["name"] for _, r in full for t in r["tests"] if t["status"] == "passed")
    rates = [(name, passed[name], passed[name] / len(full)) for name in TESTS]
    return sorted(rates, key=lambda row: (row[2], number_key(config.POINTS[row[0]][0])))


def report_png(graded: list[tuple[Submission, dict]], path: Path) -> None:
    """report.png: a histogram of totals, and a bar of the pass rate of every test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    full = [(sub, r) for sub, r in graded if status(r)[0] == "graded"]
    by_number = sorted(pass_rates(full), key=lambda row: number_key(config.POINTS[row[0]][0]), reverse=True)
    fig, (hist, bars) = plt.subplots(2, 1, figsize=(11, 4 + 0.17 * len(TESTS)),
                                     gridspec_kw={"height_ratios": [4, 0.17 * len(TESTS)]})
    top = sum(p for _, p, _ in config.POINTS.values())
    hist.hist([r["score"] for _, r in graded], bins=range(0, int(top) + 1, 5), color="#4c72b0", edgecolor="white")
    hist.set(title=f"Totals of {len(graded)} submissions (bins of 5 points, the last one holds the full score)",
             xlabel=f"total (out of {top:g})", ylabel="submissions", xlim=(0, top))
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    if by_number:
        labels = [label(n, 80) for n, _, _ in by_number]
        rates = [100 * rate for _, _, rate in by_number]
        colours = ["#c44e52" if r < 50 else "#dd8452" if r < 80 else "#55a868" for r in rates]
        bars.barh(range(len(rates)), rates, color=colours)
        bars.set_yticks(range(len(rates)), labels, fontsize=6.5)
        bars.set(xlim=(0, 100), xlabel="pass rate (%)",
                 title=f"Pass rate of every test over {len(full)} submissions graded to the end")
        bars.set_ylim(-0.7, len(rates) - 0.3)
    else:
        bars.text(0.5, 0.5, "no submission was graded to the end", ha="center", transform=bars.transAxes)
        bars.set_axis_off()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    write_bytes_atomically(path, png.getvalue())  # not utils.save_figure: its temporary file has a predictable name


def write_reports(subs: list[Submission], out: Path, source: Path) -> list[tuple[Submission, dict]]:
    """grades.csv, report.md and report.png in `out`, from the results.json there."""
    graded = rows(subs, out)
    write_text_atomically(out / "grades.csv", csv_text(graded))
    write_text_atomically(out / "report.md", report_md(graded, source))
    report_png(graded, out / "report.png")
    return graded


# ---------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="?", default="", help="one folder per student, or Gradescope's export")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default grades/)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    parser.add_argument("--jobs", type=int, default=settings.whole("GRADE_JOBS") or config.cpus(),
                        help="submissions graded at once (GRADE_JOBS; default: one per core)")
    parser.add_argument("--timeout", type=float, default=settings.seconds("GRADE_TIMEOUT"),
                        help=f"seconds after which one submission's grading is stopped (GRADE_TIMEOUT; "
                             f"default {DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)
    if not args.submissions:
        print("error: say which folder to grade: make grade-all SUBMISSIONS=<folder>", file=sys.stderr)
        return 2
    try:
        source, subs = discover(Path(args.submissions), args.out)
        args.out.mkdir(parents=True, exist_ok=True)
        todo = [sub for sub in subs if args.force or not is_graded(args.out, sub)]
        print(f"{len(subs)} submission(s) in {source}; results go to {args.out}/.")
        if len(todo) < len(subs):
            print(f"{len(subs) - len(todo)} already graded there: skipped (FORCE=1 regrades them).")
        if todo:
            grade_many(todo, args.out, max(1, min(args.jobs, len(todo))), args.timeout)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Finished submissions are kept: run the same command again to grade the rest.",
              file=sys.stderr)
        return 130
    graded = write_reports(subs, args.out, source)
    counts = Counter(status(r)[0] for _, r in graded)
    totals = [r["score"] for _, r in graded]
    print(f"{len(graded)} submission(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + (f"; mean total {statistics.mean(totals):.1f}" if totals else ""))
    print(f"Wrote {args.out}/grades.csv, {args.out}/report.md and {args.out}/report.png.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
