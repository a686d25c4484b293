"""``--format text``: a score table and the failures' feedback, for a terminal.

Colour and wrapping are for a person at a terminal only (``style``): the
command line asks for them when standard output is a terminal, colour never
when ``NO_COLOR`` is set to anything (https://no-color.org) or ``TERM`` is
``dumb``, and wraps to the terminal's width. Anything else (a file, a pipe,
a CI log) gets plain text with lines as long as they are: CI logs wrap
themselves, and a file keeps each sentence on its own line for grep.

Every word the report adds is shown in the active language (coursekit.i18n),
and so are the grader's own messages in the result (``localize``); a
character as wide as two columns (Chinese) counts two when the table is
padded and a line wrapped.
"""
from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from coursekit.i18n import N_, _, localize
from grader.model import GradeResult
from grader.report.wording import FLAGGED, FULL_STOP, NOT_SANDBOXED, STATUS, VISIBILITY, public_only_note, word

MARKS = {"passed": N_("ok"), "failed": N_("FAIL"), "error": N_("ERROR"), "timeout": N_("TIMEOUT"),
         "skipped": N_("SKIP")}
HEADINGS = (N_("id"), N_("assignment"), N_("score"), N_("tests"), N_("status"))
TOTAL = N_("total")
HIDDEN_MORE = N_("{score} (+{points} hidden)")
TEST_HEAD = N_("[{mark}] {name} ({visibility}, 0/{points})")
PUBLIC_ONLY = N_("Public tests only: ")
NO_HIDDEN_TESTS = N_("the hidden tests are not available here.")
NOT_SANDBOXED_LABEL = N_("Not sandboxed: ")
FLAGGED_LABEL = N_("Flagged: ")
ASSIGNMENT_LINE = "{id} {title}: {message}"
# SGR codes: red for what lost points, yellow for what a reader must not mistake, green for full marks.
RED, YELLOW, GREEN, BOLD, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[1m", "\033[0m"
MARK_COLOURS = {"failed": RED, "error": RED, "timeout": RED, "skipped": YELLOW}
STATUS_COLOURS = {"missing": YELLOW, "error": RED, "void": RED, "flagged": YELLOW}
MIN_WIDTH = 40  # narrower terminals are not wrapped: the text would be mostly indentation


@dataclass(frozen=True)
class Style:
    """How the text is shown: colour or not, and the width to wrap to (None: no wrapping)."""

    colour: bool = False
    width: int | None = None


PLAIN = Style()


def terminal_style(env: Mapping[str, str], *, isatty: bool, columns: int) -> Style:
    """The style for standard output: colour and wrapping on a terminal, colour unless ``NO_COLOR`` is set."""
    if not isatty:
        return PLAIN
    colour = not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    return Style(colour=colour, width=columns if columns >= MIN_WIDTH else None)


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


# A wide character is a place to break a line on its own; other text breaks at spaces only.
_PIECES = re.compile(r"\s+|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef](?:[，。：；、）！？」』]*)|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def _wrap_wide(text: str, columns: int, indent: str, later: str) -> list[str]:
    """textwrap's greedy fill, by display width, breaking between wide characters as well as at spaces."""
    lines, line, prefix = [], "", indent
    for piece in _PIECES.findall(text):
        if piece.isspace():
            if line:
                line += " "
            continue
        if line and width(prefix + line + piece) > columns:
            lines.append(prefix + line.rstrip())
            line, prefix = "", later
        line += piece
    lines.append(prefix + line.rstrip())
    return lines


def _points(value: float) -> str:
    return f"{value:g}"


def _score(score: float, max_score: float, ungraded: float) -> str:
    """``"33/33"``, or ``"33/33 (+67 hidden)"`` when hidden tests worth 67 points were not run."""
    text = f"{_points(score)}/{_points(max_score)}"
    return _(HIDDEN_MORE).format(score=text, points=_points(ungraded)) if ungraded else text


def render(result: GradeResult, env: Mapping[str, str], style: Style = PLAIN) -> str:
    """A table of assignments, then each failed test with its feedback."""

    def paint(text: str, colour: str | None) -> str:
        return f"{colour}{text}{RESET}" if style.colour and colour and text else text

    def wrap(text: str, indent: str = "", later: str | None = None) -> list[str]:
        if style.width is None:
            return [indent + text]
        if width(text) != len(text):
            return _wrap_wide(text, style.width, indent, later or indent)
        return textwrap.wrap(text, style.width, initial_indent=indent, subsequent_indent=later or indent,
                             break_long_words=False, break_on_hyphens=False) or [indent]

    rows = [tuple(_(h) for h in HEADINGS)]
    for a in result.assignments:
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "-"
        rows.append((a.id, localize(a.title), _score(a.score, a.max_score, a.ungraded_points), tests,
                     word(STATUS, a.status)))
    rows.append(("", _(TOTAL), _score(result.score, result.max_score, result.ungraded_points), "", ""))
    widths = [max(width(row[i]) for row in rows) for i in range(5)]
    # Padded first, painted after: escape codes have no width on screen.
    status_colours = [None, *(GREEN if a.status == "graded" and a.score >= a.max_score else
                              STATUS_COLOURS.get(a.status) for a in result.assignments), None]
    lines = []
    for row, colour in zip(rows, status_colours):
        cells = [_pad(cell, columns) for cell, columns in zip(row, widths)]
        cells[4] = paint(row[4], colour)
        lines.append("  ".join(cells).rstrip())
    lines[-1] = paint(lines[-1], BOLD)
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    notes = []
    if result.ungraded_points:
        notes.append((_(PUBLIC_ONLY), public_only_note(result)))
    elif not result.hidden_tests_included:
        notes.append((_(PUBLIC_ONLY), _(NO_HIDDEN_TESTS)))
    if not result.sandboxed:
        notes.append((_(NOT_SANDBOXED_LABEL), _(NOT_SANDBOXED) + _(FULL_STOP)))
    if any(a.status == "flagged" for a in result.assignments):
        notes.append((_(FLAGGED_LABEL), _(FLAGGED) + _(FULL_STOP)))
    for label, note in notes:
        wrapped = wrap(label + note)
        lines += ["", paint(label.rstrip(), YELLOW) + wrapped[0][len(label.rstrip()):], *wrapped[1:]]
    for a in result.assignments:
        failing = [t for t in a.tests if t.outcome != "passed"]
        if a.status != "graded" or failing:
            lines += ["", *wrap(ASSIGNMENT_LINE.format(id=a.id, title=localize(a.title), message=localize(a.message)),
                                later="    ")]
        for t in failing:
            mark = _(MARKS[t.outcome])
            head = wrap(_(TEST_HEAD).format(mark=mark, name=t.name, visibility=word(VISIBILITY, t.visibility),
                                            points=_points(t.max_score)), "  ", "      ")
            head[0] = head[0].replace(mark, paint(mark, MARK_COLOURS.get(t.outcome)), 1)
            lines += head
            for line in localize(t.feedback).splitlines():
                body = line.lstrip()  # quoted code keeps its own indentation on every wrapped line
                lines += wrap(body, "      " + line[:len(line) - len(body)]) if body else [""]
    return "\n".join(lines) + "\n"
