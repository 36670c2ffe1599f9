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
