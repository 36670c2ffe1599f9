"""Typed records: the suite reads only keys that its call records (autograder/runtime/records.py).

Every `ev.result("call", ...)["key"]`, `ev.result("call", ...).get("key")`, and
the same on a name bound to `ev.result("call", ...)` in one function, is read
out of the grading suite's source and checked against the call's schema, for
every kind that the call belongs to. A misspelt key fails here, in
`make test-fast`, naming it, rather than costing the reference points.
"""

import ast

import pytest

from autograder import specs
from autograder.harness import evidence
from autograder.runtime import probes, records
from tests.conftest import ROOT

SUITE = sorted((ROOT / "autograder" / "suite").glob("*.py")) + [
    ROOT / "autograder" / "hidden" / "test_hidden.py"
]


def result_call(node) -> str | None:
    """'train' for ev.result("train", ...), else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "result"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def key_of(node) -> tuple[ast.AST, str] | None:
    """(what is read, the key) for X["key"] and X.get("key", ...)."""
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.value, node.slice.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.func.value, node.args[0].value
    return None


def own_nodes(function):
    """The nodes of a function's body, not those of the functions defined inside it."""
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += ast.iter_child_nodes(node)


def reads(tree: ast.AST):
    """(line, call, key) for every record read the suite spells out."""
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        bound = {}
        for node in own_nodes(function):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                if (call := result_call(node.value)) is not None:
                    bound[node.targets[0].id] = call
        for node in own_nodes(function):
            found = key_of(node)
            if found is None:
                continue
            target, key = found
            call = result_call(target) or (
                bound.get(target.id) if isinstance(target, ast.Name) else None
            )
            if call is not None:
                yield node.lineno, call, key


def kinds_of(call: str) -> list[str]:
    """The kinds of probes whose files record `call`."""
    return sorted(
        {
            spec.kind.probes
            for spec in specs.SPECS
            if call in probes.plan(spec.file) or call in probes.EVALUATE
        }
    )


def all_reads():
    return [
        (path.relative_to(ROOT), line, call, key)
        for path in SUITE
        for line, call, key in reads(ast.parse(path.read_text()))
    ]


def test_the_scan_finds_the_suites_reads():
    found = {(call, key) for _, _, call, key in all_reads()}
    assert {("cross_entropy", "out"), ("construct", "conv2d"), ("predict", "pred")} <= found
    assert len(found) > 12


@pytest.mark.parametrize("where, line, call, key", all_reads(), ids=lambda v: str(v))
def test_every_key_the_suite_reads_is_one_its_call_records(where, line, call, key):
    kinds = kinds_of(call)
    assert kinds, f"{where}:{line} reads the record of {call!r}, which no graded file's plan has"
    assert any(not records.unknown(kind, call, [key]) for kind in kinds), (
        f"{where}:{line} reads {key!r} from the record of {call!r}, "
        "which no file's record of that call "
        "holds (autograder/runtime/records.py)"
    )


def test_a_misspelt_key_is_found_and_named():
    tree = ast.parse(
        'def t(ev):\n    result = ev.result("predict", "predict(X)")\n    return result["preed"]\n'
    )
    ((line, call, key),) = reads(tree)
    assert (call, key) == ("predict", "preed") and records.unknown("numpy", call, [key]) == [
        "preed"
    ]


def test_reading_an_unknown_key_is_a_grader_error_not_a_students_failure(tmp_path):
    entry = {"call": "predict", "values": {"pred": [1]}, "meta": {}, "seconds": 0.1, "arrays": []}
    result = evidence.Result(entry, tmp_path, "numpy")
    assert result["pred"] == [1]
    with pytest.raises(records.SchemaError, match="'preed'.*'predict'"):
        result.get("preed")


def test_every_planned_call_has_a_schema():
    for spec in specs.SPECS:
        known = records.schemas(spec.kind.probes)
        missing = [
            call for call in probes.plan(spec.file) + list(probes.EVALUATE) if call not in known
        ]
        assert not missing, f"{spec.file}: no schema for {missing} in autograder/runtime/records.py"


def test_the_supervisor_refuses_a_key_no_schema_knows(tmp_path):
    """A done record with a key the call never records ends the channel, naming the key."""
    plan = probes.plan("numpy_ann")
    channel = evidence.Records("numpy_ann", tmp_path, -1, plan, set())
    channel.accept({"event": "start", "call": "import", "output_at": 0}, b"")
    with pytest.raises(evidence.ChannelError, match="'injected'"):
        channel.accept(
            {
                "event": "done",
                "call": "import",
                "ok": True,
                "seconds": 0.1,
                "values": {"module": "numpy_ann", "injected": 1},
                "meta": {},
            },
            b"",
        )
