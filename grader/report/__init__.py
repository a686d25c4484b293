"""Report: render the one result model into every output format."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from grader.model import GradeResult
from grader.report import (
    classroom,
    classroom50,
    gradescope,
    json_format,
    markdown,
    text,
)

Renderer = Callable[[GradeResult, Mapping[str, str]], str]

FORMATS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_format.render,
    "markdown": markdown.render,
    "classroom": classroom.render,
    "classroom50": classroom50.render,
    "gradescope": gradescope.render,
}


def render(result: GradeResult, fmt: str, env: Mapping[str, str]) -> str:
    """The result in format ``fmt``; ``env`` supplies platform values (Classroom 50's ids)."""
    return FORMATS[fmt](result, env)
