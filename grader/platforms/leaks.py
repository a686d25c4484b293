"""The leak check: nothing secret in what students can read.

The secrets are the hidden tests' code and the reference solutions' answers
(the lines inside their solution markers), except lines the student copy
already shows anyway (a common import, advice a README gives, a line of the
grader). Docstrings and comments of hidden tests are feedback by design, and
short lines say nothing, so neither counts. ``publish`` runs this over the template, and over
every autograder bundle for the solutions, before it reports success.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader import redact
from grader.manifest import Manifest
from grader.stubs import BEGIN, END

MIN_LINE = 25
_NOT_CODE = ('"""', "#", "'", '"', 'f"', "f'")


@dataclass(frozen=True)
class Secrets:
    """The lines that must not reach students, by what is published."""

    template: frozenset[str]  # hidden test code and the answers
    bundles: frozenset[str]  # the answers, less lines the bundle's own hidden tests hold

    @classmethod
    def of(cls, manifest: Manifest) -> Secrets:
        """The secrets of the course at ``manifest.root``."""
        root = manifest.root
        public = redact.public_text(root)
        hidden_text: list[str] = []
        answers: set[str] = set()
        for a in manifest.assignments:
            hidden_text += [p.read_text(encoding="utf-8") for p in sorted((root / "tests" / a.id).glob("*.py"))]
            solution = root / "solutions" / a.id / a.module
            if solution.is_file():
                answers |= _code_lines(_marked_lines(solution.read_text(encoding="utf-8")))
        hidden = _code_lines("\n".join(hidden_text).splitlines())
        shipped = "\n".join([public, *hidden_text])
        return cls(template=frozenset(line for line in hidden | answers if line not in public),
                   bundles=frozenset(line for line in answers if line not in shipped))


def _code_lines(lines: list[str]) -> set[str]:
    stripped = (line.strip() for line in lines)
    return {line for line in stripped if len(line) >= MIN_LINE and not line.startswith(_NOT_CODE)}


def _marked_lines(source: str) -> list[str]:
    inside, lines = False, []
    for line in source.splitlines():
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif inside:
            lines.append(line)
    return lines


def find_leaks(folder: Path, secret_lines: frozenset[str]) -> list[str]:
    """Every problem in ``folder``: a solution marker, or a secret line anywhere in a file, and where."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            texts[path.relative_to(folder)] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # not text: nothing a line could leak through
    everything = "\n".join(texts.values())
    wanted = [*(m for m in (BEGIN, END) if m in everything), *sorted(s for s in secret_lines if s in everything)]
    return [f"{name}: {'solution marker' if line in (BEGIN, END) else 'secret line'} {line!r}"
            for line in wanted for name, text in texts.items() if line in text]
