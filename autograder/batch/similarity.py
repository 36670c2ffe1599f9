"""How alike the class's code is, pair by pair (`make grade-all`): similarity.csv and a section of
report.md.

The comparison is copydetect's (a maintained plagiarism detector; it runs
offline): each file is tokenised by Pygments with names of variables,
functions and classes abstracted (so renaming changes nothing), and
fingerprinted by winnowing k-grams of tokens; the handout's stubs are
boilerplate, so the code every student was given counts for nothing. A
notebook is compared as the code the grader extracted from it (`intake.take`).

Each pair of students is compared on each of the three files. A pair's score
is the larger of copydetect's two shares (`compare_files`): the part of one
student's code (stubs left out) also found in the other's. The fingerprints
are made in parallel processes; the shares of all pairs of a file are then
computed at once, as arrays (`shares`), to the same values. The report states similarity, not guilt:
short files,
shared tutorials and the reference's own hints make honest submissions alike.

`tools/similarity_bench.py` times it on a generated class (README, Performance).
"""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from autograder.core import config
from autograder.core.text import csv_table, markdown
from autograder.harness import intake, notebook

NOISE, GUARANTEE = (
    25,
    30,
)  # copydetect's defaults: k-grams of 25 tokens; a copy of 30 tokens is always found
TOP = 10  # pairs listed in report.md


def fingerprint(code: str, boilerplate=None):
    """copydetect's fingerprint of one file of Python (a k-gram per token with no boilerplate,
    winnowed)."""
    from copydetect import CodeFingerprint

    window = 1 if boilerplate is None else GUARANTEE - NOISE + 1
    return CodeFingerprint("code.py", NOISE, window, boilerplate, fp=io.StringIO(code))


def boilerplate(file: str):
    """The hashes of the stub of `file`: code every student was given."""
    import numpy as np

    stub = notebook.stub(file)
    return (
        np.unique(np.array(list(fingerprint(stub.decode()).hashes)))
        if stub
        else np.array([], dtype=np.int64)
    )


class Prints:
    """One file's copydetect fingerprint as a comparison needs it: the position of each selected
    k-gram (in
    order) and its hash, and the number of tokens the fingerprint covers."""

    def __init__(self, code: str, stub):
        import numpy as np

        found = fingerprint(code, stub)
        pairs = sorted(
            (int(i), int(h)) for h, positions in found.hash_idx.items() for i in positions
        )
        self.positions = np.array([i for i, _ in pairs], dtype=np.float64)
        self.hashes = np.array([h for _, h in pairs], dtype=np.int64)
        self.coverage = float(found.token_coverage)


def prints_of(file: str, codes: list[str]) -> list[Prints]:
    stub = boilerplate(file)
    return [Prints(code, stub) for code in codes]


def covered(found, positions):
    """Tokens covered by the k-grams at `positions` (sorted) that each row of `found` marks:
    copydetect's copied
    slices (`get_copied_slices`: k-grams closer than k tokens merge) summed, for many files at
    once."""
    import numpy as np

    at = np.where(found, positions, np.inf)
    after = np.minimum.accumulate(at[:, ::-1], axis=1)[
        :, ::-1
    ]  # the nearest marked position at or after each
    following = np.concatenate([after[:, 1:], np.full((len(found), 1), np.inf)], axis=1)
    return np.where(found, np.minimum(following - positions, NOISE), 0.0).sum(axis=1)


def shares(prints: list[Prints], cells: int = 4_000_000):
    """share[i, j]: the part of file i's tokens also in file j, as copydetect's `compare_files`
    measures it."""
    import numpy as np

    n = len(prints)
    vocabulary = np.unique(
        np.concatenate([p.hashes for p in prints] + [np.array([], dtype=np.int64)])
    )
    holds = np.zeros(
        (n, len(vocabulary)), dtype=bool
    )  # holds[j, h]: file j has the k-gram of hash h
    for j, p in enumerate(prints):
        holds[j, np.searchsorted(vocabulary, p.hashes)] = True
    share = np.zeros((n, n))
    for i, p in enumerate(prints):
        if not len(p.hashes) or not p.coverage:
            continue
        columns = np.searchsorted(vocabulary, p.hashes)
        step = max(1, cells // len(columns))  # bounded memory, however long a file is
        for start in range(0, n, step):
            share[i, start : start + step] = (
                covered(holds[start : start + step][:, columns], p.positions) / p.coverage
            )
        share[i, i] = 0.0
    return share


def codes_of(subs) -> dict[str, dict[str, str]]:
    """file -> {submission's key -> the code grading takes}, for each file a submission has."""
    codes: dict[str, dict[str, str]] = {file: {} for file in config.FILES}
    for sub in subs:
        if not Path(sub.path).is_dir():
            continue
        _, read = intake.take(sub.path)
        for file in config.FILES:
            if f"{file}.py" in read:
                codes[file][sub.key] = read[f"{file}.py"].decode("utf-8", "replace")
    return codes


def scan(subs, jobs: int | None = None) -> list[tuple[str, str, str, float]]:
    """Every pair's score on every file, the highest first; the fingerprints are made in `jobs`
    processes."""
    codes = codes_of(subs)
    jobs = max(1, jobs or config.cpus())
    files = [file for file in config.FILES if len(codes[file]) > 1]
    keys = {file: sorted(codes[file]) for file in files}
    with ProcessPoolExecutor(jobs) as pool:
        parts = {
            file: [
                pool.submit(prints_of, file, [codes[file][k] for k in keys[file][i::jobs]])
                for i in range(jobs)
            ]
            for file in files
        }
        rows = []
        for file in files:  # back in the order of keys: part i holds keys i, i + jobs, ...
            got = [future.result() for future in parts[file]]
            names = keys[file]
            share = shares([got[n % jobs][n // jobs] for n in range(len(names))])
            rows += [
                (a, names[j], f"{file}.py", round(float(max(share[i, j], share[j, i])), 3))
                for i, a in enumerate(names)
                for j in range(i + 1, len(names))
            ]
    return sorted(rows, key=lambda r: (-r[3], r[2], r[0], r[1]))


def csv_text(rows) -> str:
    """similarity.csv: one row per pair and file, through csv_cell (a student's folder name is their
    text)."""
    return csv_table(
        [
            ["student_a", "student_b", "file", "similarity"],
            *[(a, b, f, f"{s:.3f}") for a, b, f, s in rows],
        ]
    )


def report_section(rows, top: int = TOP) -> str:
    """report.md's section: the most similar pairs, in neutral words."""
    lines = [
        "## Code similarity",
        "",
        "How much of one student's code (the stubs left out) is also in another's, after names "
        "are abstracted (copydetect). A high score says the code is alike, not that anyone "
        "copied: look at the files before drawing any conclusion. Every pair is in "
        "similarity.csv.",
        "",
    ]
    if not rows:
        return "\n".join(lines + ["No two submissions hold the same file.", ""])
    lines += ["| student a | student b | file | similarity |", "| --- | --- | --- | ---: |"]
    lines += [
        f"| {markdown(a)} | {markdown(b)} | {f} | {100 * s:.0f} % |" for a, b, f, s in rows[:top]
    ]
    return "\n".join(lines + [""])
