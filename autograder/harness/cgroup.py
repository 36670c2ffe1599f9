"""A cgroup v2 of its own for a worker, so that everything the worker starts can be killed at once.

Every process a worker forks is born in the worker's cgroup, and writing
1 to that cgroup's `cgroup.kill` kills all of them in one step that a fork
in progress cannot slip through (Linux 5.14 and later). So the grader need
not find a worker's processes to end them, which a process that keeps
forking successors and exiting would win as a race.

The cgroup is made as a child of the grader's own cgroup, in the cgroup v2
hierarchy, where root may write it: a machine or container without one
(cgroup v1 alone, a read-only /sys/fs/cgroup, as in Docker's default
container, or no cgroup.kill) gets None from `available`, and the grader
falls back on killing by user (sandbox.end_user_processes). This module
knows nothing of users, locks or folders: `autograder/harness/sandbox.py`
decides when a worker joins and when its cgroup is killed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import time
from pathlib import Path

from autograder.core import settings

PREFIX = "autograder-"  # the cgroups this grader makes, under its own


def own() -> Path | None:
    """The folder of this process's cgroup in the cgroup v2 hierarchy, or None without one."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
        with open("/proc/self/mountinfo") as f:
            mounts = f.read().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None or path.endswith(" (deleted)"):
        return None
    for mount in mounts:
        fields = mount.split()
        dash = fields.index("-") if "-" in fields else -1
        if dash < 0 or fields[dash + 1] != "cgroup2":
            continue
        root, point = fields[3], fields[4]  # mountinfo(5): the mount's root in its hierarchy; where
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return Path(point) / path[len(root):].lstrip("/")
    return None


def folder(name: str) -> Path | None:
    """Where the cgroup `name` of this grader is (it may not exist yet); None without cgroup v2."""
    parent = own()
    return None if parent is None else parent / f"{PREFIX}{name}"


def make(name: str) -> Path | None:
    """The cgroup `name`, made if missing; None where cgroups cannot be had here (`available`)."""
    if not available():
        return None
    where = folder(name)
    try:
        where.mkdir(exist_ok=True)  # type: ignore[union-attr]
    except OSError:
        return None
    return where


def joiner(where: Path | None):
    """A function that moves the calling process into the cgroup `where` (nothing for None).

    For a worker's preexec_fn: it runs between fork and exec, so the worker
    and all it starts are in the cgroup from their first instruction.
    """
    procs = None if where is None else os.fsencode(where / "cgroup.procs")

    def join() -> None:
        if procs is not None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    return join


def populated(where: Path) -> bool:
    """Whether any process is still in the cgroup `where` (zombies are not: they have left it)."""
    try:
        with open(where / "cgroup.events") as f:
            return "populated 1" in f.read()
    except OSError:  # gone, or not ours to read: the caller ends the processes by user as well
        return False


def kill(where: Path | None, patience: float = 5.0) -> bool:
    """Kill every process in the cgroup `where` and wait until they are gone; whether they are."""
    if where is None or not where.is_dir():
        return True
    deadline = time.monotonic() + patience
    with contextlib.suppress(OSError):
        (where / "cgroup.kill").write_text("1")
    while populated(where):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def remove(where: Path | None) -> None:
    """Remove the cgroup `where` once it is empty (a cgroup that still holds a process stays)."""
    if where is not None:
        with contextlib.suppress(OSError):
            where.rmdir()


@functools.cache
def available() -> bool:
    """Whether a worker can be run in a cgroup of its own here and killed with it.

    Tried once: a cgroup is made, `true` runs in it, and the cgroup is
    killed and removed. Never as an ordinary user (the grader kills nothing
    of its own user's but its worker's process group), nor with
    GRADER_NO_CGROUP set.
    """
    if os.geteuid() != 0 or settings.flag("GRADER_NO_CGROUP") or own() is None:
        return False
    probe = own() / f"{PREFIX}probe-{os.getpid()}"  # type: ignore[operator]
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        if not (probe / "cgroup.kill").exists():
            return False
        done = subprocess.run(["true"], preexec_fn=joiner(probe), capture_output=True, check=False)
        return done.returncode == 0 and kill(probe, patience=2.0)
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        remove(probe)
