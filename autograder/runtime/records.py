"""The schema of every recorded call: the keys its record holds, which the worker writes and the
suite reads.

A probe (probes.py) returns a dict; the worker sends its keys as values or
arrays. One `Record` per call says which keys that is: `keys`, exactly, and
`families`, the prefixes of keys named after what the student's code holds
("state.fc1.weight", "before_W1", or "dW1" for whatever backward returned).

- The supervisor (harness/evidence.Records) checks every record it accepts
  against its call's schema: a key no schema knows ends the worker as a
  malformed record, charged to that call with the key named.
- The suite reads records through evidence.Result, which refuses a key the
  call's schema lacks with a SchemaError that names it: a bug of the grader,
  never a student's failed test. tests/test_records.py reads every
  `ev.result("call")["key"]` of the suite and fails `make test-fast` on a key
  its call does not record.

The schemas are looked up by kind of probes (specs.Kind.probes) and call.
The hidden calls' schemas are in autograder/hidden (not in the handout); a
kind of its own brings its own (its module's SCHEMAS). Standard library only:
workers import this module.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass


class SchemaError(Exception):
    """The grader asked a record for a key its call never records: a bug in the grader, not in the
    student's code."""


@dataclass(frozen=True)
class Record:
    keys: frozenset = frozenset()
    families: tuple = ()  # prefixes of keys that depend on the model or what student code returned

    def knows(self, key: str) -> bool:
        return key in self.keys or any(key.startswith(prefix) for prefix in self.families)


def record(*keys: str, families: tuple = ()) -> Record:
    return Record(frozenset(keys), families)


PARAMETERS = ("W1", "b1", "W2", "b2")
STATE = (
    "state.",
    "attribute.",
    "array.",
)  # probes.STATE, ATTRIBUTE and ARRAY_ATTRIBUTE: a model's saved state
OUT = record("out")
BACKWARD = record("returned", families=("d", "before_", "after_"))  # the gradients, and the parameters

COMMON = {
    "import": record("module"),
    "evaluate_small": record("pred"),
    "evaluate_trained": record("pred"),
}
NUMPY = {
    **{
        call: OUT
        for call in (
            "relu",
            "relu_3d",
            "relu_prime",
            "relu_prime_3d",
            "softmax",
            "softmax_large",
            "softmax_shifted",
            "cross_entropy",
            "cross_entropy_zero",
            "forward",
        )
    },
    "init": record(*PARAMETERS),
    "backward": BACKWARD,
    "step": record(*PARAMETERS),
    "predict": record("pred"),
    "fit_small": record("history", "lr", families=("before_", "after_")),
    "fit_tracking": record("batches", "n", "mislabelled", families=("before_", "after_")),
    "modules": record("forbidden"),
    "train": record("history", "seconds", "epochs", families=("state.",)),
    "test_predictions": record("pred"),
}
TORCH = {
    "construct": record("conv2d", "parameters", "dtypes"),
    "forward_flat": record("out", "uses_parameters"),
    "forward_image": record("out", "uses_parameters"),
    "fit_small": record(
        "history",
        "history_with_grad",
        "grad_deviation",
        "step_moved",
        "validation_modes",
        "learning_rate",
        "params_before",
        "params_after",
        "measured",
        "attributes",
        families=STATE,
    ),
    "predict": record("pred", "modes", "logits"),
    "train": record("history", "seconds", "epochs", "measured", "attributes", families=STATE),
    "test_predictions": record("pred"),
    "plot": record("figure_type", "curves", "written", "png"),
    "judgement_own": record("word", "on"),
}
KINDS = {"numpy": NUMPY, "torch": TORCH}


@functools.cache
def schemas(probes: str) -> dict:
    """Each call's schema for a kind of probes: COMMON, the kind's own, the hidden calls'."""
    table = KINDS.get(probes)
    if table is None:  # a kind of its own: its module's SCHEMAS
        table = getattr(importlib.import_module(probes), "SCHEMAS", {})
    found = {**COMMON, **table}
    try:
        from autograder import hidden
    except ImportError:
        return found
    return {**found, **hidden.SCHEMAS.get(probes, {})}


def unknown(probes: str, call: str, keys) -> list[str]:
    """The keys of a record of `call` that its schema does not know (all, for an unknown call)."""
    schema = schemas(probes).get(call)
    return sorted(keys) if schema is None else sorted(k for k in keys if not schema.knows(k))


def check(probes: str, call: str, key: str) -> None:
    """Raise SchemaError unless records of `call` hold `key`."""
    if unknown(probes, call, [key]):
        raise SchemaError(
            f"the grader reads {key!r} from the record of {call!r}, which never holds it "
            "(autograder/runtime/records.py): a bug in the grader"
        )
