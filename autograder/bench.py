"""`make bench`: how fast and how lean grading the reference is, part by part.

    python -m autograder.bench [--python PY] [--out bench.json]

Grades solutions/ twice, on one core (`taskset -c 0`, one thread) and on all
cores, with the interpreter PY (default: this one; `make bench` uses a
virtual environment with the CPU build of torch, as on Gradescope). While it
runs, it samples the resident memory of the grader and its workers together
every 20 ms: the sum of their resident sizes (RSS), an upper bound that
counts a shared library once per process; while a process has forked and not
yet exec'd (a worker starting a command, as matplotlib does with fc-list),
the two share every page, and the sum of their proportional set sizes (PSS)
is taken instead, which counts each page once. Per graded file it reports
seconds, peak resident MB, epochs,
training images per second and test accuracy; then the totals. For
comparison it times, in this same run, the tutorial pipeline students
usually start from (torchvision dataset with ToTensor, DataLoader at batch
64, a 784-128-64-10 MLP with Adam) until it reaches 80 % test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder import config
from autograder.results import write_json_atomically

ROOT = Path(__file__).resolve().parent.parent
TRAIN_IMAGES = 60_000 - config.VAL_SIZE


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def resident_mb(pid: int, key: str = "VmRSS:") -> float:
    """One process's resident MB: VmRSS (cheap to read), or with key="Pss:" its proportional set size.

    PSS is its private pages plus its share of the pages it shares; reading it walks the page tables
    (some milliseconds for a worker holding torch), so it is read only when it matters.
    """
    path = f"/proc/{pid}/status" if key == "VmRSS:" else f"/proc/{pid}/smaps_rollup"
    try:
        for line in open(path):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def together_mb(pids: list[int]) -> float:
    """Resident MB of these processes together.

    The sum of their RSS, except while two of them run the same command line: a fork that has not exec'd
    yet shares every page of its parent, and then the sum of their PSS counts each page once.
    """
    commands = [cmdline(pid) for pid in pids]
    key = "Pss:" if len(set(commands)) < len(commands) else "VmRSS:"
    return sum(resident_mb(pid, key) for pid in pids)


def cmdline(pid: int) -> bytes:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


def part_running(pids: list[int]) -> str | None:
    for pid in pids:
        args = cmdline(pid).split(b"\0")
        if b"autograder.worker" in args:
            return args[args.index(b"autograder.worker") + 1].decode()
    return None


def grade_and_sample(python: str, cpus: str | None, work: Path) -> dict:
    """Grade the reference with `python`, pinned to `cpus` if given; seconds and memory peaks."""
    results = work / "results.json"
    cmd = [python, "-m", "pytest", "-c", "autograder/pytest.ini", "--rootdir", "autograder", "autograder/tests",
           "--submission", "solutions", "--results", str(results), "--work", str(work / "grading"), "-q",
           "-p", "no:warnings"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
        env["GRADER_THREADS"] = str(len(cpus.split(",")))
    peaks: dict[str, float] = {}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def sample():
        while proc.poll() is None:
            pids = process_tree(proc.pid)
            total = together_mb(pids)
            part = part_running(pids) or "grader"
            peaks[part] = max(peaks.get(part, 0), total)
            peaks["total"] = max(peaks.get("total", 0), total)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    proc.wait()
    sampler.join()
    seconds = time.monotonic() - started
    graded = json.loads(results.read_text())
    rows = {}
    for file in config.FILES:
        log = [json.loads(line) for line in (work / "grading" / "evidence" / file / "log.jsonl").read_text().splitlines()
               if line.strip()]
        done = {e["call"]: e for e in log if e["event"] == "done"}
        train = done["train"]
        epochs = len(train["values"]["history"]["train_loss"])
        accuracy = next(t["output"] for t in graded["tests"] if t["name"].startswith(f"{file}.accuracy"))
        rows[file] = {
            "seconds": round(sum(e["seconds"] or 0 for e in done.values()), 1),
            "train_seconds": round(train["values"]["seconds"], 1),
            "peak_mb": round(peaks.get(file, 0)),
            "epochs": epochs,
            "images_per_second": round(TRAIN_IMAGES * epochs / train["values"]["seconds"]),
            "test_accuracy": float(accuracy.split("test accuracy ")[1].split("%")[0]),
        }
    return {"parts": rows, "total_seconds": round(seconds, 1), "peak_mb": round(peaks.get("total", 0)),
            "score": graded["score"]}


def tutorial_pipeline(python: str, limit_epochs: int = 10) -> dict:
    """Time the classic torchvision + DataLoader pipeline until it reaches 80 % test accuracy."""
    code = f"""
import gzip, json, shutil, sys, tempfile, time, os
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
torch.manual_seed(0)
torch.set_num_threads({os.cpu_count()})
root = tempfile.mkdtemp()
raw = os.path.join(root, "FashionMNIST", "raw")
os.makedirs(raw)
for name in [n for n in os.listdir({str(ROOT / 'data' / 'FashionMNIST' / 'raw')!r}) if n.endswith(".gz")]:
    with gzip.open(os.path.join({str(ROOT / 'data' / 'FashionMNIST' / 'raw')!r}, name)) as f, \\
            open(os.path.join(raw, name[:-3]), "wb") as g:
        shutil.copyfileobj(f, g)
started = time.perf_counter()
train = datasets.FashionMNIST(root, train=True, download=False, transform=transforms.ToTensor())
test = datasets.FashionMNIST(root, train=False, download=False, transform=transforms.ToTensor())
loader = DataLoader(train, batch_size=64, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(1, {limit_epochs} + 1):
    model.train()
    for X, y in loader:
        optimizer.zero_grad()
        loss_fn(model(X), y).backward()
        optimizer.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for X, y in DataLoader(test, batch_size=1000):
            correct += (model(X).argmax(1) == y).sum().item()
    if correct / len(test) >= 0.80:
        break
print(json.dumps({{"seconds": round(time.perf_counter() - started, 1), "epochs": epoch,
                   "test_accuracy": round(100 * correct / len(test), 2)}}))
shutil.rmtree(root)
"""
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(run: dict, title: str) -> str:
    lines = [title, f"{'part':<12} {'seconds':>8} {'train s':>8} {'peak MB':>8} {'epochs':>7} {'images/s':>9} "
                    f"{'test acc':>9}"]
    for file, r in run["parts"].items():
        lines.append(f"{file:<12} {r['seconds']:>8.1f} {r['train_seconds']:>8.1f} {r['peak_mb']:>8} {r['epochs']:>7} "
                     f"{r['images_per_second']:>9} {r['test_accuracy']:>8.2f}%")
    lines.append(f"{'total':<12} {run['total_seconds']:>8.1f} {'':>8} {run['peak_mb']:>8}   "
                 f"(wall clock of the whole grading, peak of grader and workers together; score {run['score']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to grade with (CPU torch build)")
    parser.add_argument("--tutorial-python", default=sys.executable, help="interpreter with torchvision")
    parser.add_argument("--out", type=Path, default=ROOT / "bench.json")
    args = parser.parse_args(argv)
    report = {"python": args.python, "cores": os.cpu_count()}
    for name, cpus in (("one_core", "0"), ("all_cores", None)):
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        work.chmod(0o755)
        try:
            print(f"Grading the reference on {'one core' if cpus else 'all cores'} ...", flush=True)
            report[name] = grade_and_sample(args.python, cpus, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(table(report[name], f"\n{name.replace('_', ' ')} ({args.python})"), flush=True)
    print("\nTiming the tutorial pipeline (torchvision ToTensor + DataLoader, batch 64, Adam) ...", flush=True)
    tutorial = tutorial_pipeline(args.tutorial_python)
    report["tutorial"] = tutorial
    if "seconds" in tutorial:
        ours = report["all_cores"]["parts"]["pytorch_ann"]
        ratio = tutorial["seconds"] / max(ours["train_seconds"], 1e-9)
        report["tutorial"]["ratio"] = round(ratio, 1)
        print(f"tutorial pipeline: {tutorial['test_accuracy']:.2f}% after {tutorial['epochs']} epochs in "
              f"{tutorial['seconds']:.1f} s; the graded PyTorch ANN: {ours['test_accuracy']:.2f}% in "
              f"{ours['train_seconds']:.1f} s ({ratio:.0f}x faster)")
    else:
        print(f"tutorial pipeline could not run: {tutorial['error']}")
    write_json_atomically(args.out, report)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
