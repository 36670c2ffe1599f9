"""The graded files, one declarative spec each: the one place that says what is graded.

Each module of this package but this one describes one graded file in `SPEC`:

- its file and class names, and its kind (`Kind`: which probes its worker
  runs and how the grader gets the trained network's predictions);
- the layout of the data its `fit` gets, and its share of the training budget;
- its learning-curve PNG, if it has one;
- the table of its test rows (`Row`), each with a stable id, points,
  visibility, name, what it measures and the worker calls it reads.

The accuracy threshold is not in a spec: `utils.THRESHOLDS` holds it, because
utils.py ships to students without the grader, and a spec reads it from there
(`Spec.threshold`). Hidden rows are not here either: they are in
autograder/hidden/, which the student handout leaves out (`hidden_rows`).

From the specs come `config.POINTS` (and through it the gradescope-utils
metadata of every test), the dispatch by kind in the worker and the suite,
the handout's point tables, and the generated tables of README.md and
docs/CONTRACT.md (`make docs`, tools/docs.py).

A row's id is its Gradescope `number` within its file (`Spec.number`.id, as
"1.12"). It is assigned once and never reused: a new row takes the next free
id of its file (`Spec.next_id`), after the hidden ones; a removed row's id
goes into its spec's `retired`. tests/test_specs.py checks all of this.

This package grades nothing and imports neither NumPy nor pytest: the
processes that wait on a grading import it, and so do the workers.
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
from dataclasses import dataclass

from autograder import ROOT

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's
HIDDEN = "after_due_date"  # hidden tests appear to students once the deadline has passed


@dataclass(frozen=True)
class Kind:
    """The kind of model a graded file holds: how its worker probes it, how its network is graded.

    `probes` names the family of probes its worker runs: "numpy" and "torch" are
    runtime/probes.py's own; any other is a module path whose module defines
    UNIT, TRAIN (the calls, in order), unit_probes(mod, ctx, spec) and
    train_probes(mod, ctx, spec). `network` is how the grader obtains the
    trained network's own predictions: "parameters" (the grader's forward on
    the parameters the worker read off the model), "state_dict" (a new
    instance given the saved state, in a fresh worker) or "own" (the file's
    tests compute them from the train record themselves).
    """

    name: str
    probes: str
    network: str


NUMPY_MLP = Kind("numpy-mlp", "numpy", "parameters")
TORCH_MLP = Kind("torch-mlp", "torch", "state_dict")
TORCH_CNN = Kind("torch-cnn", "torch", "state_dict")


@dataclass(frozen=True)
class Row:
    """One graded test. `name` is what follows "<file>." in results.json; it may hold {threshold}
    and {png}, which the spec fills in."""

    id: int
    name: str
    points: int
    measures: str
    records: tuple[str, ...] = ()
    visibility: str = "visible"


@dataclass(frozen=True)
class Spec:
    file: str  # the module's name: student/<file>.py
    cls: str  # the class it defines
    number: int  # the first part of its tests' Gradescope numbers
    label: str  # as results and reports name it: "NumPy ANN"
    kind: Kind
    layout: str  # what its fit gets (utils.load_data): "numpy", "flat" or "image"
    train_share: float  # its share of config.TRAIN_DEADLINE
    rows: tuple[Row, ...]
    png: str | None = None  # the learning-curve plot the submission must hold
    retired: tuple[int, ...] = ()  # ids once used and removed: never given again
    summary: str = ""  # one line for the README's table

    @property
    def threshold(self) -> float:
        return thresholds()[self.file]

    def full_name(self, row: Row) -> str:
        return f"{self.file}." + row.name.format(threshold=f"{self.threshold:.0%}", png=self.png)

    def number_of(self, row: Row) -> str:
        return f"{self.number}.{row.id}"

    def all_rows(self) -> tuple[Row, ...]:
        """The visible rows and, where autograder/hidden is present, the hidden ones, by id."""
        return tuple(sorted(self.rows + hidden_rows(self.file), key=lambda r: r.id))

    def row(self, key: str) -> Row | None:
        """The row whose name begins with `key` ("accuracy:", "architecture:"), if any."""
        return next((r for r in self.all_rows() if r.name.startswith(key)), None)

    def next_id(self) -> int:
        """The id a new row of this file takes."""
        return max([r.id for r in self.all_rows()] + list(self.retired)) + 1


def thresholds() -> dict:
    """utils.THRESHOLDS, read from utils.py's source (so that no process here has to load NumPy)."""
    return _from_utils("THRESHOLDS")


@functools.cache
def _from_utils(name: str):
    """The literal `NAME = ...` of utils.py, read once per process."""
    source = (ROOT / "utils.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            name
        ]:
            return ast.literal_eval(node.value)
    raise RuntimeError(f"utils.py defines no {name} = ...")


def hidden_rows(file: str) -> tuple[Row, ...]:
    """The file's hidden rows, from autograder/hidden (absent in the handout: none)."""
    try:
        from autograder import hidden
    except ImportError:
        return ()
    return tuple(hidden.ROWS.get(file, ()))


def load() -> tuple[Spec, ...]:
    """Every module's SPEC in this package, in the order of their numbers."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, Spec):
            found.append(spec)
    return tuple(sorted(found, key=lambda s: s.number))


SPECS = load()
BY_FILE = {spec.file: spec for spec in SPECS}


def of(file: str) -> Spec:
    """The spec of a graded file."""
    return BY_FILE[file]


__all__ = ["HIDDEN", "NUMPY_MLP", "SPECS", "TORCH_CNN", "TORCH_MLP", "Kind", "Row", "Spec", "of"]
