"""The similarity scan of `make grade-all`: a copied-and-renamed pair ranks first among independent
submissions.

The class: three correct submissions written independently (the reference and two variants unlike
it), and a
fourth, variant_c, beside a copy of it whose names and comments were changed, handed in as a Colab
notebook. No
grading runs here: the scan reads the files as grading takes them (`intake.take`).
"""

from __future__ import annotations

import csv
import io
import random
import shutil

import pytest

from autograder.batch import similarity
from autograder.batch.submissions import Submission
from autograder.core import config
from tests.conftest import ROOT
from tests.notebooks import colab
from tools import similarity_bench

pytestmark = pytest.mark.slow  # processes and fingerprints: seconds, not for make test-fast

INDEPENDENT = {
    "alice": ROOT / "solutions",
    "bob": ROOT / "tests" / "submissions" / "variant_a",
    "carol": ROOT / "tests" / "submissions" / "variant_b",
}
ORIGINAL = ROOT / "tests" / "submissions" / "variant_c"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for name, source in {**INDEPENDENT, "dave": ORIGINAL}.items():
        shutil.copytree(
            source, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.png")
        )
    (folder / "zed").mkdir()
    rng = random.Random(1)
    for file in config.FILES:
        copied = similarity_bench.renamed((ORIGINAL / f"{file}.py").read_text(), rng)
        (folder / "zed" / f"{file}.ipynb").write_bytes(colab(copied, f"{file}.ipynb"))
    subs = [Submission(path.name, path) for path in sorted(folder.iterdir())]
    return similarity.scan(subs, jobs=2)


def test_the_copied_pair_ranks_first_for_every_file(pairs):
    for file in config.FILES:
        ranked = [row for row in pairs if row[2] == f"{file}.py"]
        assert ranked[0][:2] == ("dave", "zed"), ranked[:3]
        assert ranked[0][3] > 0.8 and ranked[1][3] < ranked[0][3] / 2, ranked[:3]


def test_the_csv_has_one_row_per_pair_and_file_the_highest_first(pairs):
    rows = list(csv.DictReader(io.StringIO(similarity.csv_text(pairs))))
    assert len(rows) == 10 * len(config.FILES)  # 5 students: 10 pairs per file
    assert list(rows[0]) == ["student_a", "student_b", "file", "similarity"]
    scores = [float(row["similarity"]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_the_report_lists_the_top_pairs_in_neutral_words_and_escapes_names():
    section = similarity.report_section([("<b>x</b>", "=cmd|' /C calc'!A0", "numpy_ann.py", 0.97)])
    assert "not that anyone copied" in section and "cheat" not in section.lower()
    assert "&lt;b&gt;" in section and "<b>" not in section and "97 %" in section


def test_the_stubs_count_as_boilerplate(tmp_path):
    for name in ("one", "two"):
        shutil.copytree(
            ROOT / "student", tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    rows = similarity.scan([Submission(p.name, p) for p in sorted(tmp_path.iterdir())], jobs=1)
    assert all(score == 0 for *_, score in rows), rows


def test_the_benchmark_runs_on_a_small_generated_class():
    assert similarity_bench.bench(12) < 60


def test_the_shares_are_copydetects_own(pairs):
    from copydetect import compare_files

    codes = [(path / "numpy_ann.py").read_text() for path in (*INDEPENDENT.values(), ORIGINAL)]
    stub = similarity.boilerplate("numpy_ann")
    share = similarity.shares([similarity.Prints(code, stub) for code in codes])
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            one, two = (similarity.fingerprint(codes[k], stub) for k in (i, j))
            _, (a, b), _ = compare_files(one, two)
            assert (share[i, j], share[j, i]) == pytest.approx((a, b))


def test_a_copy_hidden_in_a_utf_7_comment_is_found(tmp_path):
    # `# coding: utf_7` and the whole program on one comment line, its newlines written "+AAo-":
    # Python runs the program, and the scan, reading the file as UTF-8, saw one comment (0 %).
    source = (ORIGINAL / "numpy_ann.py").read_text()
    hidden = "# coding: utf_7\n#" + source.replace("+", "+-").replace("\n", "+AAo-") + "\n"
    assert similarity.python_text(hidden.encode()) == "# coding: utf_7\n#" + source + "\n"
    for name, data in (("dave", source.encode()), ("zed", hidden.encode())):
        (tmp_path / name).mkdir()
        (tmp_path / name / "numpy_ann.py").write_bytes(data)
    rows = similarity.scan([Submission(p.name, p) for p in sorted(tmp_path.iterdir())], jobs=1)
    assert rows[0][:3] == ("dave", "zed", "numpy_ann.py") and rows[0][3] > 0.8, rows
    assert similarity.python_text(b"# coding: no-such\nx = 1\xff") == "# coding: no-such\nx = 1\ufffd"
