"""A hostile's search for copies of the test labels, wherever its process can read.

tests/test_label_copies.py injects this file's source into a submission,
which runs it inside a worker during a grading; it also runs it in its own
process, on planted copies of every kind, to show that each is found. So it
needs nothing but the standard library and NumPy.

A copy is recognised by its content, whatever its name, in two ways:
- the official order: a stretch of the labels (the needle the test passes)
  in any of the forms `encodings` lists (bytes, integers, floats, one-hot
  rows, decimal text);
- any order: 10,000 integers in 0..9 in a row, 1, 2, 4 or 8 bytes each,
  exactly 1,000 of each class, the test set's balance (`balanced_run`):
  a shuffled copy too, such as the grader's own, in the order of the images
  a worker receives.
What is compressed or packed is opened first, up to DEPTH levels deep:
gzip, xz, bzip2, zstd (with the `zstd` program), zip (.npz, wheels, the
autograder zip), ar (.deb), tar, and .npy (and the argmax of its rows of
10: one-hot labels, probabilities).

Where it looks, in this order, until its deadline: its own environment and
open files; the folders it is given first (the grader's); every other
process's command line, environment, open files and memory, where it may
read them; the working folder and its parents, the LIKELY places; then the
whole file system but /proc, /sys and /dev. A file named like the
dataset's (t10k-labels*, *fashion*mnist*.deb, ...: NAMES) is read up to
LIMIT; any other up to SMALL, or PACKED if it is compressed or packed; a
large zip by its members' names. Unnamed programs, libraries and packages
(ELF and ar files) are left out: they hold most of the bytes of /usr, of a
virtual environment and of apt's cache, and no copy. A named file it may
read but cannot open (too large, no zstd program) is reported as
`unopened`.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import os
import re
import shutil
import stat
import subprocess
import tarfile
import time
import warnings
import zipfile
import zlib

import numpy as np

COUNT, CLASSES = 10_000, 10
SMALL = 1 << 20  # a plain file at most this large is read whole
LIMIT = 64 << 20  # the most read from one file, or decoded from one stream
PACKED = 4 << 20  # a compressed or packed file at most this large is opened, whatever its name
MEMORY = 1 << 30  # the most read from other processes' memory
DEPTH = 4  # containers inside containers
NAMES = re.compile(r"t10k|label|fashion|mnist|idx[13]|ubyte")
SKIPPED = ("/proc", "/sys", "/dev")
LIKELY = ("/tmp", "/var/tmp", "/dev/shm", "/var/cache", "/usr/share/datasets", "/autograder",
          "/root", "/home", "/opt", "/srv", "/var/lib", "/run")
MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"!<arch>\n",
         b"\x93NUMPY")  # gzip, xz, bzip2, zstd, zip, ar, .npy; tar has "ustar" at byte 257
# The members of a zip opened whatever their name.
DATA_LIKE = (".gz", ".xz", ".bz2", ".zst", ".npy", ".npz", ".deb", ".tar", ".zip", ".bin", ".dat",
             ".pt", ".pth", ".pkl", ".csv", ".json", ".txt")
QUIET = contextlib.suppress(OSError, ValueError, EOFError)  # one thing unreadable: go on


def encodings(needle: bytes) -> list[bytes]:
    """The labels in `needle`, in every form a copy might keep them."""
    values = np.frombuffer(needle, dtype=np.uint8)
    # Aligned little-endian integers of any width are balanced_run's; others, floats: these.
    forms = [values.astype(t).tobytes() for t in ("<u8", ">u4", "<f4", "<f8")]
    forms += [np.eye(CLASSES, dtype=t)[values].tobytes() for t in ("u1", "<f4", "<f8")]
    digits = [str(v) for v in values]
    forms += [sep.join(digits).encode() for sep in ("", ",", ", ", " ", "\n")]
    return [needle, *forms]


def balanced_run(data: bytes) -> str | None:
    """Where `data` holds COUNT integers in 0..9 in a row, COUNT / CLASSES of each class."""
    for width in (1, 2, 4, 8):
        if len(data) < COUNT * width:
            return None
        values = np.frombuffer(data, dtype=f"<u{width}", count=len(data) // width)
        small = values < CLASSES
        if np.count_nonzero(small) < COUNT:
            continue
        small = np.concatenate(([False], small, [False]))
        edges = np.flatnonzero(small[1:] != small[:-1]).reshape(-1, 2)  # [start, end) of each run
        for start, end in edges[edges[:, 1] - edges[:, 0] >= COUNT]:
            run = values[start:end]
            if run.min() == 0 and run.max() == CLASSES - 1 and balanced_window(run):
                return f"the test set's balance, {width}-byte integers, at byte {start * width}"
    return None


def balanced_window(run: np.ndarray) -> bool:
    """Whether some COUNT consecutive values of `run` hold each class COUNT / CLASSES times."""
    share = COUNT // CLASSES
    run = run.astype(np.int64)
    if np.bincount(run, minlength=CLASSES).min() < share:
        return False
    ok = np.ones(len(run) - COUNT + 1, dtype=bool)
    for label in range(CLASSES):
        seen = np.concatenate(([0], np.cumsum(run == label)))
        ok &= seen[COUNT:] - seen[:-COUNT] == share
        if not ok.any():
            return False
    return True


class Search:
    """One search: what it found, what it could not open, and how much it read."""

    def __init__(self, needle: bytes, seconds: float, aside: list[str] = ()):
        self.forms = encodings(needle)
        self.aside = tuple(folder.rstrip("/") + "/" for folder in aside)  # only counted: `found`
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.copies: list[str] = []  # each a path, with the containers followed inside it
        self.unopened: list[str] = []  # named like the dataset, readable, but not opened here
        self.files = self.bytes = self.denied = self.skipped = self.errors = self.elsewhere = 0
        self.seen: set = set()
        self.complete = False

    def late(self) -> bool:
        return time.monotonic() > self.deadline

    # ------------------------------------------------------------------ content

    def holds(self, data, where: str, depth: int = 0, named: bool = False) -> None:
        """Record `where` if `data` holds the labels, itself or in what it packs."""
        self.bytes += len(data)
        head = bytes(data[:8])
        if any(form in data for form in self.forms):
            self.found(where)
        elif (why := balanced_run(data)) is not None:
            self.found(f"{where} ({why})")
        elif depth < DEPTH:
            try:
                self.unpack(data, head, where, depth, named)
            except Exception as e:  # damaged, truncated, or not what its first bytes say
                if named:
                    self.unopened.append(f"{where}: {type(e).__name__}")

    def found(self, where: str) -> None:
        """A copy at `where`; one in a folder set aside (another checkout, say) is only counted."""
        if where.startswith(self.aside):
            self.elsewhere += 1
        else:
            self.copies.append(where)

    def unpack(self, data, head: bytes, where: str, depth: int, named: bool) -> None:
        """Look into what `data` compresses or packs, by its first bytes."""
        inner = depth + 1
        if head.startswith(b"\x1f\x8b"):
            plain = zlib.decompressobj(31).decompress(data, LIMIT)
            self.holds(plain, where + "|gunzip", inner, named)
        elif head.startswith(b"\xfd7zXZ\x00"):
            plain = lzma.LZMADecompressor().decompress(data, LIMIT)
            self.holds(plain, where + "|unxz", inner, named)
        elif head.startswith(b"BZh"):
            plain = bz2.BZ2Decompressor().decompress(data, LIMIT)
            self.holds(plain, where + "|bunzip2", inner, named)
        elif head.startswith(b"\x28\xb5\x2f\xfd"):
            self.unzstd(data, where, inner, named)
        elif head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                self.zip_members(archive, where, inner)
        elif head.startswith(b"!<arch>\n"):
            for name, member in ar_members(data):
                self.holds(member, f"{where}:{name}", inner, named or is_named(name))
        elif bytes(data[257:262]) == b"ustar":
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                for member in archive:
                    if member.isfile() and member.size <= LIMIT:
                        content = archive.extractfile(member).read()
                        hit = named or is_named(member.name)
                        self.holds(content, f"{where}:{member.name}", inner, hit)
        elif head.startswith(b"\x93NUMPY"):
            array = np.load(io.BytesIO(data), allow_pickle=False)
            if array.ndim == 2 and array.shape[1] == CLASSES and len(array):
                argmax = array.argmax(axis=1).astype(np.uint8).tobytes()
                self.holds(argmax, where + "|argmax", inner)

    def unzstd(self, data, where: str, depth: int, named: bool) -> None:
        tool = shutil.which("zstd") or shutil.which("unzstd")
        if tool is None:
            if named:
                self.unopened.append(f"{where}: zstd, and no zstd program here")
            return
        done = subprocess.run([tool, "-dc"], input=bytes(data), capture_output=True, timeout=60)
        self.holds(done.stdout[:LIMIT], where + "|unzstd", depth, named)

    def zip_members(self, archive: zipfile.ZipFile, where: str, depth: int) -> None:
        """The members named like the dataset, or like data: not every module of a wheel."""
        for info in archive.infolist():
            if self.late():
                return
            named = is_named(info.filename)
            data_like = info.filename.lower().endswith(DATA_LIKE)
            if info.file_size <= LIMIT and (named or data_like) and not info.is_dir():
                self.holds(archive.read(info), f"{where}:{info.filename}", depth, named)

    # -------------------------------------------------------------------- files

    def file(self, path: str) -> None:
        """Look into the regular file at `path` (no link followed), as its size and kind say."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            self.denied += 1
            return
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) in self.seen:
                return
            self.seen.add((info.st_dev, info.st_ino))
            self.files += 1
            self.read(fd, path, info.st_size)
        except OSError:
            self.denied += 1
        finally:
            os.close(fd)

    def read(self, fd: int, path: str, size: int) -> None:
        named = is_named(os.path.basename(path))
        head = os.pread(fd, 262, 0)
        packed = head.startswith(MAGIC) or head[257:262] == b"ustar"
        if head.startswith((b"\x7fELF", b"!<arch>\n")) and not named:
            self.skipped += 1  # programs, libraries, other packages
        elif head.startswith(b"PK\x03\x04") and size > (LIMIT if named else PACKED):
            with open(fd, "rb", closefd=False) as f, zipfile.ZipFile(f) as archive:
                self.zip_members(archive, path, 1)
        elif size <= SMALL or (packed and size <= PACKED) or (named and size <= LIMIT):
            self.holds(os.pread(fd, size, 0), path, named=named)
        else:
            self.skipped += 1
            if named:
                self.unopened.append(f"{path}: {size} bytes, more than this search reads")

    def walk(self, top: str) -> None:
        """Every file under `top`, each folder once, without following links, until the deadline."""
        todo = [top]
        while todo and not self.late():
            folder = todo.pop()
            try:
                info = os.stat(folder, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode) or (info.st_dev, info.st_ino) in self.seen:
                    continue
                self.seen.add((info.st_dev, info.st_ino))
                entries = list(os.scandir(folder))
            except OSError:
                self.denied += 1
                continue
            for entry in entries:
                path = entry.path
                if path in SKIPPED or self.late():
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        todo.append(path)
                    elif entry.is_file(follow_symlinks=False):
                        self.file(path)
                except Exception as e:  # anything odd about one file costs that file alone
                    self.errors += 1
                    if is_named(entry.name):
                        self.unopened.append(f"{path}: {type(e).__name__}")

    # ---------------------------------------------------------------- processes

    def processes(self, pids: list[str] | None = None) -> None:
        """Other processes' command lines, environments, open files and memory, where readable."""
        me = str(os.getpid())
        budget = [MEMORY]
        for pid in pids or filter(str.isdigit, os.listdir("/proc")):
            if pid == me or self.late():
                continue
            for name in ("cmdline", "environ"):
                where = f"/proc/{pid}/{name}"
                with_file(where, lambda f, where=where: self.holds(f.read(SMALL), where))
            self.open_files(pid)
            self.memory(pid, budget)

    def open_files(self, pid: str) -> None:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            self.denied += 1
            return
        for fd in fds:
            link = f"/proc/{pid}/fd/{fd}"
            with_file(link, lambda f, link=link: self.holds(f.read(LIMIT), link))

    def memory(self, pid: str, budget: list[int]) -> None:
        """Process `pid`'s readable memory, within the budget: the grader keeps its labels there."""
        try:
            with open(f"/proc/{pid}/maps") as f:
                spans = [line.split()[:2] for line in f]
            mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
        except OSError:
            self.denied += 1
            return
        with mem:
            for span, perms in spans:
                start, end = (int(x, 16) for x in span.split("-"))
                if perms[0] != "r" or end - start > LIMIT or budget[0] <= 0 or self.late():
                    continue
                budget[0] -= end - start
                with QUIET:
                    mem.seek(start)
                    self.holds(mem.read(end - start), f"/proc/{pid}/mem", DEPTH)

    # -------------------------------------------------------------------- order

    def run(self, first: list[str]) -> Search:
        """Look everywhere this process may read: `first` and the LIKELY places before the rest."""
        warnings.simplefilter("ignore")  # old .npy headers and the like: nothing to report
        with_file("/proc/self/environ", lambda f: self.holds(f.read(SMALL), "own environment"))
        for fd in os.listdir("/proc/self/fd"):
            link = f"/proc/self/fd/{fd}"
            with_file(link, lambda f, fd=fd: self.holds(f.read(LIMIT), f"own fd {fd}"))
        for top in first:
            self.walk(top)
        self.processes()
        parents = [os.path.abspath(os.getcwd())]
        while parents[-1] != "/":
            parents.append(os.path.dirname(parents[-1]))
        for top in [*parents[:-1], *LIKELY, "/"]:
            self.walk(top)
        self.complete = not self.late()
        return self

    def summary(self, most: int = 5) -> dict:
        """What was found and how much was searched, short enough for an error message."""
        return {"copies": [p[:120] for p in self.copies[:most]],
                "more_copies": max(0, len(self.copies) - most),
                "unopened": [p[:120] for p in self.unopened[:most]], "elsewhere": self.elsewhere,
                "files": self.files, "megabytes": self.bytes >> 20, "denied": self.denied,
                "skipped": self.skipped, "errors": self.errors, "complete": self.complete,
                "seconds": round(time.monotonic() - self.started, 1)}


def with_file(path: str, use) -> None:
    """use(f) on `path` opened for reading, if it is a regular file this process may read.

    Checked before it is opened: opening a pipe through /proc/PID/fd could wait for a writer.
    """
    with QUIET:
        if stat.S_ISREG(os.stat(path).st_mode):
            with open(path, "rb") as f:
                use(f)


def is_named(name: str) -> bool:
    """Whether a file's name looks like one of the dataset's."""
    return NAMES.search(os.path.basename(name).lower()) is not None


def ar_members(data) -> list[tuple[str, bytes]]:
    """(name, content) of each member of an ar archive (a .deb is one)."""
    members, offset = [], 8
    while offset + 60 <= len(data):
        header = bytes(data[offset:offset + 60])
        name, size = header[:16].decode(errors="replace").strip(), int(header[48:58])
        members.append((name.rstrip("/"), data[offset + 60:offset + 60 + size]))
        offset += 60 + size + size % 2
    return members
