"""Probes for async iterators under test: async generators a student writes (paginators and the like).

A function that should be an async generator but is a plain ``async def``
returns a coroutine instead; these helpers turn that into a failure that says
so (and close the coroutine, so no "never awaited" warning leaks into a later
test), rather than a ``TypeError`` from ``async for``. An untouched stub gets
the not-implemented failure instead. Prefer them to a bare ``async for`` over
the student's function.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast


def async_iterator(agen: object, *, what: str) -> AsyncIterator[Any]:
    """``agen`` itself, failing clearly if it is not an async iterator."""
    if not hasattr(agen, "__anext__"):
        if asyncio.iscoroutine(agen):
            agen.close()
            if _is_stub(agen):
                raise NotImplementedError(f"{what} is still the stub: its body only raises NotImplementedError")
        raise AssertionError(
            f"{what} should be an async generator (an `async def` with `yield`), got {agen!r}"
        )
    return cast(AsyncIterator[Any], agen)


def _is_stub(coro: Any) -> bool:
    """Whether a coroutine comes from an untouched stub: a body that names nothing but NotImplementedError.

    An async generator's stub has no ``yield`` left, so calling it returns a
    coroutine that would raise NotImplementedError once awaited: that, not
    "not an async generator", is what the student needs to hear.
    """
    code = getattr(coro, "cr_code", None)
    return code is not None and code.co_names == ("NotImplementedError",)


async def collect(agen: object, *, what: str, limit: int = 1000) -> list[Any]:
    """All items of an async iterator (at most ``limit``), failing clearly if it is not one.

    More than ``limit`` items fails the test too: an iterator that never stops
    would otherwise run until the test's timeout.
    """
    items = []
    async for item in async_iterator(agen, what=what):
        items.append(item)
        assert len(items) <= limit, f"{what} yielded more than {limit} items: does it ever stop?"
    return items
