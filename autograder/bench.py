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
training images per second and test accuracy; then the totals.

Then it emulates Gradescope's default machine: 0.5 CPU and 768 MiB, page
cache included, with a control group (cgroup v2, else v1; skipped with a note
where neither can be made, as without root). It grades the reference, then
the reference with a textbook CNN (tests/submissions/textbook_cnn/), and
reports the group's memory: its peak of anonymous memory, which the kernel
cannot take back, the page cache beside it, and any process it killed. For
comparison it times, in this same run, the tutorial pipeline students
usually start from (torchvision dataset with ToTensor, DataLoader at batch
64, a 784-128-64-10 MLP with Adam) until it reaches 80 % test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder import ROOT, grade
from autograder.core import config
from autograder.harness import calibrate
from autograder.harness.sandbox import proc_file, process_tree
from autograder.suite.results import plain, write_json_atomically

TRAIN_IMAGES = 60_000 - config.VAL_SIZE
MB = 1 << 20


def resident_mb(pid: int, key: str = "VmRSS:") -> float:
    """One process's resident MB: VmRSS (cheap to read), or with key="Pss:" its proportional set size.

    PSS is its private pages plus its share of the pages it shares; reading it walks the page tables
    (some milliseconds for a worker holding torch), so it is read only when it matters.
    """
    for line in proc_file(pid, "status" if key == "VmRSS:" else "smaps_rollup").decode(errors="replace").splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
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
    return proc_file(pid, "cmdline")


def part_running(pids: list[int]) -> str | None:
    for pid in pids:
        args = cmdline(pid).split(b"\0")
        if b"autograder.runtime.worker" in args:
            return args[args.index(b"autograder.runtime.worker") + 1].decode()
    return None


# ------------------------------------------------------------------ Gradescope's default limits, emulated

LIMIT_CPUS = 0.5  # Gradescope's default machine: 0.5 vCPU ...
LIMIT_MEMORY_MB = 768  # ... and 768 MiB of memory, page cache included


class Cgroup:
    """A control group that limits CPU and memory as Gradescope's defaults do: cgroup v2, else v1.

    `Cgroup.create()` returns None, with the reason in `Cgroup.why_not`, where the machine lets us make neither
    (not root, no controllers). Reads: the group's peak memory, its anonymous and file-backed (page cache)
    memory now, and how often the kernel killed a process in it for memory.
    """

    why_not = ""

    def __init__(self, version: int, dirs: dict[str, Path]):
        self.version, self.dirs = version, dirs

    @classmethod
    def create(cls, cpus: float = LIMIT_CPUS, memory_mb: int = LIMIT_MEMORY_MB) -> Cgroup | None:
        name = f"grader-bench-{os.getpid()}"
        reasons = []
        for make in (cls._v2, cls._v1):
            try:
                group = make(name)
                group.limit(cpus, memory_mb << 20)
                return group
            except (OSError, ValueError) as e:
                reasons.append(str(e))
                if "group" in locals():
                    group.remove()
        cls.why_not = "; ".join(reasons)
        return None

    @staticmethod
    def _own(controller: str) -> str:
        """This process's group path in the hierarchy of `controller` ("" for cgroup v2), from /proc/self/cgroup."""
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path
        raise ValueError(f"no {controller or 'cgroup v2'} hierarchy in /proc/self/cgroup")

    @staticmethod
    def _mounts(fstype: str) -> list[tuple[str, list[str]]]:
        """(mount point, options) of every mounted filesystem of `fstype`, from /proc/self/mounts."""
        fields = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
        return [(f[1], f[3].split(",")) for f in fields if len(f) > 3 and f[2] == fstype]

    @classmethod
    def _v2(cls, name: str) -> Cgroup:
        mounts = [point for point, _ in cls._mounts("cgroup2")]
        if not mounts:
            raise ValueError("cgroup v2 is not mounted")
        parent = Path(mounts[0]) / cls._own("").lstrip("/")
        wanted = {"cpu", "memory"}
        if not wanted <= set((parent / "cgroup.controllers").read_text().split()):
            raise ValueError(f"cgroup v2 at {parent} does not offer the cpu and memory controllers")
        (parent / "cgroup.subtree_control").write_text("+cpu +memory")
        group = parent / name
        group.mkdir()
        return cls(2, {"cpu": group, "memory": group})

    @classmethod
    def _v1(cls, name: str) -> Cgroup:
        dirs = {}
        for controller in ("cpu", "memory"):
            mount = next((point for point, options in cls._mounts("cgroup") if controller in options), None)
            if mount is None:
                raise ValueError(f"cgroup v1 has no {controller} hierarchy")
            dirs[controller] = Path(mount) / cls._own(controller).lstrip("/") / name
        group = cls(1, {})
        for controller, path in dirs.items():
            path.mkdir()
            group.dirs[controller] = path
        return group

    def limit(self, cpus: float, memory: int) -> None:
        period = 100_000
        if self.version == 2:
            (self.dirs["cpu"] / "cpu.max").write_text(f"{int(cpus * period)} {period}")
            (self.dirs["memory"] / "memory.max").write_text(str(memory))
            (self.dirs["memory"] / "memory.swap.max").write_text("0")
        else:
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(period))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))
            (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory))
            swap = self.dirs["memory"] / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory))

    def join(self) -> None:
        """As preexec_fn: put the calling process (and so everything it starts) into the group."""
        for path in set(self.dirs.values()):
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def stat(self) -> dict[str, int]:
        """Bytes now: "anon" (the processes' own memory), "file" (page cache, shared memory included) and "total"."""
        values = {}
        for line in (self.dirs["memory"] / "memory.stat").read_text().splitlines():
            key, value = line.split()
            values[key] = int(value)
        if self.version == 2:
            anon, file = values.get("anon", 0), values.get("file", 0)
            total = int((self.dirs["memory"] / "memory.current").read_text())
        else:
            anon, file = values.get("total_rss", 0), values.get("total_cache", 0)
            total = int((self.dirs["memory"] / "memory.usage_in_bytes").read_text())
        return {"anon": anon, "file": file, "total": total}

    def peak(self) -> int | None:
        """The group's peak memory in bytes, as the kernel counted it (None where it does not say)."""
        path = self.dirs["memory"] / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes")
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """Processes the kernel killed in this group for want of memory."""
        path = self.dirs["memory"] / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            for line in path.read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def remove(self) -> None:
        for path in set(self.dirs.values()):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def grade_and_sample(python: str, cpus: str | None, work: Path, submission: Path = ROOT / "solutions",
                     group: Cgroup | None = None) -> dict:
    """Grade `submission` with `python`, pinned to `cpus` if given, in `group` if given; seconds and memory peaks."""
    results = work / "results.json"
    cmd = [python, "-m", "pytest", *grade.suite_args(), "--submission", str(submission), "--results", str(results),
           "--work", str(work / "grading"), "-q", "-p", "no:warnings"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
        env["GRADER_THREADS"] = str(len(cpus.split(",")))
    peaks: dict[str, float] = {}
    in_group = {"total": 0, "anon": 0, "file": 0}  # the group's memory when its total was highest
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            preexec_fn=group.join if group else None)

    def sample():
        while proc.poll() is None:
            pids = process_tree(proc.pid)
            total = together_mb(pids)
            part = part_running(pids) or "grader"
            peaks[part] = max(peaks.get(part, 0), total)
            peaks["total"] = max(peaks.get("total", 0), total)
            if group is not None:
                now = group.stat()
                peaks["anon"] = max(peaks.get("anon", 0), now["anon"] / MB)
                peaks[f"group {part}"] = max(peaks.get(f"group {part}", 0), now["total"] / MB)
                if now["total"] >= in_group["total"]:
                    in_group.update(now)
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
        train = done.get("train", {}).get("values") or {}  # empty when training did not finish (killed, say)
        epochs = len((train.get("history") or {}).get("train_loss") or [])
        accuracy = next(plain(t) for t in graded["tests"]
                        if t["name"].startswith(f"{file}.accuracy"))
        rows[file] = {
            "seconds": round(sum(e["seconds"] or 0 for e in done.values()), 1),
            "train_seconds": round(train.get("seconds", 0.0), 1),
            "peak_mb": round(peaks.get(file, 0)),
            "epochs": epochs,
            "images_per_second": round(TRAIN_IMAGES * epochs / train["seconds"]) if train else 0,
            "test_accuracy": float(accuracy.split("test accuracy ")[1].split("%")[0]) if "test accuracy " in accuracy
            else 0.0,
        }
        if group is not None:
            rows[file]["group_peak_mb"] = round(peaks.get(f"group {file}", 0))
    run = {"parts": rows, "total_seconds": round(seconds, 1), "peak_mb": round(peaks.get("total", 0)),
           "score": graded["score"]}
    if group is not None:
        peak = group.peak()
        run["group"] = {"peak_mb": round((peak if peak is not None else in_group["total"]) / MB),
                        "at_peak_anon_mb": round(in_group["anon"] / MB), "at_peak_file_mb": round(in_group["file"] / MB),
                        "peak_anon_mb": round(peaks.get("anon", 0)), "oom_kills": group.oom_kills()}
    return run


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


TEXTBOOK_CNN = ROOT / "tests" / "submissions" / "textbook_cnn" / "pytorch_cnn.py"  # 32-64 channels, batch 64


def emulated_gradescope(python: str) -> dict:
    """Grade the reference, then the reference with a textbook CNN, each in its own group with Gradescope's limits.

    Caches are dropped first where the machine allows it, so that the group is charged for the pages it reads
    (torch's libraries, the data), as a fresh Gradescope container is.
    """
    limits = f"{LIMIT_CPUS} CPU, {LIMIT_MEMORY_MB} MiB"
    runs = {}
    for name, cnn in (("reference", None), ("textbook_cnn", TEXTBOOK_CNN)):
        group = Cgroup.create()
        if group is None:
            print(f"\nGradescope's defaults ({limits}) not emulated: no control group could be made "
                  f"({Cgroup.why_not})", flush=True)
            return {"skipped": Cgroup.why_not}
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            submission = ROOT / "solutions"
            if cnn is not None:
                submission = work / "submission"
                shutil.copytree(ROOT / "solutions", submission)
                shutil.copyfile(cnn, submission / "pytorch_cnn.py")
            for path in [work, *work.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
            dropped = drop_caches()
            print(f"\nGrading the {name.replace('_', ' ')} under Gradescope's defaults ({limits}, cgroup "
                  f"v{group.version}{'' if dropped else ', caches not dropped'}) ...", flush=True)
            runs[name] = grade_and_sample(python, None, work, submission, group)
            runs[name]["caches_dropped"] = dropped
        finally:
            group.remove()
            shutil.rmtree(work, ignore_errors=True)
    print(gradescope_table(runs), flush=True)
    return {"limits": {"cpus": LIMIT_CPUS, "memory_mb": LIMIT_MEMORY_MB}, **runs}


def drop_caches() -> bool:
    """Empty the kernel's page cache (root only), so a group pays for the files it reads. Whether it could."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def gradescope_table(runs: dict) -> str:
    lines = [f"\nUnder Gradescope's defaults ({LIMIT_CPUS} CPU, {LIMIT_MEMORY_MB} MiB): the group's memory. "
             "Anonymous memory is what the kernel cannot take back; page cache (libraries, data files) it drops "
             "under pressure.",
             f"{'submission':<14} {'seconds':>8} {'score':>6} {'anon peak':>10} {'spare':>6} {'group peak':>11} "
             f"{'file at peak':>13} {'OOM kills':>10}"]
    for name, run in runs.items():
        g = run["group"]
        lines.append(f"{name:<14} {run['total_seconds']:>8.1f} {run['score']:>6} {g['peak_anon_mb']:>7} MB "
                     f"{LIMIT_MEMORY_MB - g['peak_anon_mb']:>6} {g['peak_mb']:>8} MB {g['at_peak_file_mb']:>10} MB "
                     f"{g['oom_kills']:>10}")
    return "\n".join(lines)


FOLLOWER = ROOT / "tests" / "submissions" / "dataloader_workers"  # the seed tutorial's DataLoader, 2 workers


def follower_run(python: str, busy: bool) -> dict:
    """Grade the tutorial follower's pytorch_ann.py, idle or beside a grading of the reference (a competing
    `make grade`); its score, its training's CPU time and budget, and the speed factor measured then."""
    work = Path(tempfile.mkdtemp(prefix="bench-follower-"))
    work.chmod(0o755)
    rival = None
    try:
        if busy:
            rival = subprocess.Popen([python, "-m", "autograder.grade", "--results", str(work / "rival.json"),
                                      "--", str(ROOT / "solutions")], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT,
                                     env=dict(os.environ, GRADER_STUDENT_USER="grader-bench-rival"))
            time.sleep(5)  # the rival past its start, into its workers
        speed = calibrate.speed()
        done = subprocess.run([python, "-m", "autograder.grade", "--only", "pytorch_ann", "--results",
                               str(work / "results.json"), "--", str(FOLLOWER)], cwd=ROOT, capture_output=True,
                              text=True, env=dict(os.environ, GRADER_SPEED=str(speed)))
        graded = json.loads((work / "results.json").read_text())
        accuracy = next(t for t in graded["tests"] if t["name"].startswith("pytorch_ann.accuracy"))
        used = re.search(r"training used ([\d.]+) s of CPU time", accuracy.get("output", ""))
        return {"busy": busy, "score": graded["score"], "speed": speed, "status": done.returncode,
                "train_cpu_seconds": float(used[1]) if used else None,
                "budget_seconds": round(config.TRAIN_DEADLINE * config.TRAIN_SHARE["pytorch_ann"] * speed, 1),
                "accuracy_passed": accuracy["status"] == "passed"}
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()
        shutil.rmtree(work, ignore_errors=True)


def follower_table(runs: list[dict]) -> str:
    lines = ["| machine | speed factor | training CPU-seconds | budget | accuracy test | score |",
             "| --- | ---: | ---: | ---: | --- | ---: |"]
    for run in runs:
        used = f"{run['train_cpu_seconds']:.1f}" if run["train_cpu_seconds"] is not None else "?"
        lines.append(f"| {'beside a make grade' if run['busy'] else 'idle'} | {run['speed']:.2f} | {used} | "
                     f"{run['budget_seconds']:.1f} | {'passed' if run['accuracy_passed'] else 'failed'} | "
                     f"{run['score']:g} |")
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
    report["gradescope_defaults"] = emulated_gradescope(args.python)
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
    print("\nGrading the tutorial follower (DataLoader, num_workers=2), idle and beside a make grade ...",
          flush=True)
    report["follower"] = [follower_run(args.python, busy) for busy in (False, True)]
    print(follower_table(report["follower"]))
    write_json_atomically(args.out, report)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
