"""Sandbox users for parallel gradings: each claimed by a lock no other batch can hold, created as root, with
its own scratch folders open to it alone."""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder import ROOT
from autograder.batch.submissions import InputError
from autograder.harness import sandbox

CLAIMS: dict[str, int] = {}  # sandbox user -> the open lock file by which this process holds it



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
            done = subprocess.run([sys.executable, "-c", "from autograder.harness import sandbox; sandbox.student_user()"],
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
