"""`make bench` measures memory as the processes hold it together: a shared page counts once."""

import subprocess
import sys

from autograder import bench

HOLD_200_MB_THEN_FORK = """
import os, sys, time
block = bytearray(200 << 20)
block[::4096] = b"x" * len(block[::4096])  # touch every page: 200 MB resident
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
print(child, flush=True)
time.sleep(30)
"""


def test_a_forked_child_sharing_its_parents_memory_is_not_counted_twice():
    parent = subprocess.Popen([sys.executable, "-c", HOLD_200_MB_THEN_FORK], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        tree = bench.process_tree(parent.pid)
        assert sorted(tree) == sorted([parent.pid, child])
        together = bench.together_mb(tree)
        assert 200 <= together < 260, f"{together:.0f} MB for 200 MB held once"
    finally:
        parent.kill()
        parent.wait()


def test_the_emulated_gradescope_group_kills_what_exceeds_its_memory_and_says_so():
    group = bench.Cgroup.create(cpus=0.5, memory_mb=100)
    if group is None:
        import pytest

        pytest.skip(f"no control group can be made here: {bench.Cgroup.why_not}")
    try:
        small = subprocess.run([sys.executable, "-c", "b = bytearray(30 << 20); b[::4096] = b'x' * len(b[::4096])"],
                               preexec_fn=group.join)
        assert small.returncode == 0 and group.oom_kills() == 0
        assert group.peak() is None or group.peak() >= 30 << 20
        big = subprocess.run([sys.executable, "-c", "b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096])"],
                             preexec_fn=group.join)
        assert big.returncode == -9, big.returncode  # SIGKILL from the kernel: over the group's memory
        assert group.oom_kills() >= 1
    finally:
        group.remove()
    assert not any(path.exists() for path in group.dirs.values())
