"""Event frames stay strict JSON, and task keys link as the task pages do."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import unquote

import pytest
from django.utils.html import escape

from clusterdash.keys import key_to_text, text_to_key
from info.consumers import encode, transition_messages


def strict_loads(text):
    """Parse JSON and reject ``NaN`` and ``Infinity``, as browsers do."""

    def reject(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=reject)


class Opaque:
    def __repr__(self):
        return "<Opaque>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (-math.inf, None),
        (b"\x00\xffbytes", "b'\\x00\\xffbytes'"),
        (Opaque(), "<Opaque>"),
        (frozenset({3}), "frozenset({3})"),
        ((("nested", 1), 2), [["nested", 1], 2]),
        ({("tuple", "key"): 1}, {"('tuple', 'key')": 1}),
        ("</script><b>", "</script><b>"),
    ],
    ids=[
        "nan",
        "inf",
        "minus-inf",
        "bytes",
        "object",
        "frozenset",
        "nested-tuple",
        "tuple-dict-key",
        "markup",
    ],
)
def test_encode_makes_strict_json(value, expected):
    frame = encode({"name": "transition", "value": value})
    assert strict_loads(frame) == {"name": "transition", "value": expected}


def _identity(x):
    return x


@pytest.mark.parametrize(
    "key",
    [
        ("es seg", 0),
        (("es-nested", 1), 2),
        ("es-getitem-fused-abc", 0, 1),
        "es a+b c",
        "es 50%",
        "es ?q=1#f",
        "es-long-" + "x" * 3000,
    ],
    ids=lambda key: repr(key)[:30],
)
def test_key_segment_opens_task_page(staff_client, backend, dask_client, key):
    # The poller keeps task-stream records only while it runs: start it.
    backend.snapshot()
    _, cursor = backend.task_stream(0)
    future = dask_client.submit(_identity, 1, key=key, pure=False)
    future.result()
    deadline = time.monotonic() + 10
    records = []
    while not any(record.key == key for record in records):
        assert time.monotonic() < deadline, f"no task-stream record for {key!r}"
        time.sleep(0.2)
        more, cursor = backend.task_stream(cursor)
        records.extend(more)
    record = next(record for record in records if record.key == key)

    messages = transition_messages(record)
    frame = strict_loads(encode(messages[0]))
    segment = frame["key_segment"]
    response = staff_client.get(f"/info/task/{segment}.html")

    assert "+" not in segment
    assert response.status_code == 200
    assert frame["key"] == json.loads(json.dumps(key))
    assert escape(key_to_text(key)).encode() in response.content
    if not unquote(segment).startswith("sha256:"):
        assert text_to_key(unquote(segment)) == key
    del future
