"""The grader's side of the record channel (evidence.Records), fed frames directly: no worker, no training.

Whatever bytes arrive, the reader either takes a record of the next planned
call or ends the channel with a cause it names; it never raises, never
counts a byte twice, and never holds more than the caps allow.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from autograder.harness import evidence
from autograder.runtime import probes

PLAN = probes.plan("numpy_ann")


def frame(header: dict | bytes, payload: bytes = b"") -> bytes:
    data = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack(">I", len(data)) + data + payload


def array_frame(call: str, key: str, a: np.ndarray) -> bytes:
    return frame({"event": "array", "call": call, "key": key, "dtype": a.dtype.str, "shape": list(a.shape),
                  "nbytes": a.nbytes}, a.tobytes())


def start(call: str) -> bytes:
    return frame({"event": "start", "call": call, "output_at": 0})


def done(call: str, **values) -> bytes:
    return frame({"event": "done", "call": call, "ok": True, "seconds": 0.1, "values": values, "meta": {}})


class Channel:
    """A pipe whose read end a Records reads; `send` writes bytes, in pieces if asked, reading after each."""

    def __init__(self, tmp_path, plan=PLAN, done=(), allowance=None):
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        self.records = evidence.Records("numpy_ann", out, self.read_end, plan, set(done), allowance)

    def send(self, data: bytes, piece: int = 1 << 16) -> evidence.Records:
        for i in range(0, len(data), piece):
            if self.records.broken is not None:
                break  # the grader reads no more: a worker would be stopped now
            os.write(self.write_end, data[i:i + piece])
            self.records.read()
        return self.records

    def close(self):
        os.close(self.read_end)
        os.close(self.write_end)


@pytest.fixture
def channel(tmp_path):
    made = []

    def make(**kw):
        made.append(Channel(tmp_path, **kw))
        return made[-1]

    yield make
    for c in made:
        c.close()


def test_the_planned_calls_in_order_are_taken(channel):
    records = channel().send(start("import") + done("import", module="numpy_ann") + start("relu")
                             + array_frame("relu", "out", np.ones((4, 5))) + done("relu"))
    assert records.broken is None
    assert records.done == {"import", "relu"} and records.expected() == "relu_3d"
    assert [e["call"] for e in evidence.read_log(records.out) if e["event"] == "done"] == ["import", "relu"]


@pytest.mark.parametrize("data, cause", [
    (start("relu"), "did not ask for"),  # skips the import
    (start("import") + start("import"), "did not ask for"),  # a second start restarts no clock
    (start("import") + done("relu"), "did not ask for"),
    (start("not_a_call"), "did not ask for"),
    (frame({"event": "restart", "call": "import"}), "did not ask for"),
    (frame(b"[" * 200_000 + b"]" * 200_000), "header of"),
    (frame(b"[" * 100_000 + b"]" * 100_000), "nested more than"),  # deeper than the parser recurses
    (done("import", v=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
     "nested more than"),  # parsed, then too deep for the log's writer
    (frame(b"\xff\xfe not json"), "not readable JSON"),
    (frame(b"[1, 2]"), "not a JSON object"),
], ids=["out of order", "second start", "done of another call", "unknown call", "unknown event", "huge header",
        "deep nesting", "deep values", "bytes", "a list"])
def test_anything_else_ends_the_channel_with_its_cause(channel, data, cause):
    records = channel().send(data)
    assert records.broken is not None and cause in records.broken
    assert records.done == set()


@pytest.mark.parametrize("dtype, shape, nbytes", [
    ("|S0", [4], 0), ("<U0", [3], 0), ("<f8", [0, 2 ** 70], 0), ("|O", [1], 8), ("<V8", [1], 8),
    ("<f8", [-1], 8), ("<f8", [1.5], 12), ("<f8", [2], 8), ("<f8", [1] * 9, 8), ("<f8", "2", 16),
], ids=["S0", "U0", "2**70", "object", "void", "negative", "float shape", "size mismatch", "9 axes",
        "text shape"])
def test_a_malformed_array_record_ends_the_channel_without_raising(channel, dtype, shape, nbytes):
    header = {"event": "array", "call": "import", "key": "a", "dtype": dtype, "shape": shape, "nbytes": nbytes}
    records = channel().send(start("import") + frame(header, b"\0" * nbytes))
    assert records.broken is not None and "array record" in records.broken


def test_a_4_mb_array_arriving_in_pieces_is_counted_once(channel):
    allowance = evidence.Allowance()
    a = np.arange(512 * 1024, dtype=np.float64)  # 4 MB
    data = start("import") + array_frame("import", "module", a) + done("import")
    records = channel(allowance=allowance).send(data, piece=4096)
    assert records.broken is None and records.done == {"import"}
    assert evidence.GRADING_BYTES - allowance.left == len(data)
    with np.load(records.out / "import.npz") as npz:
        assert np.array_equal(npz["module"], a)


def test_one_call_may_not_send_more_than_its_cap(channel):
    a = np.zeros(evidence.CALL_BYTES // 8 // 2 + 1)
    records = channel().send(start("import") + array_frame("import", "a", a) + array_frame("import", "b", a))
    assert records.broken is not None and "for one call" in records.broken


def test_the_grading_cap_is_shared_by_every_worker(channel):
    allowance = evidence.Allowance(total=1 << 20)
    a = np.zeros(100_000)  # 800 KB
    first = channel(allowance=allowance).send(start("import") + array_frame("import", "module", a) + done("import"))
    assert first.broken is None
    second = channel(allowance=allowance).send(start("import") + array_frame("import", "a", a))
    assert second.broken is not None and "one grading" in second.broken


def test_a_flood_of_forged_calls_ends_at_the_first_and_keeps_little(channel):
    """150 calls of 1 MB of JSON each: the first header is over the cap, and nothing of it is kept."""
    filler = "x" * (1 << 20)
    flood = b"".join(start(f"call{i}") + done(f"call{i}", filler=filler) for i in range(150))
    records = channel().send(flood[: 8 << 20])
    assert records.broken is not None
    assert len(records.buffer) == 0
    log = records.out / "log.jsonl"
    assert not log.exists() or log.stat().st_size < 10_000


def test_a_repeated_start_cannot_restart_a_calls_clock(channel):
    c = channel()
    records = c.send(start("import"))
    assert records.current == "import"
    records = c.send(start("import"))
    assert records.broken is not None


def test_a_worker_that_skips_no_call_follows_the_plan_after_a_restart(channel):
    records = channel(done={"import", "relu"}).send(start("relu_3d"))
    assert records.broken is None and records.current == "relu_3d"
