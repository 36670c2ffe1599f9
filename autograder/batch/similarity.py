"""How alike a class's code is, pair by pair (`make grade-all`): similarity.csv, report.md's end.

The comparison is copydetect's (a maintained plagiarism detector that runs
offline): each file is tokenised by Pygments with the names of variables,
functions and classes abstracted (so renaming changes nothing) and
fingerprinted by winnowing k-grams of tokens; the handout's stubs are
boilerplate, so the code every student was given counts for nothing. A
notebook is compared as the code grading takes from it (`intake.take`), a
file as Python reads it (in the encoding its coding line declares).

Each pair of students is compared on each of the three files. A pair's score
is the larger of copydetect's two shares (`compare_files`): the part of one
student's code (stubs left out) also found in the other's. The fingerprints
are made in parallel processes; then the shares of all pairs of a file are
computed at once, as arrays (`shares`), to the values `compare_files` gives.

The report states similarity, not guilt: short files, shared tutorials and the
docstrings' hints make honest submissions alike. `tools/similarity_bench.py`
times the scan on a generated class.
"""

from __future__ import annotations

import io
import tokenize
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from autograder.core import config
from autograder.core.text import csv_table, markdown
from autograder.harness import intake, notebook

NOISE = 25  # copydetect's default k: a k-gram is 25 tokens
GUARANTEE = 30  # copydetect's default: a copy of 30 tokens is always found (window = 30 - 25 + 1)
TOP = 10  # pairs listed in report.md
CELLS = 4_000_000  # booleans compared at once: memory stays bounded however long a file is


def fingerprint(code: str, boilerplate=None):
    """copydetect's fingerprint of a file of Python; every k-gram (no winnowing) for boilerplate."""
    from copydetect import CodeFingerprint  # imports matplotlib: only where a scan runs

    window = 1 if boilerplate is None else GUARANTEE - NOISE + 1
    return CodeFingerprint("code.py", NOISE, window, boilerplate, fp=io.StringIO(code))


def boilerplate(file: str) -> np.ndarray:
    """The hashes of the stub of `file`: code every student was given."""
    stub = notebook.stub(file)
    hashes = list(fingerprint(stub.decode()).hashes) if stub else []
    return np.unique(np.array(hashes, dtype=np.int64))


class Prints:
    """A file's fingerprint as a comparison needs it: each selected k-gram's position (in order)
    and hash, and the number of tokens the fingerprint covers."""

    def __init__(self, code: str, stub: np.ndarray):
        found = fingerprint(code, stub)
        pairs = sorted((int(i), int(h)) for h, places in found.hash_idx.items() for i in places)
        self.positions = np.array([i for i, _ in pairs], dtype=np.float64)
        self.hashes = np.array([h for _, h in pairs], dtype=np.int64)
        self.coverage = float(found.token_coverage)


def prints_of(file: str, codes: list[str]) -> list[Prints]:
    stub = boilerplate(file)
    return [Prints(code, stub) for code in codes]


def covered(found: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """For each row of `found` (which k-grams at `positions` another file holds): the tokens
    they cover, as copydetect's `get_copied_slices` merges them (closer than k: one slice)."""
    at = np.where(found, positions, np.inf)
    after = np.minimum.accumulate(at[:, ::-1], axis=1)[:, ::-1]  # the next marked one, or itself
    following = np.concatenate([after[:, 1:], np.full((len(found), 1), np.inf)], axis=1)
    return np.where(found, np.minimum(following - positions, NOISE), 0.0).sum(axis=1)


def shares(prints: list[Prints]) -> np.ndarray:
    """share[i, j]: the part of file i's tokens also in file j (copydetect's `compare_files`)."""
    n = len(prints)
    vocabulary = np.unique(np.concatenate([np.zeros(0, np.int64), *(p.hashes for p in prints)]))
    holds = np.zeros((n, len(vocabulary)), dtype=bool)  # holds[j, h]: file j has hash h
    for j, p in enumerate(prints):
        holds[j, np.searchsorted(vocabulary, p.hashes)] = True
    share = np.zeros((n, n))
    for i, p in enumerate(prints):
        if not len(p.hashes) or not p.coverage:
            continue
        columns = np.searchsorted(vocabulary, p.hashes)
        step = max(1, CELLS // len(columns))
        for start in range(0, n, step):
            rows = holds[start:start + step][:, columns]
            share[i, start:start + step] = covered(rows, p.positions) / p.coverage
        share[i, i] = 0.0
    return share


def codes_of(subs) -> dict[str, dict[str, str]]:
    """file -> {submission's key -> the code grading takes}, for each file a submission has."""
    codes: dict[str, dict[str, str]] = {file: {} for file in config.FILES}
    for sub in subs:
        if Path(sub.path).is_dir():
            _, read = intake.take(sub.path)
            for file in config.FILES:
                if f"{file}.py" in read:
                    codes[file][sub.key] = python_text(read[f"{file}.py"])
    return codes


def python_text(data: bytes) -> str:
    """A file of Python as Python reads it: in the encoding its coding line declares (PEP 263).

    Decoded as UTF-8 instead, a file declaring `# coding: utf_7` could hold all its code in one
    comment ("+AAo-" is a newline in UTF-7): Python runs it, the comparison saw a comment."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding, "replace")
    except (SyntaxError, LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", "replace")


def scan(subs, jobs: int | None = None) -> list[tuple[str, str, str, float]]:
    """(student a, student b, file, score) for every pair and file, the highest first."""
    codes = codes_of(subs)
    jobs = max(1, jobs or config.cpus())
    keys = {file: sorted(codes[file]) for file in config.FILES if len(codes[file]) > 1}
    rows = []
    with ProcessPoolExecutor(jobs) as pool:  # part i of a file: its keys i, i + jobs, ...
        parts = {file: [pool.submit(prints_of, file, [codes[file][k] for k in names[i::jobs]])
                        for i in range(jobs)] for file, names in keys.items()}
        for file, names in keys.items():
            got = [future.result() for future in parts[file]]
            share = shares([got[n % jobs][n // jobs] for n in range(len(names))])
            rows += [(a, names[j], f"{file}.py", round(float(max(share[i, j], share[j, i])), 3))
                     for i, a in enumerate(names) for j in range(i + 1, len(names))]
    return sorted(rows, key=lambda r: (-r[3], r[2], r[0], r[1]))


def csv_text(rows) -> str:
    """similarity.csv: one row per pair and file, each cell through csv_cell (names are text a
    student chose)."""
    header = ["student_a", "student_b", "file", "similarity"]
    return csv_table([header, *[(a, b, f, f"{s:.3f}") for a, b, f, s in rows]])


def report_section(rows, top: int = TOP) -> str:
    """report.md's section: the most similar pairs, in neutral words."""
    lines = ["## Code similarity", "",
             "How much of one student's code (the stubs left out) is also in another's, after "
             "names are abstracted (copydetect). A high score says the code is alike, not that "
             "anyone copied: look at the files before drawing any conclusion. Every pair is in "
             "similarity.csv.", ""]
    if not rows:
        return "\n".join(lines + ["No two submissions hold the same file.", ""])
    lines += ["| student a | student b | file | similarity |", "| --- | --- | --- | ---: |"]
    lines += [f"| {markdown(a)} | {markdown(b)} | {f} | {100 * s:.0f} % |"
              for a, b, f, s in rows[:top]]
    return "\n".join(lines + [""])
