"""A fit that reads its batches through `DataLoader(num_workers=2)`, as the seed tutorial does,
grades as the reference does in the sandbox (processes, shared memory, the start method), and the
CPU time of its loader workers counts against its budget: training in child processes escapes
nothing.

tests/submissions/dataloader_workers/ is the reference's two PyTorch files with such a fit; it
prints the CPU time its own process and its (reaped) loader workers used while it ran.
"""

import json
import re
import shutil

import pytest

from autograder.core import config
from autograder.harness import evidence
from tests.conftest import ROOT, failed, shared_folder

SUBMISSION = ROOT / "tests" / "submissions" / "dataloader_workers"


@pytest.fixture(scope="module")
def graded(run_grader, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataloader") / "submission"
    shutil.copytree(SUBMISSION, folder)
    for png in config.PNG_FILES.values():
        shutil.copy(ROOT / "solutions" / png, folder / png)
    work = shared_folder("dataloader") / "work"  # outside pytest's 0700 folders: workers go through
    return run_grader(folder, only="pytorch_ann", work=work), work / "evidence" / "pytorch_ann"


def test_a_dataloader_with_two_workers_grades_full_marks(graded):
    results, _ = graded
    assert not failed(results), failed(results)
    assert results["score"] == sum(t["max_score"] for t in results["tests"])


def test_the_loader_workers_cpu_counts_against_the_training_budget(graded):
    _, out = graded
    printed = (out / "output.txt").read_text(errors="replace")
    said = re.findall(r"fit used CPU: ([\d.]+) s here, ([\d.]+) s in its loader workers", printed)
    here, children = map(float, said[-1])
    assert children > 0.1, f"the loader workers did no work: {printed[-500:]}"
    train = next(e for e in evidence.read_log(out) if e["event"] == "done" and e["call"] == "train")
    # The grader counts the whole call (fit, then predict): at least fit's and its workers' CPU.
    assert train["cpu_seconds"] >= here + children - 0.5, json.dumps(train)[:300]
