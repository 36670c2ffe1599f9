"""The similarity scan of `make grade-all` timed on a generated class: `python
tools/similarity_bench.py`.

Each student's three files are drawn from the reference and the three correct variants of
tests/submissions/,
with some names renamed and every comment changed: a class where every pair is much alike, the
scan's worst case.

    python tools/similarity_bench.py [--students 300]
"""

from __future__ import annotations

import argparse
import random
import re
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
    """`code` with some of its assigned names renamed and its comments changed, as students' own
    code differs."""
    names = sorted(set(re.findall(r"\b(?:self\.)?([a-z_][a-z0-9_]{2,})\s*=", code)))
    for name in rng.sample(names, k=min(len(names), 8)):
        code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(1000)}", code)
    return re.sub(r"#.*", lambda m: f"# note {rng.randrange(10**6)}", code)


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
