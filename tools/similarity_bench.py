"""The similarity scan of `make grade-all`, timed on a generated class.

Each student's three files are drawn from the reference and the three correct variants of
tests/submissions/, with their local variables renamed and their layout redone: a class where
every pair is much alike, the scan's worst case.

    python tools/similarity_bench.py [--students 300]
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.batch import similarity  # noqa: E402
from autograder.batch.submissions import Submission  # noqa: E402
from autograder.core import config  # noqa: E402

SOURCES = [
    ROOT / "solutions",
    *(ROOT / "tests" / "submissions" / v for v in ("variant_a", "variant_b", "variant_c")),
]


def renamed(code: str, rng: random.Random) -> str:
    """`code` as a student who copied it might hand it in: the local variables of every function
    renamed, comments dropped and the layout redone (`ast.unparse`); it behaves the same."""
    tree = ast.parse(code)
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        local = sorted({n.id for n in ast.walk(function)
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - arguments)
        new = {name: f"{name}_{rng.randrange(1000)}" for name in local}
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and node.id in new:
                node.id = new[node.id]
    return ast.unparse(tree) + "\n"


def generate(folder: Path, students: int, seed: int = 0) -> list[Submission]:
    """A class of `students` folders, each file taken from one of SOURCES and renamed."""
    rng, subs = random.Random(seed), []
    for n in range(students):
        sub = folder / f"student_{n:03d}"
        sub.mkdir(parents=True)
        for file in config.FILES:
            source = rng.choice([s for s in SOURCES if (s / f"{file}.py").is_file()])
            (sub / f"{file}.py").write_text(renamed((source / f"{file}.py").read_text(), rng))
        subs.append(Submission(sub.name, sub))
    return subs


def bench(students: int) -> float:
    """Seconds the scan of a generated class of `students` takes, printed with the number of
    pairs."""
    with tempfile.TemporaryDirectory() as tmp:
        subs = generate(Path(tmp), students)
        started = time.perf_counter()
        rows = similarity.scan(subs)
        seconds = time.perf_counter() - started
    print(
        f"{students} students x {len(config.FILES)} files: {len(rows):,} pairs compared "
        f"in {seconds:.1f} s ({config.cpus()} core(s))"
    )
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    bench(parser.parse_args(argv).students)
    return 0


if __name__ == "__main__":
    sys.exit(main())
