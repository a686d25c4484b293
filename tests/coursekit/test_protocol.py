"""The judge/student protocol: exact types across, and nothing from the student side trusted."""
from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass

import pytest

from coursekit import judge, protocol
from coursekit.protocol import ErrorInfo, Malformed, Opaque, Record


def _across(value):
    """``value`` through the wire format and back, as the judge receives it."""
    framed = protocol.dumps({"v": protocol.encode(value)})
    body = framed[protocol.HEADER_SIZE:]
    assert protocol.frame_length(framed[:protocol.HEADER_SIZE]) == len(body)
    return protocol.decode(protocol.loads(body)["v"])


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2**80, 1.5, 2.0, -0.0, "", "协程", [1, [2.0, "x"]], (1, (2,)), {"a": 1, 2: (3,)},
    {1, 2}, frozenset({"a"}), b"\x00\xff", [], (), {},
])
def test_values_keep_their_exact_types(value):
    back = _across(value)
    assert back == value and type(back) is type(value)
    if isinstance(value, (list, tuple)):
        assert [type(x) for x in back] == [type(x) for x in value]


def test_int_and_float_stay_apart_and_special_floats_survive():
    assert type(_across(2)) is int and type(_across(2.0)) is float
    assert math.isinf(_across(float("inf"))) and math.isnan(_across(float("nan")))


def test_subclasses_and_unknown_objects_arrive_opaque():
    class Sneaky(list):
        def __eq__(self, other):
            return True

    for value in (Sneaky(), object(), asyncio.sleep):
        back = _across(value)
        assert isinstance(back, Opaque), back
        assert back != [] and back != value


def test_a_repr_that_raises_is_still_described():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert "repr raised" in _across(Broken()).repr


def test_dataclasses_arrive_as_records():
    @dataclass
    class Result:
        url: str
        status: int | None

    back = _across(Result("http://x", None))
    assert isinstance(back, Record) and back.name == "Result"
    assert back.url == "http://x" and back.status is None and back.fields == {"url": "http://x", "status": None}


def test_exceptions_arrive_with_classes_attributes_causes_and_members():
    class ApiError(Exception):
        def __init__(self, status, url):
            super().__init__(f"{status} for {url}")
            self.status, self.url = status, url

    try:
        try:
            raise ValueError("inner")
        except ValueError as cause:
            raise ApiError(503, "http://x/") from cause
    except ApiError as exc:
        error = _across(exc)
    assert isinstance(error, ErrorInfo) and error.name == "ApiError" and error.is_a("Exception")
    assert not error.is_a("ValueError")
    assert error.attributes == {"status": 503, "url": "http://x/"} and error.message == "503 for http://x/"
    assert error.cause is not None and error.cause.name == "ValueError" and error.cause.message == "inner"
    group = _across(ExceptionGroup("many", [KeyError("k"), TimeoutError()]))
    assert group.is_a("ExceptionGroup") and [e.name for e in group.exceptions] == ["KeyError", "TimeoutError"]
    assert group.exceptions[1].is_a("OSError")


def test_cycles_and_depth_are_bounded():
    loop: list = []
    loop.append(loop)
    assert isinstance(_across(loop)[0], Opaque)
    deep: list = []
    for _ in range(protocol.MAX_DEPTH + 20):
        deep = [deep]
    _across(deep)  # encodes and decodes without recursing without end


@pytest.mark.parametrize("data", [
    {"t": "eval", "v": "__import__('os')"}, {"t": "float", "v": "1e999x"}, {"t": "bytes", "v": "zz"},
    {"t": "dict", "v": [[1]]}, {"t": "set", "v": [[1]]}, {"t": "record", "v": {}}, {"no": "tag"}, 1.5,
    {"t": "error", "v": {"type": "X", "mro": "X"}},
])
def test_anything_else_is_malformed(data):
    with pytest.raises(Malformed):
        protocol.decode(data)


def test_messages_are_size_limited_and_strict_json():
    with pytest.raises(Malformed):
        protocol.frame_length((protocol.MAX_MESSAGE + 1).to_bytes(4, "big"))
    for body in (b"[1]", b"\xff", b'{"a": NaN}', b"{"):
        with pytest.raises(Malformed):
            protocol.loads(body)


def _reply(**changes):
    reply = {"result": None, "error": None, "signal": None, "loop_time": 1.0, "left_running": [], "events": [],
             "warnings": [], "logs": [], "import_error": None}
    return reply | changes


@pytest.mark.parametrize("reply", [
    _reply(extra=1), _reply(loop_time="3"), _reply(events=[1]), _reply(left_running=[1]),
    _reply(warnings=[{"category": "X"}]), _reply(logs=["x"]), _reply(error={"t": "str", "v": 1}),
    _reply(signal="stop"),
])
def test_a_malformed_reply_fails_the_test_not_the_grader(reply):
    class Fixed:
        def call(self, ref, params, module, limit):
            return reply

    student = judge.Student(module="m", seed=1, via=Fixed())
    from coursekit.probes import kit

    with pytest.raises(AssertionError, match="malformed"):
        student.run(kit.imported)


def test_only_registered_scenarios_can_be_asked_for():
    from coursekit import probes

    for ref in ("os:system", "coursekit.probes:execute", "coursekit.probes.kit:attempt", "coursekit.probes.kit:x y"):
        with pytest.raises(LookupError):
            probes.resolve(ref)
    assert probes.resolve("coursekit.probes.kit:call_sync").__name__ == "call_sync"


def test_a_socket_reply_to_an_earlier_call_is_skipped():
    """A call the test's timeout interrupted leaves its reply behind: the next call reads past it."""
    import socket

    judge_end, student_end = socket.socketpair()
    try:
        transport = judge.SocketTransport(judge_end)
        stale = {"id": 0, "status": "ok", "body": {"stale": True}, "refused": [], "detail": None}
        fresh = {"id": 1, "status": "ok", "body": {"fresh": True}, "refused": [], "detail": None}
        student_end.sendall(protocol.dumps(stale) + protocol.dumps(fresh))
        assert transport.call("coursekit.probes.kit:imported", {"t": "dict", "v": []}, "m", 1.0) == {"fresh": True}
        request = protocol.loads(student_end.recv(1 << 16)[protocol.HEADER_SIZE:])
        assert request["id"] == 1 and request["scenario"] == "coursekit.probes.kit:imported"
        json.dumps(request)
    finally:
        judge_end.close()
        student_end.close()


def test_a_reply_to_a_request_never_made_ends_the_conversation():
    import socket

    judge_end, student_end = socket.socketpair()
    try:
        transport = judge.SocketTransport(judge_end)
        student_end.sendall(protocol.dumps({"id": 99, "status": "ok", "body": {}}))
        with pytest.raises(judge.StudentGone):
            transport.call("coursekit.probes.kit:imported", {"t": "dict", "v": []}, "m", 1.0)
        with pytest.raises(judge.StudentGone):
            transport.call("coursekit.probes.kit:imported", {"t": "dict", "v": []}, "m", 1.0)
    finally:
        judge_end.close()
        student_end.close()
