"""Where and as whom student code runs: the worker's sandbox.

Every worker gets a scratch tree holding only what it needs: a read-only
copy of the worker code (`lib/`), the training images and labels and the
test images as .npy files (`data/`, never the test labels), and a folder
with the one student file it runs (`run/<file>/`).

When the grader runs as root (Gradescope, CI), a worker also
- drops to the unprivileged user `grader-student` before it imports student code;
- cannot read the grader's files (the autograder package, expected values,
  solutions, data with the test labels, results): an ACL denies that user;
- has no network (a new, empty network namespace, where `unshare` works);
- gets its run folder only while it runs (`worker`): one worker of that user
  at a time, every process of that user ended before the folder is lent and
  again before it is handed back, closed, to root.
As any user, a worker runs with limits on memory, file size, core dumps and
(as grader-student) processes, in its own session, and dies with the grader.
How a worker's processes are ended where it is not confined by bubblewrap is
`end_user_processes` and `autograder/harness/cgroup.py`; `isolation()` says
which holds here.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from autograder import ROOT
from autograder.core import settings
from autograder.harness import cgroup

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np


# Parallel graders (autograder/batch/) each need their own user: a grader kills every process of its user when a
# worker ends, and the process limit counts per user.
USER = settings.user("GRADER_STUDENT_USER")
# What a worker receives: utils.py, the worker runtime and what it reads (autograder/runtime/, autograder/core/
# and the specs, autograder/specs/, whole), and the hidden tests' inputs where they exist (not their tests, nor in
# the handout).
LIB_DIRS = ("autograder/core", "autograder/specs", "autograder/runtime")
LIB_EXTRA = ("utils.py", "autograder/__init__.py", "autograder/hidden/__init__.py")


def lib_files() -> list[str]:
    """Every file a worker receives, relative to the project: LIB_EXTRA, then the .py files of LIB_DIRS."""
    found = [str(p.relative_to(ROOT)) for d in LIB_DIRS for p in sorted((ROOT / d).glob("*.py"))]
    return [name for name in LIB_EXTRA if (ROOT / name).exists()] + found
MEMORY_BYTES = settings.whole("GRADER_WORKER_MEMORY_MB") << 20
FILE_BYTES = 64 << 20  # no file a worker writes (its printed output included) may exceed this
PROCESSES = 256  # threads count too


def is_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def student_user() -> pwd.struct_passwd | None:
    """The unprivileged user for student code, created if missing.

    None when not running as root, or when that user cannot run this Python
    (an interpreter installed under root's private home): workers then run as
    the grader's user, and `isolation()` says so.
    """
    if not is_root():
        return None
    try:
        user = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        user = pwd.getpwnam(USER)
    # A user at its process limit (another grading's worker, until it is killed) is asked again: never killed
    # from here, where that grading's lock is not held. So is a probe killed by a signal: another
    # grading that ends this user's processes (end_user_processes) kills it too.
    for attempt in range(6):
        probe = subprocess.run([*setpriv(user), sys.executable, "-s", "-c", "import gzip, json, numpy"],
                               capture_output=True, cwd="/")
        if probe.returncode == 0:
            return user
        if not busy(probe):
            return None
        time.sleep(1 + attempt)
    return user  # busy, not unable: never fall back to running student code as root for that


def busy(probe: subprocess.CompletedProcess) -> bool:
    """Whether a probe run as the sandbox user failed because that user was busy, not unable:
    killed by a signal, or refused a process (its process limit)."""
    return probe.returncode < 0 or any(
        why in probe.stderr for why in (b"Resource temporarily unavailable", b"Cannot allocate"))


def defences() -> dict:
    """Which defences are in force here (the README's Security model table), for results.json's extra_data."""
    user = student_user()
    return {"user": user.pw_name if user else None, "namespaces": "bubblewrap" if confined() else None,
            "network": "none" if confined() or can_unshare_net() else "shared",
            "graders_files": "absent" if confined() else "closed by ACL" if user else "readable",
            "processes": leftovers(),
            "tmp": "private" if confined() else "cleaned by user" if user else "shared"}


# How the processes a worker leaves behind end (`leftovers`), as the grader's output says it.
ENDED = {
    "PID namespace": "every process a worker starts ends with it",
    "cgroup": "every process a worker starts is killed with the worker's cgroup",
    "killed as the user": "every process of that user is killed after each worker (kill -1 as it)",
    "process group": ("a process a worker leaves behind is killed only with the worker's process "
                      "group: one that leaves the group can outlive the grading and change a later "
                      "grading's files"),
}


def leftovers() -> str:
    """How the processes a worker leaves behind are ended here, a key of ENDED: by the end of its
    PID namespace, of its cgroup, by killing every process of its user, or (as an ordinary user
    without bubblewrap) with its process group alone."""
    if confined():
        return "PID namespace"
    if cgroup.available():
        return "cgroup"
    return "killed as the user" if student_user() else "process group"


def isolation() -> str:
    """One line on how workers are isolated here, for the grader's output."""
    if not is_root():
        who = "Workers run as the grader's own user (not root): no user switch"
    elif student_user() is None:
        who = (f"Workers run as root: {USER} cannot run {sys.executable} (is Python installed under a private "
               "home?). Use a Python installed for all users to isolate student code")
    else:
        who = f"Workers run as {USER}"
    if confined():
        return who + ("; confined by bubblewrap (no network, no other process or grader file in "
                      f"sight; {ENDED['PID namespace']}).")
    network = "; without network" if can_unshare_net() else ""
    return f"{who}{network}; bubblewrap cannot confine them here; {ENDED[leftovers()]}."


@functools.cache
def can_unshare_net() -> bool:
    return is_root() and shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--net", "--ipc", "true"], capture_output=True).returncode == 0


@contextlib.contextmanager
def protected(paths):
    """As root: make each existing folder unreadable to grader-student while grading.

    Preferably with a POSIX ACL entry that denies grader-student alone: it
    changes nothing for anyone else, needs no undoing, and stays right when
    several gradings overlap. Where the filesystem has no ACLs, the folders
    are closed to everyone but root for the duration instead, which is not
    safe for overlapping gradings: make grade-all then grades one at a time.
    """
    user = student_user()
    closed = []
    if user is not None:
        for path in map(Path, paths):
            if path.is_dir() and not deny_acl(path, user.pw_uid):
                path.chmod(path.stat().st_mode & 0o700)
                closed.append(path)
    try:
        yield
    finally:
        for path in closed:
            path.chmod(path.stat().st_mode | 0o055)


def deny_acl(path: Path, uid: int) -> bool:
    """Give `path` an access ACL with no permission for `uid` (and the mode's own for everyone else).

    The users it already denies stay denied: parallel gradings (autograder/batch/) each run as their own user.
    """
    mode = path.stat().st_mode
    every = 0xFFFFFFFF  # ACL_UNDEFINED_ID
    denied = [(0x02, 0, u) for u in sorted({uid} | denied_uids(path))]  # user:uid:---
    entries = [(0x01, (mode >> 6) & 7, every), *denied, (0x04, (mode >> 3) & 7, every),
               (0x10, (mode >> 3) & 7, every), (0x20, mode & 7, every)]  # user::, group::, mask::, other::
    data = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, i) for tag, perm, i in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", data)
        return True
    except OSError:
        return False


def acls_work(where: Path) -> bool:
    """Whether the filesystem of `where` takes the ACLs that `protected` sets (else it falls back to chmod)."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory(dir=where) as tmp:
            return deny_acl(Path(tmp), 0xFFFFFFFE)
    except OSError:
        return False


def denied_uids(path: Path) -> set[int]:
    """The users that the access ACL of `path` denies everything (entries user:uid:---)."""
    try:
        data = os.getxattr(path, "system.posix_acl_access")
    except OSError:
        return set()
    entries = [struct.unpack_from("<HHI", data, offset) for offset in range(4, len(data) - 7, 8)]
    return {i for tag, perm, i in entries if tag == 0x02 and perm == 0}


def grader_secrets() -> list[Path]:
    """The grader's folders a worker must not read (results.json is written only after the last worker)."""
    import utils

    # The Debian package's files hold the test labels, readable by everyone, and so does its .deb in
    # apt's cache (unless someone ran `apt-get clean`): closed to grader-student for good.
    return [ROOT / "autograder", ROOT / "solutions", ROOT / "build", ROOT / "expected", ROOT / "data", ROOT / "dist",
            ROOT / "grades", utils.DEBIAN_DIR, utils.DATA_DIR, utils.APT_ARCHIVES]


def prepare(work: Path, test_images: np.ndarray | None, files: dict[str, Path]) -> dict:
    """Lay out lib/ and data/ in `work`; return the environment a worker needs to find them.

    `files` maps names in data/ to the grader's cached data files (datacache.worker_files): they are
    linked or copied as files, never loaded here.
    """
    from autograder.runtime import datacache

    lib = work / "lib"
    for name in lib_files():
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, lib / name)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    # Links only where the worker cannot write the file: another user, or a read-only bind.
    datacache.hand_out(files, data, share=student_user() is not None or confined())
    if test_images is not None:
        import numpy as np

        datacache.write_float32(data / "test_x.npy", test_images, np.arange(len(test_images)))
    for path in [work, *lib.rglob("*"), lib, *data.rglob("*"), data]:  # the grader's own folders (intake/) stay 0700
        if path.is_dir() or path.stat().st_nlink == 1:  # a linked cache file is already 0644, and may not be ours
            path.chmod(0o755 if path.is_dir() else 0o644)
    return {"GRADER_LIB": str(lib), "GRADER_DATA": str(data)}


def lend_folder(path: Path, user: pwd.struct_passwd) -> None:
    """As root: give the run folder `path` to `user` for one worker (`worker`), with what only it
    holds.

    The folder, its folders and its files of one link become the user's,
    never through a link: a symbolic link or a hard link that an earlier
    worker left there would otherwise give that user the file it names. No
    process of the user runs while this runs (`worker` has ended them all).
    """
    path.mkdir(parents=True, exist_ok=True)
    os.lchown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)
    for top, folders, files in os.walk(path):  # a link to a folder is listed, never entered
        for name in folders + files:
            inside = os.path.join(top, name)
            with contextlib.suppress(OSError):
                info = os.lstat(inside)
                alone = stat.S_ISREG(info.st_mode) and info.st_nlink == 1
                if stat.S_ISDIR(info.st_mode) or alone:
                    os.lchown(inside, user.pw_uid, user.pw_gid)


@functools.cache
def cpu_seconds() -> int:
    """A worker's CPU time limit: a backstop behind the wall-clock budgets, which stop a call long before it.

    All of a worker's calls at their budgets, on every thread it may use, and a minute more.
    Cached: `limit` runs between fork and exec, where it should only read it.
    """
    from autograder.core import config

    return int((config.TRAIN_DEADLINE + 40 * config.CALL_BUDGET) * config.SPEED * config.threads()) + 60


def limit() -> None:
    """In the worker, before exec: resource limits, and death with the grader."""
    cpu = cpu_seconds()
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 10))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


HOME = "/tmp/home"  # a confined worker's home, in its private /tmp
TMP_BYTES = 64 << 20  # size of a confined worker's private /tmp and /dev/shm each


def bwrap_args(binds: list[tuple[str, Path]], chdir: Path | None = None) -> list[str]:
    """bubblewrap's options: a file system of the system's programs, the Python running the grader, and `binds`.

    Everything else is absent: the grader's checkout, other users' homes and
    gradings, the dataset's files with the test labels. The worker gets new
    PID, network, IPC and UTS namespaces (so it sees and signals no other
    process, and every process it starts dies with it), and a private /tmp and
    /dev/shm of TMP_BYTES each.
    """
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "grader"]
    for top in ("/usr", "/etc"):
        args += ["--ro-bind", top, top]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for prefix in python_prefixes():
        args += ["--ro-bind", str(prefix), str(prefix)]
    for hidden in HIDDEN_PATHS():
        args += ["--tmpfs", str(hidden)]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
             "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "0700", "--dir", HOME]
    for how, path in binds:
        args += [how, str(path), str(path)]
    if chdir is not None:
        args += ["--chdir", str(chdir)]
    return [*args, "--"]


def python_prefixes() -> list[Path]:
    """Where this Python lives (a venv and the installation it comes from), outside /usr."""
    found = set()
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                 Path(sys.executable).resolve().parent.parent):
        path = Path(path).resolve()
        if path != Path("/") and not any(path.is_relative_to(top) for top in ("/usr", "/etc")):
            found.add(path)
    return sorted(found)


def HIDDEN_PATHS() -> list[Path]:  # noqa: N802 - a constant, computed late (utils imports numpy)
    """Folders a confined worker must not see although they lie inside what it is given."""
    import utils

    given = [Path("/usr"), Path("/etc"), *python_prefixes()]
    return [p for p in (utils.DEBIAN_DIR, ROOT, utils.DATA_DIR, utils.APT_ARCHIVES)
            if p.is_dir() and any(p.resolve().is_relative_to(g) for g in given)]


@functools.cache
def confined() -> bool:
    """Whether workers run in bubblewrap's mount and PID namespaces here (else: the older, weaker defences).

    Tried once, as the worker's user, with the Python that grades.
    """
    if shutil.which("bwrap") is None or settings.flag("GRADER_NO_BWRAP"):
        return False
    prefix = setpriv(student_user())
    if any(sys.prefix == "/" or ROOT.is_relative_to(p) for p in python_prefixes()):
        return False  # the Python's folder holds the grader: binding it would show the grader's files
    check = f"import json, numpy, os; assert not os.path.exists({str(ROOT / 'solutions')!r})"
    for attempt in range(4):  # a probe killed with the user's other processes is tried again
        probe = subprocess.run([*prefix, *bwrap_args([], Path("/")), sys.executable, "-s", "-c",
                                check], capture_output=True, cwd="/", preexec_fn=limit)
        reap_zombie_children(patience=2.0)  # bubblewrap's own child, adopted by us (a subreaper)
        if probe.returncode == 0 or not busy(probe):
            return probe.returncode == 0
        time.sleep(1 + attempt)
    return False


def setpriv(user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return []
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--no-new-privs"]


def command(user: pwd.struct_passwd | None, cmd: list[str], sandbox_env: dict | None = None,
            scratch: Path | None = None) -> list[str]:
    """`cmd`, run as grader-student (when there is one), confined by bubblewrap where it works.

    Confined, the worker sees its lib/ and data/ read-only and `scratch` (its
    submission's run folder) writable, and nothing of the grader's. Else it
    runs without network where `unshare` works, and sees what its user may read.
    """
    if sandbox_env is not None and confined():
        binds = [("--ro-bind", Path(sandbox_env["GRADER_LIB"])), ("--ro-bind", Path(sandbox_env["GRADER_DATA"]))]
        if scratch is not None:
            binds.append(("--bind", Path(scratch)))
        return [*setpriv(user), *bwrap_args(binds, Path(sandbox_env["GRADER_LIB"])), *cmd]
    return (["unshare", "--net", "--ipc", "--"] if can_unshare_net() else []) + setpriv(user) + cmd


def limit_processes() -> None:
    """As preexec for grader-student's workers: also cap that user's processes (threads count)."""
    limit()
    resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))


LOCKS = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")


@contextlib.contextmanager
def exclusive(user: pwd.struct_passwd | None):
    """As root: run one worker at a time per sandbox user on this machine.

    After a worker, every process of its user is killed, and the process
    limit counts per user: a second grading that used the same user at the
    same time would kill the first one's worker. It waits instead (to grade
    in parallel, give each grading its own GRADER_STUDENT_USER, as
    autograder/batch/ does). The lock file is root's alone, so student code can
    neither take nor hold it.
    """
    if user is None:
        yield
        return
    import fcntl

    fd = own_lock_file(LOCKS / f"autograder-{user.pw_name}.lock")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Waiting for another grading whose workers run as {user.pw_name} "
                  "(set GRADER_STUDENT_USER to grade in parallel) ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def worker(user: pwd.struct_passwd | None, run_folder: Path):
    """Run one worker: yields the preexec_fn of its Popen; afterwards nothing it started runs.

    As root, under the user's lock (`exclusive`): every process of the user
    is ended first (what a grading that was stopped may have left), then the
    run folder is lent to the user (`lend_folder`) and the worker started:
    in bubblewrap's PID namespace, or else in a cgroup of its own where one
    can be had. Once the caller has killed the worker's process group, the
    cgroup is killed, every process of the user is ended again
    (`end_user_processes`), the run folder is handed back to root, closed
    (`close_folder`), and the user's files in the shared temporary folders
    are removed, before the lock is released. So at any time the user can
    write one run folder at most, that of the one worker running as it, and
    nothing of a worker outlives it to change what a later worker reads, in
    this grading or another. As an ordinary user there is no other user to
    end: only the worker's process group is killed (`leftovers`).
    """
    if user is None:
        group = cgroup.make(f"pid-{os.getpid()}") if is_root() and not confined() else None
        try:
            yield preexec(limit, group)
        finally:
            cgroup.kill(group)
            reap_zombie_children(patience=2.0 if confined() else 0.0)
            cgroup.remove(group)
        return
    with exclusive(user):
        end_user_processes(user)
        remove_user_files(user)  # what a grading that was stopped may have left
        group = None if confined() else cgroup.make(user.pw_name)
        try:
            lend_folder(run_folder, user)
            yield preexec(limit_processes, group)
        finally:
            cgroup.kill(group)
            end_user_processes(user)
            close_folder(run_folder)
            remove_user_files(user)  # the folder is root's again: it is not removed, wherever it is
            cgroup.remove(group)


def preexec(limits, group: Path | None):
    """A worker's preexec_fn: `limits`, then into the cgroup `group` (where there is one)."""
    join = cgroup.joiner(group)

    def run() -> None:
        limits()
        join()

    return run


def own_lock_file(path: Path) -> int:
    """Open the lock file at `path`, ours alone: one planted there by someone else (to hold it) is replaced."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:  # a link, or something else in our way
            path.unlink(missing_ok=True)
            continue
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and info.st_mode & 0o077 == 0:
            return fd
        os.close(fd)
        path.unlink(missing_ok=True)
    raise RuntimeError(f"cannot take the lock file {path}: something keeps replacing it")


def become_subreaper() -> None:
    """Adopt the orphans of this process's descendants, so that `end_user_processes` can reap them.

    A worker's children outlive it as orphans; they would go to PID 1, and in
    a container PID 1 need not reap them. A zombie that nobody reaps still
    counts against grader-student's process limit, so after a fork bomb the
    next worker could not start at all.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


class Process(NamedTuple):
    """One process (or thread) as /proc shows it."""

    pid: int
    ppid: int
    uid: int  # owner of /proc/PID: the process's effective user, dumpable or not (the files in it
    # are root's while it is not dumpable)
    state: str  # R, S, D, Z, X, ...: stat(5) field 3
    cpu_ticks: int  # utime + stime + cutime + cstime: its own CPU time and that of its reaped children, in clock ticks


def process(pid: int | str) -> Process | None:
    """Process `pid` (or a thread, as "PID/task/TID"), or None if it is gone."""
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command: stat(5) from field 3
        # state ppid ... utime stime cutime cstime are fields 3, 4 and 14-17 of stat(5)
        return Process(int(str(pid).rpartition("/")[2]), int(fields[1]), uid, fields[0],
                       sum(int(v) for v in fields[11:15]))
    except (OSError, IndexError, ValueError):
        return None


def processes() -> Iterator[Process]:
    """Every process alive now (those that vanish while /proc is walked are left out)."""
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (found := process(pid)) is not None:
            yield found


def process_tree(root: int, table: dict[int, Process] | None = None) -> list[int]:
    """`root` (alive or not) and all its descendants, in `table` (default: the processes alive now)."""
    if table is None:
        table = {p.pid: p for p in processes()}
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def proc_file(pid: int, name: str) -> bytes:
    """/proc/PID/`name` (cmdline, status, smaps_rollup, ...), or b"" if the process is gone or it cannot be read."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return b""


SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # where any user may write


def close_folder(path: Path) -> None:
    """As root: give a worker's run folder back to root, closed, once its worker has ended: nothing a worker
    left there can be read or changed by a later one (the same sandbox user, in this grading or another)."""
    if not is_root():
        return
    for p in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            os.lchown(p, 0, 0)
    path.chmod(0o700)


@contextlib.contextmanager
def closed_folder(path: Path):
    """Close a folder of the grader's (the training data) to every worker while the block runs."""
    mode = path.stat().st_mode & 0o777
    path.chmod(0o700)
    try:
        yield
    finally:
        path.chmod(mode)


def remove_user_files(user: pwd.struct_passwd | None) -> None:
    """As root, after a worker that was not confined: remove what its user left where any user may write:
    the shared temporary folders and every world-writable folder within them, however deep, and its
    System V IPC objects (shared memory, message queues, semaphores), which outlive processes and escape
    the memory limit. Nothing a worker leaves reaches a later one."""
    if user is None or confined():
        return
    todo = [top for top in SHARED_TMP if os.path.isdir(top)]
    while todo:
        folder = todo.pop()
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                if info.st_uid == user.pw_uid:
                    if stat.S_ISDIR(info.st_mode):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002:
                    todo.append(path)  # the user may have written in it too
    remove_user_ipc(user)
    clear_keyrings(user)


# keyctl(KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING) and the user session keyring, by the syscall's number here.
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
CLEAR_KEYRINGS = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                  f"for ring in (-4, -5):\n    libc.syscall({KEYCTL}, 7, ring)\n")


def clear_keyrings(user: pwd.struct_passwd) -> None:
    """Empty the user's kernel keyrings, as that user: keys outlive processes (and gradings) and would carry
    data from one worker to the next. Bubblewrap's user namespace gives each worker keyrings of its own."""
    if KEYCTL is not None:
        subprocess.run([*setpriv(user), sys.executable, "-S", "-c", CLEAR_KEYRINGS], capture_output=True,
                       check=False, cwd="/")


IPC = {"shm": "-m", "msg": "-q", "sem": "-s"}  # /proc/sysvipc/NAME and ipcrm's option for it


def remove_user_ipc(user: pwd.struct_passwd) -> None:
    """Remove the System V IPC objects that `user` owns or created (POSIX message queues too, where mounted),
    as that user: root without CAP_IPC_OWNER (Docker's default capabilities) may not remove another's."""
    uid = user.pw_uid
    for kind, option in IPC.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = [line.split() for line in f.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            continue
        column = {name: i for i, name in enumerate(header)}
        if not {"uid", "cuid"} <= column.keys():
            continue
        ident = column.get("shmid", column.get("msqid", column.get("semid", 1)))
        for row in rows:
            with contextlib.suppress(IndexError, ValueError):
                if uid in (int(row[column["uid"]]), int(row[column["cuid"]])):
                    subprocess.run([*setpriv(user), "ipcrm", option, row[ident]], capture_output=True,
                                   check=False, cwd="/")
    with contextlib.suppress(OSError):
        for name in os.listdir("/dev/mqueue"):
            path = os.path.join("/dev/mqueue", name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid == uid:
                    os.unlink(path)


TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int, uid: int | None = None) -> float:
    """CPU time used so far by process `root` and all its descendants (threads and reaped children included),
    and with `uid`, by every other process of that user too: a grandchild orphaned to the grader (a
    subreaper) leaves the worker's tree but not its user, and its CPU counts against the worker."""
    table = {p.pid: p for p in processes()}
    counted = set(process_tree(root, table)) & table.keys()
    if uid is not None:
        counted |= {p.pid for p in table.values() if p.uid == uid}
    return sum(table[pid].cpu_ticks for pid in counted) / TICKS


def live_threads(pid: int) -> bool:
    """Whether any thread of process `pid` still runs."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    return any(getattr(process(f"{pid}/task/{tid}"), "state", "X") not in "ZX" for tid in tasks)


def owned_by(uid: int, but: int | None = None) -> list[Process]:
    """Every process (zombies too) of the user `uid`, but the process `but`.

    By the owner of /proc/PID, which is the process's effective user even
    while it is not dumpable (the files inside are root's then, not the
    folder). A process of the sandbox user has it as its every user: it runs
    with no_new_privs (`setpriv`), so it cannot become another.
    """
    return [p for p in processes() if p.uid == uid and p.pid != but]


def alive(p: Process) -> bool:
    """Whether `p` still runs: not a zombie, or a zombie leader whose other threads run (a leader
    that exited while they run shows as a zombie)."""
    return p.state not in "ZX" or live_threads(p.pid)


def left_by(user: pwd.struct_passwd) -> list[Process]:
    """What `user` still has, zombies of ours reaped first: live processes, and zombies that are
    ours to reap once their parent, alive and the user's, has ended. Zombies of other parents are
    theirs: they run nothing."""
    me, left = os.getpid(), []
    owned = owned_by(user.pw_uid)
    parents = {p.pid for p in owned if alive(p)}
    for p in owned:
        if not alive(p) and p.ppid == me:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p.pid, os.WNOHANG)
                continue
        if alive(p) or p.ppid in parents:
            left.append(p)
    return left


def end_user_processes(user: pwd.struct_passwd | None, patience: float = 5.0) -> list[Process]:
    """As root: end every process of `user` and reap its zombies; what is left (nothing, unless a
    process would not die within `patience`). Called under the user's lock (`exclusive`) alone.

    Nothing here depends on finding the user's processes first: `kill_as`
    signals them all at once, whatever they do meanwhile (a process that
    forks a successor and exits every few milliseconds is never where a
    search of /proc last saw it). /proc is read only to know when all are
    gone, and to reap the zombies that became ours: this process is a
    subreaper (`become_subreaper`), so they do not fill the user's process
    limit. Where kill -1 cannot be sent safely (`kill_as`), each process found
    is signalled instead, which a process that keeps forking can outrun.
    """
    if user is None:
        return []
    deadline = time.monotonic() + patience
    left: list[Process] = []
    while True:
        if not left or any(map(alive, left)):
            if kill_as(user, max(0.0, deadline - time.monotonic())) >= UNSAFE:
                for p in filter(alive, owned_by(user.pw_uid)):
                    with contextlib.suppress(OSError):
                        os.kill(p.pid, signal.SIGKILL)
        left = left_by(user)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.002)


UNSAFE = 2  # kill_as's status when it sent nothing: it could not become the user, capabilities gone


def kill_as(user: pwd.struct_passwd, patience: float) -> int:
    """SIGKILL to every process of `user`, from a child of ours that has become that user: kill(-1).

    kill(-1, SIGKILL) signals every process its caller may signal but
    itself, in one pass that a fork in progress cannot slip through: Linux
    walks the task list under the lock that fork takes to add a child, and a
    fork fails in a parent that has a SIGKILL pending. The child sends it
    again until the user has no live process (`patience` at most), and
    exits: 0 when none is left, 1 when one still was, UNSAFE or more when it
    sent nothing. It never sends it with a capability left (CAP_KILL would
    make kill -1 reach every process of the machine).
    """
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # the child: nothing here returns into the caller's code
            status = UNSAFE + 1
            try:
                status = killer(user, patience)
            finally:
                os._exit(status)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by another thread's reap_zombie_children (make grade-all): its
            continue  # verdict is lost, so the pass is made again; kill(-1) twice harms nothing
        return os.waitstatus_to_exitcode(status)
    return 1  # no verdict came back: as if a process were left


def killer(user: pwd.struct_passwd, patience: float) -> int:
    """kill_as's child: become `user`, then kill -1 until that user has no live process left.
    Its exit status (kill_as)."""
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # none of the grader's files or pipes stays open
    os.setgroups([])
    os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
    os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
    if os.getresuid() != (user.pw_uid,) * 3 or capabilities():
        return UNSAFE
    deadline = time.monotonic() + patience
    while True:
        os.kill(-1, signal.SIGKILL)
        if not any(map(alive, owned_by(user.pw_uid, but=os.getpid()))):
            return 0
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.001)


def capabilities() -> bool:
    """Whether this process holds any capability, permitted, effective or ambient (where the kernel
    has ambient ones); when its status cannot be read, it is taken to hold some."""
    fields = status(os.getpid())
    held = [fields.get("CapPrm", "1"), fields.get("CapEff", "1"), fields.get("CapAmb", "0")]
    return any(int(value, 16) for value in held)


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as name -> value ({} if the process is gone)."""
    text = proc_file(pid, "status").decode(errors="replace")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def reap_zombie_children(patience: float = 0.0) -> None:
    """Reap the children of ours that are zombies (a confined worker's bubblewrap, adopted as a subreaper).

    With `patience`, wait that long for the children still alive (dying with their parent) to end too.
    """
    me, deadline = os.getpid(), time.monotonic() + patience
    while True:
        alive = False
        for p in processes():
            if p.ppid != me:
                continue
            if p.state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(p.pid, os.WNOHANG)
            else:
                alive = True
        if not alive or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def stop_user(user: str) -> None:
    """As root: kill whatever is left running as the sandbox user `user` (a grading that ended or was stopped).

    A killed suite's workers ask for death with it, but those that switched user lost that wish. Under the user's
    lock (`exclusive`): another grading that runs as the same user meanwhile loses no worker to this.
    """
    if is_root():
        with contextlib.suppress(KeyError):
            account = pwd.getpwnam(user)
            with exclusive(account):
                group = cgroup.folder(account.pw_name)  # that grading's worker's, if it ran here
                cgroup.kill(group)
                end_user_processes(account)
                cgroup.remove(group)
