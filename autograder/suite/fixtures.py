"""The graded suite's fixtures and options (a pytest plugin, -p in pytest.ini): the submission's evidence and expected values."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import utils
from autograder.core import config, settings
from autograder.harness import evidence, expected, intake, sandbox
from autograder.runtime import datacache, probes
from autograder.suite import measure, results


def backward_caches() -> list[tuple[tuple, dict]]:
    """(sizes, the right forward cache) of each batch backward's probes use, under the current probe seed."""
    shapes = [(probes.SMALL, 8)] + ([(config.hidden.OTHER, 1)] if config.hidden else [])
    return [(sizes, measure.forward(probes.fixed_params(sizes), probes.batch(sizes, n, probes.BACKWARD_SEED)[0]))
            for sizes, n in shapes]


def pytest_addoption(parser):
    """--submission, --expected, --work."""
    group = parser.getgroup("grading")
    group.addoption("--submission", default=None, help="folder holding the student's files (default: solutions/)")
    group.addoption("--expected", default=None, help="folder of expected values (default: built from solutions/)")
    group.addoption("--work", default=None, help="scratch folder (default: a temporary one)")


class Grader:
    """The submission under test, run lazily: each file's worker starts when its first test needs it.

    Everything the grader needs is loaded before any student code runs: the
    expected values, and the test labels (kept in memory only). Workers see
    the test images in an order, and with a one-grey-level noise, drawn from
    a seed that students cannot know in advance, so a table of the public
    test set's labels is worth nothing.
    """

    def __init__(self, submission: Path, expected_dir: Path, work: Path):
        self.submission, self.work = submission, work
        # The grader's own copies of the submitted files, taken before anything reads the submission: every later
        # read (the seed, source(), png(), the worker's run folder) reads a regular file the grader wrote.
        self.intake = intake.snapshot(submission, work / "intake")
        self.found = self.intake.files
        results.NOTES.extend(self.intake.notes)
        results.NOTES.extend([*intake.notes(submission), sandbox.isolation()])
        results.EXTRA["defences"] = sandbox.defences()
        self._expected = {f: evidence.Evidence(f, expected_dir / f).preload()
                          for f in expected.FILES if (expected_dir / f).exists()}
        self.started = time.monotonic()  # the grading's clock: config.GRADING_DEADLINE counts from here
        self.allowance = evidence.Allowance()  # bytes all this grading's workers may send
        images, labels = utils.load_fashion_mnist("test")
        secret = self.secret(expected_dir)
        rng = np.random.default_rng(derive(secret, "test set"))
        order = rng.permutation(len(images))
        noisy = images[order].astype(np.int16)
        noisy += rng.integers(-1, 2, size=images.shape, dtype=np.int8)
        noisy = np.clip(noisy, 0, 255).astype(np.uint8)
        # Two parts that share no image. The training worker sees the first PROCESS_IMAGES only (its own
        # predict is held against the network on them); the network is graded on the rest, which only the
        # fresh worker and the grader see: answers worked out in training for the images it holds (a lookup
        # packed into a small buffer, say) are worth nothing there.
        self.process_labels = labels[order][:PROCESS_IMAGES]
        self.test_labels = labels[order][PROCESS_IMAGES:]
        self.test_images = noisy[PROCESS_IMAGES:]  # the graded set: the grader evaluates numpy_ann on it itself
        self.heldout_images = self.test_images[:probes.HELDOUT]  # the grader's own look at learning (learning.py)
        self.sandbox_env = sandbox.prepare(work, noisy[:PROCESS_IMAGES], datacache.worker_files())
        graded = work / "evaluate" / "test_x.npy"  # the fresh workers' copy of the graded set
        graded.parent.mkdir(parents=True, exist_ok=True)
        datacache.write_float32(graded, self.test_images, np.arange(len(self.test_images)))
        graded.parent.chmod(0o700)  # closed to the training workers; open only while a fresh worker runs
        # The unit probes' inputs, new for each grading: the grader uses them here too (probes reads the variable)
        # and computes what they should give itself.
        seed = self.probe_seed(derive(secret, "probes"))
        self.sandbox_env[probes.SEED_ENV] = os.environ[probes.SEED_ENV] = str(seed)
        self.write_backward_cache(Path(self.sandbox_env["GRADER_DATA"]) / probes.CACHE_FILE)
        del images
        probes.release_memory()  # the grader stays small while the workers train
        self._evidence: dict[str, evidence.Evidence] = {}
        self._evaluation: dict[str, evidence.Evidence] = {}
        self.state_problems: dict[str, dict[str, str]] = {}

    def secret(self, expected_dir: Path) -> bytes:
        """The grading's secret: a digest of a secret the students lack (`salt`, the hidden expected
        values) and the submission's bytes, so that a regrade draws the same. It never leaves this process:
        workers get only values derived from it one way (`derive`), each for one purpose."""
        digest = hashlib.sha256(salt())
        for secret in sorted(expected_dir.glob("*/*_other.npz")):
            digest.update(secret.read_bytes())
        for name in sorted(self.found):
            digest.update(name.encode() + self.found[name].read_bytes())
        return digest.digest()

    @staticmethod
    def write_backward_cache(path: Path) -> None:
        """The right forward cache (z1, a1, z2, a2) of backward's batches, computed here from the contract's formulas:
        the worker puts it in place of the student's before backward (probes.correct_the_cache)."""
        arrays = {f"{probes.cache_key(sizes)}_{name}": value for sizes, cache in backward_caches()
                  for name, value in cache.items()}
        np.savez(path, **arrays)
        path.chmod(0o644)

    @staticmethod
    def probe_seed(derived: int) -> int:
        """The unit probes' seed: from the grading's secret (its own derivation, which tells nothing of the
        test set's), and the first after it whose networks keep every hidden pre-activation at least 1e-3
        from relu's kink, where finite differences would not be the gradient."""
        start = derived % (1 << 62) + 1  # 0 is the expected values' build
        for seed in range(start, start + 1000):
            os.environ[probes.SEED_ENV] = str(seed)
            if all(np.min(np.abs(cache["z1"])) > 1e-3 for _, cache in backward_caches()):
                return seed
        return start

    def evidence(self, file: str) -> evidence.Evidence:
        if file not in self._evidence:
            out = self.work / "evidence" / file
            source = self.found.get(f"{file}.py")
            if source is None:
                why = self.intake.skipped.get(f"{file}.py")
                where = intake.misplaced(self.submission) or intake.listing(self.submission)
                held = f"as a file the grader takes ({why})" if why else f"({where})"
                missing = f"{file}.py is not in the submission {held}"
                self._evidence[file] = evidence.Evidence(file, out, missing=missing)
            else:
                scratch = self.work / "run" / file
                scratch.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, scratch / f"{file}.py")
                evidence.progress(f"{file}.py: running your code ...")
                started = time.monotonic()
                until = self.file_deadline(file) - (EVALUATION_RESERVE if file in EVALUATED else 0)
                evidence.collect(file, scratch, out, self.sandbox_env, until=until, allowance=self.allowance)
                self._evidence[file] = evidence.Evidence(file, out).preload()
                train = self._evidence[file].entries.get("train") or {}
                used = (f"; training used {evidence.seconds(train['cpu_seconds'])} of its "
                        f"{evidence.seconds(config.cpu_budget(file, 'train'))} of CPU time"
                        if train.get("cpu_seconds") is not None else "")
                evidence.progress(f"{file}.py: all its calls finished in {time.monotonic() - started:.0f} s{used}")
            self._evidence[file].grader = self
        return self._evidence[file]

    def file_deadline(self, file: str) -> float:
        """When FILE's workers must be done (time.monotonic): the grading's deadline, less a reserve for each
        file graded after it, so that a file that overruns is charged alone."""
        later = [f for f in config.FILES[config.FILES.index(file) + 1:] if f"{f}.py" in self.found]
        return self.started + config.GRADING_DEADLINE - config.FILE_RESERVE * len(later)

    def evaluation(self, file: str) -> evidence.Evidence:
        """A PyTorch file's saved states (the small fit's, the trained model's) evaluated in a fresh worker,
        which has no training data and nothing the training worker kept in reach (probes.evaluate_probes)."""
        if file not in self._evaluation:
            trained = self.evidence(file)
            if trained.missing:
                return evidence.Evidence(file, self.work, missing=trained.missing)
            folder = self.work / "evaluate" / file
            data, scratch = folder / "data", folder / "run"
            data.mkdir(parents=True, exist_ok=True)
            scratch.mkdir(parents=True, exist_ok=True)
            if not (data / "test_x.npy").exists():
                os.link(self.work / "evaluate" / "test_x.npy", data / "test_x.npy")
            self.state_problems[file] = self.write_states(trained, data)
            shutil.copyfile(self.found[f"{file}.py"], scratch / f"{file}.py")
            for path in (folder, data, *data.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
            env = dict(self.sandbox_env, GRADER_DATA=str(data))
            out = self.work / "evidence" / f"{file}.evaluate"
            evidence.progress(f"{file}.py: evaluating the trained network's state in a fresh process ...")
            folder.parent.chmod(0o755)
            try:
                with sandbox.closed_folder(Path(self.sandbox_env["GRADER_DATA"])):  # the training data
                    evidence.collect(file, scratch, out, env, evaluate=True, until=self.file_deadline(file),
                                     allowance=self.allowance)
            finally:
                folder.parent.chmod(0o700)
            self._evaluation[file] = evidence.Evidence(file, out).preload()
        return self._evaluation[file]

    @staticmethod
    def write_states(ev: evidence.Evidence, data: Path) -> dict[str, str]:
        """Write each saved state the training worker sent (STATE-prefixed arrays) where the fresh worker
        reads it; what kept one from being written, by state ("small", "trained")."""
        problems = {}
        for which, call in (("small", "fit_small"), ("trained", "train")):
            result = getattr(ev, "loaded", {}).get(call)
            if result is None:
                continue
            state = {k[len(probes.STATE):]: v for k, v in result.arrays.items() if k.startswith(probes.STATE)}
            state.update({k: v for k, v in result.arrays.items()
                          if k.startswith((probes.ATTRIBUTE, probes.ARRAY_ATTRIBUTE))})
            size = sum(v.nbytes for v in state.values())
            if not state:
                problems[which] = "its record holds no saved state (state_dict)"
            elif size > STATE_BYTES:
                problems[which] = (f"its state_dict holds {size / 2**20:.0f} MB, more than the "
                                   f"{STATE_BYTES >> 20} MB any network of this assignment needs")
            else:
                evidence.save_npz(data / f"{which}_state.npz", state)
                numbers = result.values.get("attributes")
                numbers = {k: v for k, v in numbers.items() if isinstance(k, str) and isinstance(v, dict)
                           and v.get("kind") in NUMBER_KINDS} if isinstance(numbers, dict) else {}
                (data / f"{which}_numbers.json").write_text(json.dumps(numbers))
        return problems

    def train_subset(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first n training images and one-hot labels, as numpy_ann's unit probes hand them to fit."""
        images, labels = (np.load(path, mmap_mode="r", allow_pickle=False) for path in utils.cached_split("train"))
        return utils.to_model_format(images[:n], labels[:n], "numpy")

    def expected(self, file: str) -> evidence.Evidence:
        return self._expected[file]

    def source(self, file: str) -> Path | None:
        """The grader's copy of FILE.py (a regular file of at most intake.MAX_PY_BYTES), or None."""
        return self.found.get(f"{file}.py")

    def png(self, file: str) -> Path | None:
        """The grader's copy of FILE's PNG (a regular file of at most intake.MAX_PNG_BYTES), or None."""
        return self.found.get(config.PNG_FILES[file])


SALT = utils.ROOT / "build" / "salt"  # this machine's salt (closed to workers with the rest of build/)


def salt() -> bytes:
    """GRADER_SALT when it is set; else this machine's own: 32 random bytes made once, mode 0600, in SALT.

    The hidden expected values and the submission are no secret from a student who has the reference's
    outputs and their own file, so the grading's secret needs bytes no one outside this machine has. Made
    once, they keep a regrade here the same; setup.sh makes them when Gradescope builds its image. A user
    who can neither read nor make SALT (another user's checkout) keeps a salt of their own instead.
    """
    given = settings.text("GRADER_SALT")
    if given:
        return given.encode()
    try:
        return read_or_make(SALT)
    except PermissionError:
        return read_or_make(Path(tempfile.gettempdir()) / f"autograder-salt-{os.getuid()}")


def read_or_make(path: Path) -> bytes:
    """The bytes of the salt file `path`, made first if it is missing; one planted by another user is
    replaced."""
    if path.is_file() and (path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077):
        try:
            path.unlink()  # not ours alone: a salt someone else could know
        except OSError:
            return os.urandom(32)  # and not ours to remove: a salt for this grading alone
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".salt-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        try:
            os.link(tmp, path)  # never over one another grading made meanwhile: every grading reads the same
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    with open(path, "rb") as f:
        return f.read()


def derive(secret: bytes, purpose: str) -> int:
    """A seed for one purpose, derived one way from the grading's secret (HMAC-SHA256): knowing one tells
    nothing of the secret or of another purpose's seed."""
    return int.from_bytes(hmac.new(secret, purpose.encode(), hashlib.sha256).digest()[:8], "big")


PROCESS_IMAGES = 1_000  # test images the training worker classifies; the other 9,000 grade the network
NUMBER_KINDS = {"int", "float", "bool", "numpy", "tuple", "list"}  # probes.plain_number's
# The files whose saved state a fresh worker evaluates (numpy_ann: the grader itself), by their kind.
EVALUATED = {spec.file for spec in config.SPECS if spec.kind.network == "state_dict"}
EVALUATION_RESERVE = 30.0  # seconds of a file's time kept for its fresh worker
STATE_BYTES = 32 << 20  # the largest saved state evaluated: far above any network this assignment trains


@pytest.fixture(scope="session")
def grader(request):
    option = request.config.getoption
    submission = Path(option("--submission") or utils.ROOT / "solutions").resolve()
    expected_dir = Path(option("--expected")).resolve() if option("--expected") else expected.ensure()
    keep = bool(option("--work"))
    work = Path(option("--work")).resolve() if keep else Path(tempfile.mkdtemp(prefix="grader-"))
    work.mkdir(parents=True, exist_ok=True)
    with sandbox.protected(sandbox.grader_secrets()):
        try:
            yield Grader(submission, expected_dir, work)
        finally:
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
