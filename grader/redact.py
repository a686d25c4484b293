"""Redact: hidden test source never reaches a student through a message their code produced.

The guard keeps graded code from opening the hidden test files, but code in
the same process can still find their text (a traceback's cached lines, for
one) and put it in an exception message, which is feedback. So every message
that came from the child is checked against the hidden tests' lines before
it is scored, and a message quoting one is withheld.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from grader.manifest import Manifest
from grader.stage import CourseTests

MIN_SECRET = 25  # shorter lines (``await task``) are too common to be secrets, or to recognise
WITHHELD = "[withheld: it quoted a hidden test]"


def public_text(course_root: Path) -> str:
    """Everything a student already sees: the assignments' READMEs, stubs and public tests, coursekit (its probe
    runtime included), the grader. The one definition of "public" for withholding messages and for publish."""
    package_root = Path(__file__).resolve().parent.parent
    files = [*(course_root / "assignments").rglob("*.py"), *(course_root / "assignments").rglob("*.md"),
             *(package_root / "coursekit").rglob("*.py"), *(package_root / "grader").rglob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in sorted(files))


def secret_lines(sources: list[str], public: str) -> frozenset[str]:
    """Lines of hidden test code that are secret and long enough to recognise.

    Docstrings and comments are feedback or commentary by design, and a line
    the student copy already shows (advice such as ``asyncio.set_event_loop(None)``)
    is no secret.
    """
    docstrings = [_docstrings(source) for source in sources]
    # What a docstring says is shown to students as a test's "Expected:" line, code it quotes included.
    shown = "\n".join(text for _, texts in docstrings for text in texts)
    lines = set()
    for source, (numbers, _) in zip(sources, docstrings):
        for number, line in enumerate(source.splitlines(), start=1):
            stripped = line.strip()
            if number in numbers or len(stripped) < MIN_SECRET:
                continue
            if stripped.startswith(('"""', "#", "'", '"', 'f"', "f'")):
                continue
            # The substring searches last: they are the costly checks.
            if stripped not in public and stripped not in shown:
                lines.add(stripped)
    return frozenset(lines)


def _docstrings(source: str) -> tuple[set[int], list[str]]:
    """Every docstring of ``source``: the numbers of all the lines they span, and their texts."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), []
    numbers: set[int] = set()
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str) and first.end_lineno is not None):
                numbers.update(range(first.lineno, first.end_lineno + 1))
                texts.append(first.value.value)
    return numbers, texts


class HiddenText:
    """The secret lines of a course's hidden tests, worked out the first time a message needs checking."""

    def __init__(self, sources: Callable[[], list[str]], public: Callable[[], str]) -> None:
        self._sources = sources
        self._public = public

    @cached_property
    def lines(self) -> frozenset[str]:
        """The secret lines (most runs never need them: passing tests carry no messages)."""
        sources = self._sources()
        return secret_lines(sources, self._public()) if sources else frozenset()

    def redact(self, text: str) -> str:
        """``text``, or a notice in its place when it quotes a secret line."""
        if len(text) >= MIN_SECRET and any(line in text for line in self.lines):
            return WITHHELD
        return text


def hidden_text(manifest: Manifest, tests: CourseTests) -> HiddenText:
    """The secret lines of every hidden test file of the course."""
    def sources() -> list[str]:
        return [path.read_text(encoding="utf-8", errors="replace")
                for a in manifest.assignments for path in tests.hidden(a)]

    return HiddenText(sources, lambda: public_text(tests.course_root))
