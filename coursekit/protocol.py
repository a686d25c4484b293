"""The judge/student protocol: plain data with exact type tags, framed and size-limited.

The judge (pytest with the course's tests) never imports the student's module;
it asks the student process to run a *scenario* (a probe from
``coursekit.probes``) and gets plain data back. Everything the student process
sends is untrusted: :func:`decode` accepts only the tags below, nested at most
:data:`MAX_DEPTH` deep, in a message of at most :data:`MAX_MESSAGE` bytes, and
raises :class:`Malformed` for anything else. Nothing executable or picklable
crosses: a value of a type the codec does not know arrives as an
:class:`Opaque` (its type's name and a clipped ``repr``), never as the object.

Local runs (``pytest assignments/NN``) go through the same :func:`encode` and
:func:`decode`, so a value a test sees is the same in both modes.

Standard library only: the student process and the judge both import it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 1 << 20  # bytes of one framed message
MAX_DEPTH = 40
MAX_TEXT = 2000  # characters of a repr or an exception's message kept for feedback
_HEADER = struct.Struct(">I")
# The student's module file (set by the probe runtime, under "file"): an exception names the line of it that
# raised. A dict, filled in place: the module's own attributes never change once it is imported.
student: dict[str, str | None] = {"file": None}


class Malformed(Exception):
    """A message from the student process that breaks the protocol (the test fails; the grader goes on)."""


@dataclass(frozen=True)
class Opaque:
    """A value of a type the protocol does not carry: its type's qualified name and a clipped repr."""

    type: str
    repr: str

    def __repr__(self) -> str:
        return self.repr


@dataclass(frozen=True)
class Record:
    """A dataclass instance: its class's name (qualified by module) and its fields, decoded."""

    type: str
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        """The class's own name, without its module."""
        return self.type.rpartition(".")[2]

    def __getattr__(self, field: str) -> Any:
        try:
            return self.__dict__["fields"][field]
        except KeyError:
            raise AttributeError(f"{self.name} has no field {field!r}") from None

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.name}({inner})"


@dataclass(frozen=True)
class ErrorInfo:
    """An exception as the judge sees it: its class (with every base's name), message and attributes.

    ``classes`` lists the qualified names of the class and its bases, so a test
    asks ``error.is_a("TimeoutError")`` instead of ``isinstance``; ``cause``
    and ``context`` are the chained exceptions, ``exceptions`` the members of
    an exception group, ``attributes`` the public instance attributes the
    protocol could carry.
    """

    type: str
    classes: tuple[str, ...]
    message: str
    args: tuple[Any, ...] = ()
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cause: ErrorInfo | None = None
    context: ErrorInfo | None = None
    suppress_context: bool = False
    exceptions: tuple[ErrorInfo, ...] = ()
    where: str | None = None  # "module.py:LINE in function", the innermost line of the student's file

    @property
    def name(self) -> str:
        """The class's own name (``TimeoutError``, ``ApiError``)."""
        return self.type.rpartition(".")[2]

    def is_a(self, *names: str) -> bool:
        """Whether the exception is an instance of a class of one of these names (bare or qualified)."""
        for entry in self.classes:
            if entry in names or entry.rpartition(".")[2] in names:
                return True
        return False

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        # As Python writes the exception itself: KeyError('boom'), not KeyError("'boom'").
        if self.args or not self.message:
            return f"{self.name}({', '.join(repr(a) for a in self.args)})"
        return f"{self.name}({self.message!r})"


def _qualified(cls: type) -> str:
    module = getattr(cls, "__module__", None) or "?"
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _safe_repr(value: Any) -> str:
    try:
        return _clip(repr(value))
    except BaseException as exc:  # noqa: BLE001 - a repr that raises is still described
        return f"<{_qualified(type(value))} whose repr raised {type(exc).__name__}>"


def _safe_str(value: Any) -> str:
    try:
        return _clip(str(value))
    except BaseException:  # noqa: BLE001 - a __str__ that raises leaves the message empty
        return ""


def encode(value: Any, *, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as JSON-ready data with exact type tags.

    ``None``, ``bool``, ``int``, ``str`` and ``list`` are JSON's own; every
    other value is an object ``{"t": tag, ...}`` (``float`` too, so ``2`` and
    ``2.0`` stay apart).

    Exact types only: a subclass of ``int`` or ``list`` is carried as an
    :class:`Opaque`, so nothing a student defines can pose as a built-in.
    """
    if _depth > MAX_DEPTH:
        return {"t": "opaque", "type": _qualified(type(value)), "repr": "<nested too deep>"}
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        if math.isfinite(value):
            return {"t": "float", "v": value}
        return {"t": "float", "v": repr(value)}
    if id(value) in _seen:
        return {"t": "opaque", "type": _qualified(kind), "repr": "<cycle>"}
    seen = _seen | {id(value)}
    if kind is list:
        return [encode(v, _depth=_depth + 1, _seen=seen) for v in value]
    if kind is tuple:
        return {"t": "tuple", "v": [encode(v, _depth=_depth + 1, _seen=seen) for v in value]}
    if kind is dict:
        return {"t": "dict", "v": [[encode(k, _depth=_depth + 1, _seen=seen), encode(v, _depth=_depth + 1, _seen=seen)]
                                   for k, v in value.items()]}
    if kind in (set, frozenset):
        items = [encode(v, _depth=_depth + 1, _seen=seen) for v in value]
        return {"t": kind.__name__, "v": items}
    if kind is bytes:
        return {"t": "bytes", "v": value.hex()}
    if isinstance(value, BaseException):
        return {"t": "error", "v": _encode_error(value, _depth + 1, seen)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {}
        for field in dataclasses.fields(value):
            try:
                fields[field.name] = encode(getattr(value, field.name), _depth=_depth + 1, _seen=seen)
            except AttributeError:
                continue
        return {"t": "record", "type": _qualified(kind), "v": fields}
    return {"t": "opaque", "type": _qualified(kind), "repr": _safe_repr(value)}


def _encode_error(exc: BaseException, depth: int, seen: frozenset[int]) -> dict[str, Any]:
    attributes = {}
    try:
        own = dict(vars(exc))
    except TypeError:
        own = {}
    for name, value in own.items():
        if isinstance(name, str) and not name.startswith("_") and len(attributes) < 20:
            attributes[name] = encode(value, _depth=depth + 1, _seen=seen)
    for name in ("errno", "strerror", "filename", "status", "code", "lineno", "msg"):
        # Attributes of built-in exceptions live in slots, not in vars(): keep the ones tests read.
        if name not in attributes and hasattr(type(exc), name):
            try:
                value = getattr(exc, name)
            except BaseException:  # noqa: BLE001 - a property that raises is left out
                continue
            if value is None or type(value) in (int, str, float, bool):
                attributes[name] = encode(value)
    notes = getattr(exc, "__notes__", None)
    members = getattr(exc, "exceptions", None) if isinstance(exc, BaseExceptionGroup) else None
    try:
        args = tuple(exc.args)
    except BaseException:  # noqa: BLE001
        args = ()
    return {
        "where": _where(exc),
        "type": _qualified(type(exc)),
        "mro": [_qualified(c) for c in type(exc).__mro__ if c is not object],
        "message": _safe_str(exc),
        "args": [encode(a, _depth=depth + 1, _seen=seen) for a in args[:10]],
        "attributes": attributes,
        "notes": [_clip(n) for n in notes if type(n) is str][:10] if isinstance(notes, list) else [],
        "cause": _nested_error(exc.__cause__, depth, seen),
        "context": _nested_error(exc.__context__, depth, seen),
        "suppress_context": bool(exc.__suppress_context__),
        "exceptions": [_encode_error(e, depth + 1, seen | {id(e)}) for e in list(members or ())[:50]
                       if isinstance(e, BaseException) and depth < MAX_DEPTH],
    }


def _where(exc: BaseException) -> str | None:
    student_file = student["file"]
    if student_file is None:
        return None
    import os
    import traceback

    found = None
    try:
        for frame, line in traceback.walk_tb(exc.__traceback__):
            if os.path.realpath(frame.f_code.co_filename) == student_file:
                found = f"{os.path.basename(student_file)}:{line} in {frame.f_code.co_name}"
    except BaseException:  # noqa: BLE001 - a location is a courtesy
        return None
    return found


def _nested_error(exc: BaseException | None, depth: int, seen: frozenset[int]) -> dict[str, Any] | None:
    if exc is None or id(exc) in seen or depth > MAX_DEPTH // 2:
        return None
    return _encode_error(exc, depth + 1, seen | {id(exc)})


def decode(data: Any, *, _depth: int = 0) -> Any:
    """The value :func:`encode` made, from untrusted data: raises :class:`Malformed` on anything else."""
    if _depth > MAX_DEPTH + 2:
        raise Malformed("nested too deep")
    if data is None or type(data) in (bool, str, int):
        return data
    if type(data) is list:
        return [decode(v, _depth=_depth + 1) for v in data]
    if type(data) is not dict:
        raise Malformed(f"untagged value of type {type(data).__name__}")
    tag = data.get("t")
    payload = data.get("v")
    if tag == "float":
        if type(payload) in (int, float):
            return float(payload)
        if payload in ("inf", "-inf", "nan"):
            return float(payload)
    if tag in ("tuple", "set", "frozenset") and type(payload) is list:
        items = [decode(v, _depth=_depth + 1) for v in payload]
        try:
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        except TypeError as exc:
            raise Malformed(f"unhashable member of a {tag}") from exc
    if tag == "dict" and type(payload) is list:
        result = {}
        for pair in payload:
            if type(pair) is not list or len(pair) != 2:
                raise Malformed("a dict entry is not a pair")
            key = decode(pair[0], _depth=_depth + 1)
            try:
                result[key] = decode(pair[1], _depth=_depth + 1)
            except TypeError as exc:
                raise Malformed("unhashable dict key") from exc
        return result
    if tag == "bytes" and type(payload) is str:
        try:
            return bytes.fromhex(payload)
        except ValueError as exc:
            raise Malformed("bytes that are not hex") from exc
    if tag == "error" and type(payload) is dict:
        return decode_error(payload, _depth=_depth + 1)
    if tag == "record" and type(payload) is dict and type(data.get("type")) is str:
        return Record(type=_text(data["type"]), fields={_text(k): decode(v, _depth=_depth + 1) for k, v in payload.items()})
    if tag == "opaque" and type(data.get("type")) is str and type(data.get("repr")) is str:
        return Opaque(type=_text(data["type"]), repr=_text(data["repr"]))
    raise Malformed(f"unknown or malformed tag {str(tag)[:40]!r}")


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Malformed("expected text")
    return value[:MAX_TEXT]


def decode_error(data: Any, *, _depth: int = 0) -> ErrorInfo:
    """An :class:`ErrorInfo` from untrusted data."""
    if type(data) is not dict or _depth > MAX_DEPTH + 2:
        raise Malformed("an exception is not an object")
    mro = data.get("mro")
    if type(mro) is not list or not all(type(m) is str for m in mro):
        raise Malformed("an exception's classes are not a list of names")
    attributes = data.get("attributes") or {}
    if type(attributes) is not dict:
        raise Malformed("an exception's attributes are not an object")
    notes = data.get("notes") or []
    members = data.get("exceptions") or []
    args = data.get("args") or []
    if type(notes) is not list or type(members) is not list or type(args) is not list:
        raise Malformed("an exception's notes, members or args are not lists")
    return ErrorInfo(
        type=_text(data.get("type")),
        classes=tuple(m[:200] for m in mro[:40]),
        message=_text(data.get("message", "")),
        args=tuple(decode(a, _depth=_depth + 1) for a in args),
        attributes={_text(k): decode(v, _depth=_depth + 1) for k, v in attributes.items()},
        notes=tuple(_text(n) for n in notes),
        cause=None if data.get("cause") is None else decode_error(data["cause"], _depth=_depth + 1),
        context=None if data.get("context") is None else decode_error(data["context"], _depth=_depth + 1),
        suppress_context=data.get("suppress_context") is True,
        exceptions=tuple(decode_error(m, _depth=_depth + 1) for m in members),
        where=None if data.get("where") is None else _text(data["where"])[:300],
    )


def dumps(message: dict[str, Any]) -> bytes:
    """One framed message: a 4-byte length, then compact JSON."""
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return _HEADER.pack(len(body)) + body


def loads(body: bytes) -> dict[str, Any]:
    """A message's JSON object from its framed body (without the length); :class:`Malformed` otherwise."""
    if len(body) > MAX_MESSAGE:
        raise Malformed(f"a message of {len(body)} bytes, over the {MAX_MESSAGE}-byte limit")
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"not JSON: {type(exc).__name__}") from None
    if type(message) is not dict:
        raise Malformed("a message is not a JSON object")
    return message


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name}")


def frame_length(header: bytes) -> int:
    """The body length a 4-byte header announces; :class:`Malformed` past the limit."""
    (length,) = _HEADER.unpack(header)
    if length > MAX_MESSAGE:
        raise Malformed(f"a message of {length} bytes, over the {MAX_MESSAGE}-byte limit")
    return length


HEADER_SIZE = _HEADER.size


class Frames:
    """The messages in a byte stream, however it arrives chunked: a buffer that outlives each read.

    A reader interrupted halfway through a message (a test's timeout) leaves
    the rest here, so the next read finishes that message first and the
    stream never falls out of step.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> None:
        """Add what was read."""
        self.buffer += chunk

    def next(self) -> dict[str, Any] | None:
        """The next whole message, or None until more is fed; :class:`Malformed` for a broken one."""
        if len(self.buffer) < HEADER_SIZE:
            return None
        end = HEADER_SIZE + frame_length(bytes(self.buffer[:HEADER_SIZE]))
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[HEADER_SIZE:end])
        del self.buffer[:end]
        return loads(body)
