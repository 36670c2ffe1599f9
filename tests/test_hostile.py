"""A catalogue of hostile submissions: each still yields an honest, valid results.json in time.

Each hostile is the reference numpy_ann.py with one bad behaviour injected,
at import or inside a function. The part it breaks must score 0 with a
message naming the cause, and the parts it leaves alone must still pass.
Every behaviour is bounded (loops stop after two minutes, forks after 400,
the process that outlives its grading after 60 s and 6000 forks; files are
touched only inside pytest's temporary folders or, when the grader's files
belong to another user, where the sandbox must refuse; the submitted files
of other gradings are written only where their sandbox user may write, and
never by an ordinary user's unconfined workers, whose tests are skipped),
so a failed defence cannot harm the machine.

Run as root, workers are grader-student without network; run as a normal
user, they share the user's rights, and the tests of defences that only
root can give say so in their assertions.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

import utils
from autograder.core import config
from autograder.core.text import printable
from autograder.harness import sandbox
from tests.conftest import ROOT, accuracy_test, failed
from tests.gradescope_schema import problems

ISOLATED = sandbox.student_user() is not None
NUMPY_TESTS = {name for name in config.POINTS if name.startswith("numpy_ann.")}
ACTIVATIONS = {n for n in NUMPY_TESTS if n.split(":")[0] in
               ("numpy_ann.relu", "numpy_ann.relu_prime", "numpy_ann.softmax", "numpy_ann.cross_entropy")}
FIT = {n for n in NUMPY_TESTS if n.startswith(("numpy_ann.fit", "numpy_ann.accuracy"))}
FAST = {"GRADER_CALL_BUDGET": "5", "GRADER_TRAIN_DEADLINE": "25"}  # 5 s per call, 5 s for numpy training
BOUNDED_LOOP = "import time as _t\n_t0 = _t.time()\nwhile _t.time() - _t0 < 120:\n    pass\n"
GRADER_ARGS = """
import os as _os
def _grader_args():
    args = []
    for pid in _os.listdir('/proc'):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                args += f.read().decode(errors='replace').split('\\0')
        except OSError:
            pass
    return args
def _after(flag):
    args = _grader_args()
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]
"""


@dataclass
class Hostile:
    name: str
    where: str  # "import", "end", or a function of numpy_ann.py whose body starts with the code
    code: str
    fail: set  # tests that must fail
    phrase: str = ""  # which the message of each failing test must contain
    keep: set = field(default_factory=set)  # tests that must still pass
    env: dict = field(default_factory=dict)
    first_call_only: bool = False  # the code runs in the first call of `where` only, not after the worker restarts


def inject(source: str, where: str, code: str) -> str:
    if where == "end":
        return source + "\n" + code
    if where == "import":
        anchor = "import utils  # noqa: E402\n"
        return source.replace(anchor, anchor + code + "\n")
    anchor = f"def {where}("
    start = source.index(anchor)
    body = source.index("\n", source.index(":\n", start)) + 1
    indent = " " * (len(source[body:]) - len(source[body:].lstrip(" ")))
    return source[:body] + "".join(indent + line + "\n" for line in code.splitlines()) + source[body:]


HOSTILES = [
    Hostile("a syntax error", "end", "def broken(:\n    pass\n", NUMPY_TESTS, "SyntaxError"),
    Hostile("an exception at import", "import", "raise RuntimeError('boom at import')", NUMPY_TESTS,
            "RuntimeError: boom at import"),
    Hostile("an infinite loop at import", "import", BOUNDED_LOOP, NUMPY_TESTS, "budget", env=FAST),
    Hostile("an infinite loop inside fit", "fit", BOUNDED_LOOP, FIT, "budget", keep=ACTIVATIONS, env=FAST),
    Hostile("sys.exit(0) at import", "import", "import sys as _s\n_s.exit(0)", NUMPY_TESTS, "SystemExit"),
    Hostile("os._exit(0) at import", "import", "import os as _o\n_o._exit(0)", NUMPY_TESTS, "exited with status 0"),
    Hostile("sys.exit(0) inside forward", "forward", "import sys as _s\n_s.exit(0)",
            {"numpy_ann.forward: matches the reference on fixed weights"}, "SystemExit", keep=ACTIVATIONS),
    Hostile("os._exit(0) inside forward", "forward", "import os as _o\n_o._exit(0)",
            {"numpy_ann.forward: matches the reference on fixed weights"}, "exited with status 0", keep=ACTIVATIONS),
    Hostile("200 MB printed to stdout", "import", "for _ in range(200):\n    print('x' * (1 << 20))",
            NUMPY_TESTS, "more than 64 MB"),
    Hostile("allocating 20 GB", "relu", "_waste = np.ones(20 * 2**30 // 8)",
            {"numpy_ann.relu: max(0, z) elementwise"}, "MemoryError",
            keep=ACTIVATIONS - {n for n in ACTIVATIONS if n.startswith("numpy_ann.relu:")}),
    # The first forward call only: the worker that runs it is killed, and the one started after it grades the rest.
    Hostile("ignoring SIGALRM, SIGPROF and SIGTERM in a loop", "forward",
            "import signal as _sg\nfor _n in (_sg.SIGALRM, _sg.SIGPROF, _sg.SIGTERM):\n    _sg.signal(_n, _sg.SIG_IGN)\n"
            + BOUNDED_LOOP, {"numpy_ann.forward: matches the reference on fixed weights"}, "killed",
            keep=NUMPY_TESTS - {"numpy_ann.forward: matches the reference on fixed weights"}, env=FAST, first_call_only=True),
    Hostile("monkeypatching numpy.allclose and array_equal", "end",
            "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
            "relu = lambda z: z  # wrong: a patched allclose must not hide it",
            {"numpy_ann.relu: max(0, z) elementwise"}, "values differ"),
    Hostile("monkeypatching builtins.open", "import",
            "import builtins as _b\n_b.open = lambda *a, **k: (_ for _ in ()).throw(OSError('no open for you'))",
            set(), keep=set()),
]


def grade_hostile(run_grader, folder, hostile):
    path = folder / "numpy_ann.py"
    path.write_text(inject(path.read_text(), hostile.where, once(hostile.code) if hostile.first_call_only else hostile.code))
    results = run_grader(folder, only="numpy_ann", env=hostile.env)
    assert problems(results) == []
    assert {t["name"] for t in results["tests"]} == NUMPY_TESTS
    return results


@pytest.mark.parametrize("hostile", HOSTILES, ids=lambda h: h.name)
def test_hostile_submission_is_graded_honestly(hostile, run_grader, reference_copy):
    results = grade_hostile(run_grader, reference_copy, hostile)
    fails = failed(results)
    for name in hostile.fail:
        assert name in fails, f"{name} should fail"
        assert hostile.phrase in fails[name], f"{name}: expected {hostile.phrase!r} in {fails[name]!r}"
    assert not (hostile.keep & set(fails)), {n: fails[n] for n in hostile.keep & set(fails)}


def test_a_fork_bomb_is_bounded_and_leaves_no_process(run_grader, reference_copy):
    code = ("import os as _o, time as _t\n_kids = 0\nfor _ in range(400):\n    if _o.fork() == 0:\n"
            "        _t.sleep(30)\n        _o._exit(0)\n    _kids += 1")
    results = grade_hostile(run_grader, reference_copy, Hostile("fork bomb", "import", code, set()))
    if ISOLATED:  # grader-student may not run 400 processes
        assert all("BlockingIOError" in why or "Resource temporarily" in why for why in failed(results).values())
        assert len(failed(results)) == len(NUMPY_TESTS)
    user = sandbox.student_user()
    if user is not None:
        # Zombies included: in a container whose PID 1 reaps nothing, unreaped zombies would still count
        # against the user's process limit, and the next grading could not start a worker.
        assert user_processes(user.pw_uid) == []
        assert_next_grading_runs(run_grader, reference_copy)


def assert_next_grading_runs(run_grader, folder):
    (folder / "numpy_ann.py").write_text((ROOT / "solutions" / "numpy_ann.py").read_text())
    results = run_grader(folder, only="numpy_ann")
    assert not failed(results), failed(results)


def user_processes(uid: int) -> list[str]:
    """Processes whose real, effective or saved user is `uid`, zombies included, each as
    'pid state command', from /proc/PID/status (the owner of /proc/PID is the effective user alone).
    """
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            if uid in [int(u) for u in fields["Uid"].split()[:3]]:
                found.append(f"{pid} {fields['State'].split()[0]} {fields['Name'].strip()}")
        except (OSError, KeyError, IndexError, ValueError):
            pass
    return found


def test_writing_results_json_changes_nothing(run_grader, reference_copy):
    code = GRADER_ARGS + (
        "for _p in _after('--results'):\n"
        "    try:\n"
        "        open(_p, 'w').write('{\"score\": 1000, \"tests\": []}')\n"
        "    except OSError:\n"
        "        pass\n")
    results = grade_hostile(run_grader, reference_copy, Hostile("results", "import", code, set()))
    assert failed(results) == {} and results["score"] == 49


def test_deleting_and_writing_files_in_the_work_and_grader_folders_changes_nothing(run_grader, reference_copy):
    """It empties its own working folder and tries to drop a file into the grader's folders (harmless if it can)."""
    code = GRADER_ARGS + (
        "import pathlib as _pl\n"
        "for _f in _pl.Path('.').iterdir():\n"
        "    _f.unlink()\n"
        "for _d in _after('--expected') + _after('-c'):\n"
        "    _d = _pl.Path(_d)\n"
        "    try:\n"
        "        ((_d if _d.is_dir() else _d.parent) / 'HOSTILE_WAS_HERE').write_text('x')\n"
        "    except OSError:\n"
        "        pass\n")
    markers = [ROOT / "autograder" / "HOSTILE_WAS_HERE", ROOT / "build" / "expected" / "HOSTILE_WAS_HERE"]
    try:
        results = grade_hostile(run_grader, reference_copy, Hostile("delete", "import", code, set()))
        assert failed(results) == {} and results["score"] == 49
        if ISOLATED:
            assert not any(m.exists() for m in markers)
    finally:
        for marker in markers:
            marker.unlink(missing_ok=True)


def test_reading_the_grader_secrets_leaks_nothing(run_grader, reference_copy):
    secret_line = "dz2 = (self.a2 - y_true) / len(X)"
    code = GRADER_ARGS + (
        "_leak = []\n"
        f"for _p in [{str(ROOT / 'solutions' / 'numpy_ann.py')!r}, {str(utils.RAW_DIR / 't10k-labels-idx1-ubyte.gz')!r}]"
        " + [_e + '/numpy_ann/log.jsonl' for _e in _after('--expected')]:\n"
        "    try:\n"
        "        _leak.append(open(_p, 'rb').read()[:3000].decode(errors='replace'))\n"
        "    except OSError as _e:\n"
        "        _leak.append(repr(_e))\n"
        "print(_leak)\n"
        "raise RuntimeError(' | '.join(_leak))\n")
    results = grade_hostile(run_grader, reference_copy, Hostile("read", "import", code, NUMPY_TESTS))
    text = str(results)
    if ISOLATED or sandbox.confined():
        assert "PermissionError" in text or "FileNotFoundError" in text  # closed to the worker, or not there at all
        assert secret_line not in text and '"call": "relu"' not in text
    assert results["score"] == 0


def test_monkeypatching_torch_equal_cannot_pass_a_model_that_never_steps(run_grader, reference_copy):
    """The worker reports the parameters before and after fit; the grader compares them, not torch.equal."""
    path = reference_copy / "pytorch_ann.py"
    source = path.read_text()
    assert source.count("                optimizer.step()\n") == 1
    path.write_text(source.replace("                optimizer.step()\n", "")
                    + "\ntorch.equal = lambda *a, **k: False  # every tensor 'changed'\n")
    fails = failed(run_grader(reference_copy, only="pytorch_ann"))
    assert "fit left every parameter as it was" in fails.get("pytorch_ann.fit: the parameters change", "")


def test_a_socket_to_localhost_fails_the_part_that_opens_it(run_grader, reference_copy):
    code = "import socket as _so\n_so.create_connection(('127.0.0.1', 9), timeout=2).close()"
    results = grade_hostile(run_grader, reference_copy, Hostile("socket", "relu", code, set()))
    fails = failed(results)
    assert "numpy_ann.relu: max(0, z) elementwise" in fails
    if sandbox.can_unshare_net() or sandbox.confined():  # no route at all, or a loopback of its own
        assert "grading runs without network" in fails["numpy_ann.relu: max(0, z) elementwise"]


def test_a_conftest_in_the_submission_is_ignored(run_grader, tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in ("numpy_ann.py", "pytorch_ann.py", "pytorch_cnn.py"):
        (folder / name).write_text((ROOT / "student" / name).read_text())
    (folder / "conftest.py").write_text(
        "import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    (folder / "sitecustomize.py").write_text("import builtins; builtins.print = None\n")
    results = run_grader(folder, only="numpy_ann")
    assert results["score"] == 0
    assert "Ignored conftest.py" in results["output"] and "Ignored sitecustomize.py" in results["output"]


def test_embedded_test_labels_fail_the_accuracy_test(run_grader, reference_copy):
    labels = utils.load_fashion_mnist("test")[1].tolist()
    path = reference_copy / "numpy_ann.py"
    path.write_text(path.read_text().replace(
        '        """X (n, input_size) -> class indices (n,)."""\n',
        f'        """X (n, input_size) -> class indices (n,)."""\n        LABELS = {labels}\n'
        "        if len(X) == len(LABELS):\n            return np.array(LABELS)\n"))
    fails = failed(run_grader(reference_copy, only="numpy_ann"))
    assert set(fails) == {accuracy_test("numpy_ann")}
    assert "a literal of 10000 class indices" in fails[accuracy_test("numpy_ann")]


def test_labels_read_at_run_time_are_worthless(run_grader, reference_copy):
    path = reference_copy / "numpy_ann.py"
    raw = str(utils.RAW_DIR)
    # The official labels, in the official order, for however the test images arrive (whole, or a chunk at a time).
    path.write_text(path.read_text().replace(
        '        """X (n, input_size) -> class indices (n,)."""\n',
        '        """X (n, input_size) -> class indices (n,)."""\n'
        "        if len(X) >= 500:\n"
        f"            _labels = utils.load_fashion_mnist('test', {raw!r})[1].astype(int)\n"
        "            _SEEN[0] += len(X)\n"
        "            return _labels[_SEEN[0] - len(X):_SEEN[0]]\n") + "\n_SEEN = [0]\n"
        # and a network that learns nothing: only what predict answers could pass
        "NumpyANN.fit = lambda self, *args, **kwargs: utils.new_history()\n")
    fails = failed(run_grader(reference_copy, only="numpy_ann"))
    why = fails[accuracy_test("numpy_ann")]
    # Accuracy is the network's own, computed by the grader from its parameters: what predict read is ignored.
    assert "computed by the grader from W1, b1, W2 and b2" in why


@pytest.mark.slow
def test_the_reference_clears_every_threshold_on_five_shuffled_noisy_test_sets():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "solutions"))
    images, labels = utils.load_fashion_mnist("test")
    for file in config.FILES:
        data = utils.load_data(config.LAYOUTS[file])
        model = getattr(importlib.import_module(file), config.CLASSES[file])()
        model.fit(*data[:4])
        for seed in range(5):
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(images))
            noisy = np.clip(images[order].astype(np.int16) + rng.integers(-1, 2, images.shape), 0, 255).astype(np.uint8)
            X, _ = utils.to_model_format(noisy, None, config.LAYOUTS[file])
            accuracy = float(np.mean(np.asarray(model.predict(X)) == labels[order]))
            assert accuracy >= config.THRESHOLDS[file] + 0.03, (file, seed, accuracy)


def test_workers_get_their_limits():
    """CPU time, memory, file size and core dumps, as the worker sees them (processes too, as grader-student)."""
    import resource
    import subprocess
    import sys

    code = ("import resource as r; print(*(r.getrlimit(getattr(r, 'RLIMIT_' + n))[0] "
            "for n in ('CPU', 'DATA', 'FSIZE', 'CORE', 'NPROC')))")
    preexec = sandbox.limit_processes if ISOLATED else sandbox.limit
    sandbox.cpu_seconds()
    out = subprocess.run([sys.executable, "-c", code], preexec_fn=preexec, capture_output=True, text=True, check=True)
    cpu, data, fsize, core, nproc = map(int, out.stdout.split())
    assert (cpu, data, fsize, core) == (sandbox.cpu_seconds(), sandbox.MEMORY_BYTES, sandbox.FILE_BYTES, 0)
    assert nproc == (sandbox.PROCESSES if ISOLATED else resource.getrlimit(resource.RLIMIT_NPROC)[0])


def test_two_gradings_at_once_with_the_same_sandbox_user_leave_each_other_alone(run_grader, tmp_path):
    """After each worker every process of its user is killed: the other grading's worker must not be among them."""
    from concurrent.futures import ThreadPoolExecutor

    folders = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "numpy_ann.py").write_text((ROOT / "solutions" / "numpy_ann.py").read_text())
        folders.append(folder)
    with ThreadPoolExecutor(2) as pool:
        graded = list(pool.map(lambda folder: run_grader(folder, only="numpy_ann"), folders))
    for results in graded:
        assert failed(results) == {}


def test_stopping_a_users_leftovers_waits_for_the_worker_another_grading_runs_as_that_user():
    """A grading that is stopped kills what its user left running: not while another grading's worker holds the user."""
    import threading

    account = sandbox.student_user()
    if account is None:
        pytest.skip("no sandbox user here (not root): nothing is killed by user")
    sleeper = subprocess.Popen(["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
                                "sleep", "60"])
    try:
        with sandbox.exclusive(account):  # another grading's worker is running
            stopper = threading.Thread(target=sandbox.stop_user, args=(account.pw_name,))
            stopper.start()
            time.sleep(1.0)
            assert stopper.is_alive() and sleeper.poll() is None, "the user's processes were killed under a worker"
        stopper.join(timeout=30)
        assert not stopper.is_alive()
        sleeper.wait(timeout=10)  # killed (and reaped by stop_user) once the other worker was done, long before 60 s
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_worker_killed_from_outside_is_reported_with_the_likely_cause(run_grader, reference_copy):
    """What an out-of-memory kill looks like: SIGKILL in the middle of a call (here, sent by the code itself)."""
    code = "import os as _o, signal as _s\n_o.kill(_o.getpid(), _s.SIGKILL)"
    fwd = "numpy_ann.forward: matches the reference on fixed weights"
    results = grade_hostile(run_grader, reference_copy, Hostile("sigkill", "forward", code, set()))
    assert "SIGKILL" in failed(results)[fwd] and "ran out of memory" in failed(results)[fwd]
    assert "numpy_ann.relu: max(0, z) elementwise" not in failed(results)


ONCE = "import os as _o1\nif not _o1.path.exists('.once'):\n    open('.once', 'w').close()\n"


def once(code: str) -> str:
    """`code`, run by the first call only (later calls, after the worker restarts too, skip it)."""
    return ONCE + "".join("    " + line + "\n" for line in code.splitlines())


def threads_named(name: str) -> list[str]:
    """Every thread on the machine whose name (comm) is `name`, as 'pid/tid'."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().strip() == name:
                        found.append(f"{pid}/{tid}")
        except OSError:
            pass
    return found


def test_a_thread_left_running_after_a_raw_exit_of_the_main_thread_dies_with_the_grading(run_grader, reference_copy):
    """A main thread that leaves with a raw SYS_exit shows as a zombie while its other threads run: they die too."""
    import platform

    sys_exit = {"x86_64": 60, "aarch64": 93}.get(platform.machine())
    if sys_exit is None:
        pytest.skip(f"no SYS_exit number known for {platform.machine()}")
    code = ("import ctypes as _c, threading as _th, time as _t\n"
            "def _linger():\n"
            "    _c.CDLL(None).prctl(15, b'hostile-linger', 0, 0, 0)\n"  # PR_SET_NAME
            "    _t.sleep(90)\n"
            "_th.Thread(target=_linger).start()\n"
            "_t.sleep(0.5)\n"
            f"_c.CDLL(None).syscall({sys_exit}, 0)\n")
    results = grade_hostile(run_grader, reference_copy, Hostile("raw exit", "import", code, NUMPY_TESTS, env=FAST))
    assert threads_named("hostile-linger") == []
    assert results["score"] == 0


def test_files_in_shared_memory_and_tmp_do_not_outlive_the_grading(run_grader, reference_copy):
    """/dev/shm and /tmp: private and size-limited in a confined worker; else removed with the user's processes."""
    # Names of this run's own: a file another run left (unconfined, as its own user) must not decide this one.
    paths = [f"{folder}/hostile-fill-{os.getpid()}-{time.monotonic_ns()}" for folder in ("/dev/shm", "/tmp", "/var/tmp")]
    code = (f"for _p in {paths!r}:\n"
            "    try:\n"
            "        with open(_p, 'wb') as _f:\n"
            "            for _ in range(200):\n"
            "                _f.write(b'x' * (1 << 20))\n"
            "    except OSError:\n"
            "        pass\n")
    relu = "numpy_ann.relu: max(0, z) elementwise"
    try:
        results = grade_hostile(run_grader, reference_copy, Hostile("fill", "relu", once(code), set(), env=FAST))
        assert set(failed(results)) <= {relu}
        if sandbox.confined() or ISOLATED:
            for path in paths:
                assert not os.path.lexists(path), path
    finally:
        for path in paths:  # where the worker ran as this test's own user, unconfined, its files are this test's to remove
            with contextlib.suppress(OSError):
                os.unlink(path)


def test_the_grader_environment_does_not_reach_a_worker(run_grader, reference_copy):
    code = "import os as _o\nraise RuntimeError(repr(dict(_o.environ)))"
    hostile = Hostile("environment", "import", code, NUMPY_TESTS, "RuntimeError",
                      env={"GRADER_SALT": "s3cr3t-salt-value", "SOME_TOKEN": "tok-123-abc"})
    text = str(grade_hostile(run_grader, reference_copy, hostile))
    assert "s3cr3t-salt-value" not in text and "tok-123-abc" not in text
    assert "GRADER_LIB" in text  # the worker's own variables are there: the leak test saw the environment


def test_a_confined_worker_sees_no_other_process_and_none_of_the_graders_files(run_grader, reference_copy):
    if not sandbox.confined():
        pytest.skip("bubblewrap cannot confine workers here (no user or mount namespaces)")
    code = ("import os as _o\n"
            "_seen = [p for p in _o.listdir('/proc') if p.isdigit()]\n"
            f"_files = [p for p in ({str(ROOT / 'solutions')!r}, {str(ROOT / 'data')!r}, {str(ROOT / 'build')!r}, "
            f"{str(ROOT / 'autograder' / 'suite' / 'fixtures.py')!r}, {str(utils.DEBIAN_DIR)!r} + '/t10k-labels-idx1-ubyte.gz', "
            "'/root', '/home', '/run', '/var/run') if _o.path.exists(p)]\n"
            "raise RuntimeError(f'pids={len(_seen)} files={_files}')")
    text = str(grade_hostile(run_grader, reference_copy, Hostile("look", "import", code, NUMPY_TESTS, "RuntimeError")))
    assert "files=[]" in text
    assert "pids=1 " in text or "pids=2 " in text or "pids=3 " in text


# What a message may hold to forge the table: escape sequences that erase the line and paint a
# green PASS, a carriage return, bidi overrides and isolates, C1 controls and DEL, Markdown, HTML.
FORGED = ("\x1b[2K\r\x1b[1A\x1b[32m  PASS   1.1  1/1  numpy_ann.relu: max(0, z) elementwise"
          "\x1b[0m\n"
          "\u202eSSAP\u202c \u2066hidden\u2069 \u200b\ufeff\x9b31m\x7f\x85\u2028"
          "\n# Injected heading <img src=x onerror=alert(1)> [click](http://evil.example)")


def strings(value) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def test_escape_sequences_cannot_forge_the_table(expected_dir, reference_copy, tmp_path):
    """relu raises with FORGED, fit prints it on an epoch line: the table still says FAIL, and
    neither the terminal nor results.json receives a control or bidi character, only escapes."""
    path = reference_copy / "numpy_ann.py"
    source = inject(path.read_text(), "relu", f"raise RuntimeError({FORGED!r})")
    path.write_text(inject(source, "fit", f"print('epoch 1/2 ' + {FORGED!r}, flush=True)"))
    results_path = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder.grade", str(reference_copy),
                           "--only", "numpy_ann", "--expected", str(expected_dir),
                           "--results", str(results_path)],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "GRADER_TRAIN_DEADLINE": "1500"})
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(results_path.read_text())
    assert problems(results) == []
    for text in [done.stdout, done.stderr, *strings(results)]:
        assert printable(text) == text, [ch for ch in text if printable(ch) != ch]
    relu = {t["number"] for t in results["tests"] if t["name"].startswith("numpy_ann.relu:")}
    assert relu and all(t["status"] == "failed" for t in results["tests"] if t["number"] in relu)
    lines = done.stdout.splitlines()
    rows = [line.split()[:2] for line in lines if line.startswith(("  PASS ", "  FAIL "))]
    marks = [["PASS" if t["status"] == "passed" else "FAIL", t["number"]] for t in results["tests"]]
    assert sorted(rows) == sorted(marks)  # one row per test, and no other line that looks like one
    assert all(mark == "FAIL" for mark, number in rows if number in relu)
    assert "\\x1b[32m  PASS" in done.stdout and "\\u202eSSAP" in done.stdout  # shown, as text
    # The epoch line echoed as a terminal shows it after its last carriage return, escapes as text.
    assert any(line.strip().startswith("\\x1b[1A\\x1b[32m  PASS") for line in lines), done.stdout


# ------------------------------------------------------------ processes that outlive their grading

# A process that outlives its grading. The worker's last call (predict, on the test set's first
# chunk) starts it in a small Python of its own, out of the worker's process group (setsid). Not
# dumpable (its files in /proc are root's), it forks a successor and exits, again and again, each
# generation living a millisecond or two, so that a look at /proc rarely finds it where the look
# before saw it: for 6 s and 6000 forks at most. Then it rewrites, every 5 ms, any submitted file it
# can reach in another grading's run folder, until 60 s after it started.
HOP = """
import ctypes, glob, os, time
def victims():
    found = set()
    for top in {'/tmp', os.environ.get('TMPDIR') or '/tmp'}:
        for depth in ('*', '*/*'):
            found.update(glob.glob(f'{top}/{depth}/run/*/*_*.py'))
    return found
def rewrite():
    for path in victims():
        try:
            with open(path) as f:
                text = f.read()
            if 'hostile-hopper' in text or 'an earlier grading' in text:
                continue  # its own file, or one it rewrote already
            with open(path, 'a') as f:
                f.write("\\nraise RuntimeError('rewritten by a process of an earlier grading')\\n")
        except OSError:
            pass
ctypes.CDLL(None).prctl(15, b'hostile-hopper', 0, 0, 0)  # PR_SET_NAME: how the tests find it
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
start, forks = time.time(), 0
while time.time() - start < 60:
    if forks < 6000 and time.time() - start < 6:
        try:
            child = os.fork()
        except OSError:  # the user's process limit, full of zombies: try again
            time.sleep(0.001)
            continue
        forks += 1
        if child:
            os._exit(0)
    else:
        rewrite()
        time.sleep(0.005)
"""
HOPPER = f"""
if len(X) >= 1000 and not globals().get('_h_started'):  # the test set, its first chunk
    globals()['_h_started'] = True
    import os as _ho, sys as _hs
    if _ho.fork() == 0:
        try:
            _ho.setsid()
            _ho.closerange(3, 1 << 16)
            _ho.execv(_hs.executable, [_hs.executable, '-S', '-c', {HOP!r}])
        finally:
            _ho._exit(0)
"""


def skip_where_leftovers_end_with_the_process_group():
    if not ISOLATED and not sandbox.confined():
        pytest.skip("as an ordinary user without bubblewrap, what a worker leaves behind is killed "
                    "with its process group only, which a process can leave: the README's stated "
                    "degradation")


def leftovers_of(user) -> list[str]:
    """What is left of a grading's processes: every process of its sandbox user, or (no user switch,
    as an ordinary user) the hostile processes, by the name they give themselves."""
    if user is not None:
        return user_processes(user.pw_uid)
    return threads_named("hostile-hopper")


def kept_work(name: str):
    """A folder for a grading's work (run_grader's `work`), which the test reads afterwards: where
    workers, and the processes of earlier gradings, reach it as they would a grading's own."""
    import uuid

    from tests.conftest import shared_folder

    return shared_folder(f"{name}-{uuid.uuid4().hex[:8]}")


def files_of(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("without_cgroups", [False, True], ids=["as here", "without cgroups"])
def test_a_hopper_outlives_no_grading_and_changes_nothing_of_the_next(run_grader, reference_copy,
                                                                      tmp_path, without_cgroups):
    """The hopper, graded; then the reference, by the same sandbox user. Nothing of the first
    grading runs after it (zombies count: they would fill the user's process limit), and the second
    grading's run folder holds the reference's file as it was submitted, which earns every point."""
    skip_where_leftovers_end_with_the_process_group()
    env = {}
    if without_cgroups:
        if sandbox.leftovers() != "cgroup":
            pytest.skip(f"no cgroup to do without here: leftovers end by {sandbox.leftovers()}")
        env = {"GRADER_NO_CGROUP": "1"}  # as in a container whose /sys/fs/cgroup is read-only
    hopper = Hostile("hopper", "predict", HOPPER, set(), env=env)
    grade_hostile(run_grader, reference_copy, hopper)
    survivors = leftovers_of(sandbox.student_user())
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "numpy_ann.py").write_bytes((ROOT / "solutions" / "numpy_ann.py").read_bytes())
    work = kept_work("hopper-victim")
    results = run_grader(victim, only="numpy_ann", work=work, env=env)
    assert survivors == [], f"left running after the grading: {survivors}"
    assert failed(results) == {} and results["score"] == 49, failed(results)
    assert files_of(work / "run" / "numpy_ann") == files_of(victim)


def test_a_worker_cannot_write_into_the_run_folder_of_a_grading_at_the_same_time(run_grader,
                                                                                  reference_copy,
                                                                                  tmp_path):
    """Two gradings at once by the same sandbox user: the hostile one's worker runs first and, for
    3 s after it sees the other grading's run folder, tries to change the file there and add one."""
    from concurrent.futures import ThreadPoolExecutor

    skip_where_leftovers_end_with_the_process_group()
    writer = (
        "import glob as _wg, os as _wo, time as _wt\n"
        "open('started', 'w').close()  # in its own run folder, where the test looks for it\n"
        "_w_start, _w_seen = _wt.time(), None\n"
        "while _wt.time() - _w_start < 15 and (_w_seen is None or _wt.time() - _w_seen < 3):\n"
        "    _w_tops = {'/tmp', _wo.environ.get('TMPDIR') or '/tmp'}\n"
        "    _w_found = {p for t in _w_tops for p in _wg.glob(t + '/*/*/run/*/numpy_ann.py')}\n"
        "    for _w_path in _w_found:\n"
        "        if _wo.path.samefile(_w_path, 'numpy_ann.py'):\n"
        "            continue\n"
        "        _w_seen = _w_seen or _wt.time()\n"
        "        try:\n"
        "            with open(_w_path, 'a') as _w_f:\n"
        "                _w_f.write(\"\\nraise RuntimeError('written by another grading')\\n\")\n"
        "        except OSError:\n"
        "            pass\n"
        "        try:\n"
        "            open(_wo.path.join(_wo.path.dirname(_w_path), 'planted.py'), 'w').close()\n"
        "        except OSError:\n"
        "            pass\n"
        "    _wt.sleep(0.02)\n")
    path = reference_copy / "numpy_ann.py"
    path.write_text(inject(path.read_text(), "import", once(writer)))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "numpy_ann.py").write_bytes((ROOT / "solutions" / "numpy_ann.py").read_bytes())
    hostile_work, victim_work = kept_work("concurrent-hostile"), kept_work("concurrent-victim")
    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(run_grader, reference_copy, only="numpy_ann", work=hostile_work)
        started, deadline = hostile_work / "run" / "numpy_ann" / "started", time.monotonic() + 300
        while not started.exists() and not hostile.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the hostile worker never started"
        graded = pool.submit(run_grader, victim, only="numpy_ann", work=victim_work).result()
        assert problems(hostile.result()) == []
    assert failed(graded) == {} and graded["score"] == 49, failed(graded)
    assert files_of(victim_work / "run" / "numpy_ann") == files_of(victim)


def test_the_output_says_how_what_a_worker_leaves_running_is_ended(run_grader, tmp_path):
    """results.json's output states the defence against processes that outlive their worker, or its
    absence (as an ordinary user without bubblewrap), as extra_data.defences does."""
    folder = tmp_path / "nothing"
    folder.mkdir()
    results = run_grader(folder, only="numpy_ann")  # no file to run: the statement alone
    assert sandbox.isolation() in results["output"]
    assert results["extra_data"]["defences"]["processes"] == sandbox.leftovers()
    assert sandbox.ENDED[sandbox.leftovers()] in results["output"]
    if not ISOLATED and not sandbox.confined():
        assert "process group" in results["output"] and "outlive the grading" in results["output"]


def test_kill_minus_one_is_never_sent_with_a_capability_left():
    """kill_as's child kills as the sandbox user only once it holds no capability: one kept across
    the switch of user (here by PR_SET_KEEPCAPS) would let kill -1 reach every process of the
    machine. It sends nothing then."""
    import sys

    account = sandbox.student_user()
    if account is None:
        pytest.skip("no sandbox user here (not root): nothing is killed by user")
    sleeper = subprocess.Popen([*sandbox.setpriv(account), "sleep", "60"])
    code = ("import ctypes\nctypes.CDLL(None).prctl(8, 1, 0, 0, 0)  # PR_SET_KEEPCAPS\n"
            "from autograder.harness import sandbox\n"
            "print(sandbox.kill_as(sandbox.student_user(), 0.5))")
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert done.stdout.split() == [str(sandbox.UNSAFE)], done.stderr[-2000:]
        time.sleep(0.2)
        assert sleeper.poll() is None, "kill -1 was sent"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_killing_bubblewraps_process_group_ends_everything_in_its_pid_namespace():
    """What the grader relies on with bubblewrap, with its arguments: killing the worker's process
    group (bubblewrap, which never leaves it) ends the namespace's first process, by
    --die-with-parent, and so every process in the namespace, one that left the group (setsid)
    included, with nothing else done."""
    import sys
    from pathlib import Path

    if not sandbox.confined():
        pytest.skip("bubblewrap cannot confine workers here (no user or mount namespaces)")
    code = ("import ctypes, os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    ctypes.CDLL(None).prctl(15, b'hostile-in-ns', 0, 0, 0)\n"
            "    time.sleep(60)\n"
            "    os._exit(0)\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    account = sandbox.student_user()
    bwrap = sandbox.bwrap_args([], Path("/"))
    cmd = [*sandbox.setpriv(account), *bwrap, sys.executable, "-S", "-c", code]
    with sandbox.exclusive(account):  # no grading of that user ends its processes meanwhile
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=sandbox.limit)
        try:
            assert proc.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 10
            while not threads_named("hostile-in-ns") and time.monotonic() < deadline:
                time.sleep(0.01)
            assert threads_named("hostile-in-ns"), "the process that left the group never ran"
        finally:
            os.killpg(proc.pid, 9)
            proc.wait()
        deadline = time.monotonic() + 5
        while threads_named("hostile-in-ns") and time.monotonic() < deadline:
            time.sleep(0.01)
        left = threads_named("hostile-in-ns")
        sandbox.end_user_processes(account)  # what a failed defence left, before the lock goes
    assert left == []
