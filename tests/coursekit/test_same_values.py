"""``coursekit.testing.same``: value checks that a student's return value cannot talk its way through."""
from __future__ import annotations

from typing import Any

import pytest

from coursekit.testing import assert_same, same


class AlwaysEqual:
    """What a forged return value looks like: equal to everything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class ListThatEqualsAll(list):  # type: ignore[type-arg]
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize(("actual", "expected"), [
    ([1, "a", None], [1, "a", None]),
    ((1, 2.5), (1, 2.5)),
    ({"b": [1], "a": (2,)}, {"a": (2,), "b": [1]}),
    ({1, 2}, {2, 1}),
    (frozenset({"x"}), frozenset({"x"})),
    (2, 2.0),  # an int of the same value where a float is expected
    (b"\x00", b"\x00"),
    (ValueError, ValueError),
])
def test_equal_values_of_the_same_types_are_the_same(actual: Any, expected: Any) -> None:
    assert same(actual, expected)
    assert_same(actual, expected, what="f()")


@pytest.mark.parametrize(("actual", "expected"), [
    (AlwaysEqual(), [1, 2]),
    ([AlwaysEqual()], [1]),
    ({"a": AlwaysEqual()}, {"a": 1}),
    ((AlwaysEqual(),), (1,)),
    (ListThatEqualsAll(), [1, 2]),  # a subclass of the promised type is not the promised type
    ((1, 2), [1, 2]),
    ([1, 2], [1, 2, 3]),
    (True, 1),
    (True, 1.0),
    (2.0, 2),  # a float where an int is promised
    ("1", 1),
    ({1.0}, {1}),
    ({"a": 1, "b": 2}, {"a": 1, "c": 2}),
])
def test_different_types_or_values_are_not_the_same(actual: Any, expected: Any) -> None:
    assert not same(actual, expected)
    with pytest.raises(AssertionError, match=r"^f\(\) should be "):
        assert_same(actual, expected, what="f()")


def test_the_message_names_both_types_when_they_differ() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_same((1,), [1], what="run_concurrent(jobs)")
    assert str(caught.value) == (
        "run_concurrent(jobs) should be [1], got (1,) (type tuple, where list was expected)"
    )
