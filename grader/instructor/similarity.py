"""``python -m grader similarity SUBMISSIONS --out DIR``: pairs of submissions whose code is unusually alike.

Per assignment, every submitted module is reduced to what its structure says:
the syntax tree's node kinds in source order, with every identifier, literal,
comment and docstring gone, so renaming variables, changing strings or
rewriting comments changes nothing. Each top-level statement (and each
statement of a top-level class, a method) is its own unit, so reordering
functions changes nothing either. Every run of K consecutive node kinds
inside a unit is hashed, and winnowing (Schleimer, Wilkerson and Aiken 2003,
the algorithm of MOSS) keeps the smallest hash of every W consecutive ones:
any structure shared over K + W - 1 nodes or more leaves at least one common
fingerprint. What came with the assignment's stub (its imports, signatures
and given code: the same for everyone) is removed twice over: the lines whose
shape (their node kinds) is one of the stub's lines', even renamed, and every
fingerprint the stub itself has. So are the fingerprints most of a large
class shares (an idiom, not a copy). A module byte for byte the stub is "not
started" and never compared.

The score of a pair is the share of the smaller submission's fingerprints
that the other one holds too (0-100): a copy padded with extra code still
scores high. It says where to look, never that anyone copied: a person reads
the side-by-side view before anything is concluded.

Output: ``DIR/similarity.json``, ``DIR/index.html`` and one static page per
reported pair, with no script and nothing loaded from anywhere; the
pages' only style is inline, allowed by its hash in the Content-Security-Policy.
"""
from __future__ import annotations

import argparse
import ast
import base64
import functools
import hashlib
import heapq
import json
import statistics
import sys
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.find import find_submission
from grader.manifest import Assignment, Manifest, find_course_root, load_manifest
from grader.stubs import make_stub

K = 13  # nodes per hashed run: shorter shared runs are what any two solutions of one exercise have in common
WINDOW = 6  # winnowing window: every shared run of K + WINDOW - 1 = 18 nodes or more is found
MIN_GIVEN_NODES = 4  # a line of the stub with fewer nodes (``x = 0``) is too common to mean "from the stub"
MIN_FINGERPRINTS = 8  # a submission with fewer of its own (beyond the stub) is too small to compare
COMMON_AT_LEAST = 10  # a fingerprint held by more submissions than this and than half the class is an idiom
FLAG_SCORE = 70.0  # a pair at or above this is highlighted for review (the README says what was measured)
MARKER = ".written-by-similarity"
VERSION = 1
# --- normalisation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One normalised token: a syntax node's kind and the source lines it spans."""

    kind: str
    first: int
    last: int


def _is_docstring(statement: ast.stmt) -> bool:
    """A statement that is only a string: a docstring, or a string used as a comment."""
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


Shape = tuple[str, ...]  # the kinds of the nodes that start on one line: that line without its names and values


def _kept(node: ast.AST) -> bool:
    """Whether ``node`` is part of the normalised code (contexts, type comments and docstrings are not)."""
    return not (isinstance(node, (ast.expr_context, ast.type_ignore))
                or (isinstance(node, ast.stmt) and _is_docstring(node)))


def _walk(top: ast.AST) -> list[Node]:
    """``top`` and the nodes under it in source order, without those ``_kept`` leaves out (nor theirs).

    A node without a position of its own (an operator, ``arguments``, a comprehension's ``for``) takes its
    parent's first line: ``a + b`` and ``a * b`` differ. A loop, not recursion: nesting depth costs no stack.
    """
    found: list[Node] = []
    stack: list[tuple[ast.AST, int]] = [(top, 0)]
    while stack:
        node, line = stack.pop()
        if not _kept(node):
            continue
        first = getattr(node, "lineno", None) or line
        found.append(Node(type(node).__name__, first, getattr(node, "end_lineno", None) or first))
        stack.extend((child, first) for child in reversed(list(ast.iter_child_nodes(node))))
    return found


def _parse(source: str) -> ast.Module:
    """The syntax tree of ``source``; SyntaxError (ValueError for a null byte) when it is not Python."""
    with warnings.catch_warnings():  # a student's invalid escape sequence is no concern here
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _all_units(source: str) -> list[list[Node]]:
    """Every node of a module, by unit: one per top-level statement, and for a top-level class one for its own
    line, decorators and bases and one per statement of its body (a method)."""
    found: list[list[Node]] = []
    for statement in _parse(source).body:
        if isinstance(statement, ast.ClassDef):
            header = [Node("ClassDef", statement.lineno, statement.lineno)]
            for part in (*statement.decorator_list, *statement.bases, *statement.keywords):
                header.extend(_walk(part))
            found.append(header)
            found.extend(_walk(inner) for inner in statement.body)
        else:
            found.append(_walk(statement))
    return found


def _shapes(all_units: list[list[Node]]) -> dict[int, Shape]:
    """Line number -> the shape of that line."""
    kinds: dict[int, list[str]] = {}
    for unit in all_units:
        for node in unit:
            kinds.setdefault(node.first, []).append(node.kind)
    return {line: tuple(found) for line, found in kinds.items()}


def given_shapes(stub: str) -> frozenset[Shape]:
    """The shapes of the stub's lines: a line of a submission with one of them came with the stub (a signature,
    an import, given code), even with its names changed.

    Shapes of fewer than MIN_GIVEN_NODES nodes (``x = 0``, ``raise E()``) are too common to say so.
    """
    return frozenset(shape for shape in _shapes(_all_units(stub)).values() if len(shape) >= MIN_GIVEN_NODES)


def stub_lines(source: str, given: frozenset[Shape]) -> set[int]:
    """The numbers of the lines of ``source`` that came with the stub: those with one of its ``given`` shapes."""
    return {line for line, shape in _shapes(_all_units(source)).items() if shape in given}


def units(source: str, given: frozenset[Shape] = frozenset()) -> list[list[Node]]:
    """The normalised units of a module: one per top-level statement, and one per statement of a top-level
    class (the class's own line, bases and decorators being one more), so their order does not matter.
    Each unit lists its nodes' kinds in source order, without identifiers, literal values, docstrings or
    contexts, and without the lines whose shape is one of the stub's ``given`` ones.

    Raises SyntaxError (or ValueError for a null byte) when ``source`` is not Python.
    """
    found = _all_units(source)
    from_stub = {line for line, shape in _shapes(found).items() if shape in given}
    kept = ([node for node in unit if node.first not in from_stub] for unit in found)
    return [unit for unit in kept if unit]


# --- fingerprints --------------------------------------------------------------------------------------------


@functools.cache
def _kind_id(kind: str) -> int:
    return zlib.crc32(kind.encode())


def _grams(unit: list[Node]) -> list[tuple[int, int, int]]:
    """(hash, first line, last line) of every run of K nodes of ``unit``."""
    # hash() of a tuple of ints is the same in every process (of strings it is not): reports are reproducible.
    ids = [_kind_id(node.kind) for node in unit]
    firsts = [node.first for node in unit]
    lasts = [node.last for node in unit]
    return [(hash(tuple(ids[start:start + K])), min(firsts[start:start + K]), max(lasts[start:start + K]))
            for start in range(len(unit) - K + 1)]


def winnow(hashes: list[int], window: int = WINDOW) -> list[int]:
    """The positions winnowing keeps: in every ``window`` consecutive hashes, the rightmost smallest one, once.

    A sequence shorter than the window keeps its smallest hash.
    """
    if not hashes:
        return []
    kept: list[int] = []
    for end in range(min(window, len(hashes)), len(hashes) + 1):
        start = max(0, end - window)
        chunk = hashes[start:end]
        smallest = min(chunk)
        position = start + max(i for i, h in enumerate(chunk) if h == smallest)
        if not kept or kept[-1] != position:
            kept.append(position)
    return kept


Spans = dict[int, list[tuple[int, int]]]  # fingerprint -> the line spans it stands for


def fingerprints(source: str, given: frozenset[Shape] = frozenset()) -> Spans:
    """The winnowed fingerprints of a module, each with the line spans where it occurs; nodes starting on the
    stub's ``given`` lines are left out."""
    found: Spans = {}
    for unit in units(source, given):
        grams = _grams(unit)
        for position in winnow([g[0] for g in grams]):
            digest, first, last = grams[position]
            found.setdefault(digest, []).append((first, last))
    return found


def every_gram(source: str) -> set[int]:
    """Every K-node hash of a module, winnowed or not: what a stub gives everyone, to be removed."""
    return {gram[0] for unit in units(source) for gram in _grams(unit)}


# --- one assignment ------------------------------------------------------------------------------------------


@dataclass
class Submission:
    """One student's module for one assignment, with the fingerprints that are their own."""

    student: str
    source: str
    spans: Spans
    own: frozenset[int] = frozenset()


@dataclass
class Pair:
    """Two submissions and what they share."""

    a: Submission
    b: Submission
    shared: frozenset[int]

    @property
    def score(self) -> float:
        """The share (0-100) of the smaller submission's own fingerprints the other one holds too."""
        return 100.0 * len(self.shared) / min(len(self.a.own), len(self.b.own))

    def percent(self, side: Submission) -> float:
        """The share (0-100) of ``side``'s own fingerprints the pair shares."""
        return 100.0 * len(self.shared) / len(side.own)

    def blocks(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Matching regions as ((first, last) line in a, (first, last) line in b), merged where they touch."""
        links = sorted((span_a, span_b) for digest in self.shared
                       for span_a in self.a.spans[digest] for span_b in self.b.spans[digest][:1])
        merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
        for (a1, a2), (b1, b2) in links:
            if merged:
                (p1, p2), (q1, q2) = merged[-1]
                if a1 <= p2 + 1 and q1 - 1 <= b1 <= q2 + 1:
                    merged[-1] = ((p1, max(p2, a2)), (min(q1, b1), max(q2, b2)))
                    continue
            merged.append(((a1, a2), (b1, b2)))
        return merged


@dataclass
class AssignmentReport:
    """What was compared for one assignment, and its most alike pairs."""

    assignment: Assignment
    given: frozenset[Shape] = frozenset()  # the shapes of the stub's lines
    compared: list[Submission] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # the stub, byte for byte
    missing: list[str] = field(default_factory=list)
    too_small: list[str] = field(default_factory=list)  # too little code beyond the stub to compare
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (student, why)
    pairs: list[Pair] = field(default_factory=list)  # the most alike pairs, most alike first
    scores: list[float] = field(default_factory=list)  # the score of every pair compared
    common: int = 0  # fingerprints left out as the class's idioms

    def typical(self) -> float | None:
        """The median score of all pairs: what "alike" means in this class for this assignment."""
        return statistics.median(self.scores) if self.scores else None


def compare(assignment: Assignment, stub: str, modules: dict[str, bytes | None],
            problems: dict[str, str] | None = None, top: int | None = None) -> AssignmentReport:
    """Compare every pair of ``modules`` (student -> the module's bytes, None when not submitted); the report
    keeps the ``top`` most alike pairs (all for None) and every pair's score."""
    given = given_shapes(stub)
    report = AssignmentReport(assignment, given)
    for student, why in sorted((problems or {}).items()):
        report.unreadable.append((student, why))
    stub_bytes = stub.encode()
    stub_grams = every_gram(stub)
    candidates: list[Submission] = []
    for student, data in sorted(modules.items()):
        if data is None:
            report.missing.append(student)
            continue
        if data == stub_bytes:
            report.not_started.append(student)
            continue
        try:
            source = data.decode("utf-8")
            spans = fingerprints(source, given)
        except UnicodeDecodeError:
            report.unreadable.append((student, "not UTF-8 text"))
            continue
        except (SyntaxError, ValueError) as exc:
            line = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
            report.unreadable.append((student, f"not valid Python{line}: not compared"))
            continue
        except (RecursionError, MemoryError):  # the parser's own limits
            report.unreadable.append((student, "nested too deeply to compare"))
            continue
        candidates.append(Submission(student, source, spans))
    held = Counter(digest for s in candidates for digest in s.spans)
    common = {digest for digest, count in held.items() if count > max(COMMON_AT_LEAST, len(candidates) / 2)}
    report.common = len(common)
    for submission in candidates:
        submission.own = frozenset(submission.spans.keys() - stub_grams - common)
        if len(submission.own) < MIN_FINGERPRINTS:
            report.too_small.append(submission.student)
        else:
            report.compared.append(submission)
    report.unreadable.sort()
    ranked: list[tuple[float, int, int]] = []  # (-score, i, j): a class of n has n(n-1)/2 pairs, keep them small
    for i, a in enumerate(report.compared):
        for j in range(i + 1, len(report.compared)):
            b = report.compared[j]
            ranked.append((-100.0 * len(a.own & b.own) / min(len(a.own), len(b.own)), i, j))
    report.scores = [-score for score, _, _ in ranked]
    chosen = sorted(ranked) if top is None else heapq.nsmallest(top, ranked)
    report.pairs = [Pair(report.compared[i], report.compared[j], report.compared[i].own & report.compared[j].own)
                    for _, i, j in chosen]
    return report


def stub_source(manifest: Manifest, assignment: Assignment) -> str:
    """The stub students start from: the committed one, else the one the solution generates."""
    stub = manifest.root / "assignments" / assignment.id / assignment.module
    if stub.is_file():
        return stub.read_text(encoding="utf-8")
    solution = manifest.root / "solutions" / assignment.id / assignment.module
    if solution.is_file():
        return make_stub(solution.read_text(encoding="utf-8"), name=str(solution))
    raise UsageError(f"no stub for assignment {assignment.id}: neither {stub} nor {solution} exists")


def student_folders(submissions: Path, out: Path | None = None) -> dict[str, Path]:
    """Student -> checkout, from a folder of checkouts or a results folder of batch (its ``checkouts/``).

    ``out``, the report folder, is never a student when it is inside the folder, nor is an earlier report.
    """
    from grader.instructor.roster import read_sources

    if not submissions.is_dir():
        if submissions.exists():
            raise UsageError(f"{submissions} is not a folder: give a folder of checkouts (one subfolder per "
                             "student), or the results folder of a roster's batch")
        raise UsageError(f"submissions {submissions} do not exist")
    if (submissions / "summary.json").is_file():  # a results folder of batch
        if not (submissions / "checkouts").is_dir():
            raise UsageError(f"{submissions} is a results folder without checkouts/ (graded from a folder of "
                             "checkouts): give that folder of checkouts")
        submissions = submissions / "checkouts"  # a roster's batch keeps its clones there
    folders = {source.student: Path(source.location) for source in read_sources(submissions, out)}
    return {student: folder for student, folder in folders.items() if not (folder / MARKER).is_file()}


def compare_class(manifest: Manifest, folders: dict[str, Path], top: int | None = None) -> list[AssignmentReport]:
    """Compare, for every assignment of ``manifest``, the modules of the checkouts ``folders``; keep the ``top``
    most alike pairs of each (all for None)."""
    modules: dict[str, dict[str, bytes | None]] = {a.id: {} for a in manifest.assignments}
    problems: dict[str, dict[str, str]] = {a.id: {} for a in manifest.assignments}
    for student, folder in folders.items():
        for found in find_submission(folder, manifest):
            if found.problem is not None:
                problems[found.assignment.id][student] = found.problem
            else:
                modules[found.assignment.id][student] = found.source
    return [compare(a, stub_source(manifest, a), modules[a.id], problems[a.id], top) for a in manifest.assignments]


# --- outputs -------------------------------------------------------------------------------------------------


def _number(value: float) -> float:
    return round(value, 1)


def to_json(reports: list[AssignmentReport], top: int, pages: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    """The machine-readable report: per assignment, the ``top`` most alike pairs and who was left out."""
    assignments = []
    for report in reports:
        typical = report.typical()
        assignments.append({
            "id": report.assignment.id,
            "title": report.assignment.title,
            "module": report.assignment.module,
            "compared": [s.student for s in report.compared],
            "not_started": report.not_started,
            "missing": report.missing,
            "too_small": report.too_small,
            "unreadable": [{"student": student, "reason": why} for student, why in report.unreadable],
            "pairs_compared": len(report.scores),
            "typical_score": None if typical is None else _number(typical),
            "pairs": [{
                "a": p.a.student, "b": p.b.student, "score": _number(p.score),
                "a_percent": _number(p.percent(p.a)), "b_percent": _number(p.percent(p.b)),
                "shared_fingerprints": len(p.shared), "flagged": p.score >= FLAG_SCORE,
                "blocks": [{"a": list(a), "b": list(b)} for a, b in p.blocks()],
                "page": pages[(report.assignment.id, p.a.student, p.b.student)],
            } for p in report.pairs[:top]],
        })
    return {
        "version": VERSION,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": {"normalisation": "syntax-tree node kinds; identifiers, literals, comments, docstrings and "
                                    "the stub's code removed; one unit per top-level statement or method",
                   "k": K, "window": WINDOW, "min_fingerprints": MIN_FINGERPRINTS, "flag_score": FLAG_SCORE,
                   "score": "shared fingerprints / fingerprints of the smaller submission, in percent"},
        "assignments": assignments,
    }


CSS = """
body { margin: 0 auto; max-width: 96rem; padding: 1rem 1.5rem 3rem; color: #1d2330; background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d7dbe3; }
a { color: #2f5fb3; } .meta, .hint { color: #5b6476; }
table { border-collapse: collapse; } th, td { border: 1px solid #d7dbe3; padding: 0.3rem 0.55rem; text-align: left; }
thead th { background: #f5f6f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #f8d9b5; font-weight: 600; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
.code { overflow-x: auto; border: 1px solid #d7dbe3; }
.code table { border: 0; width: 100%; } .code td { border: 0; padding: 0 0.5rem; vertical-align: top; }
.code pre { margin: 0; font: 13px/1.35 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; white-space: pre; }
.code td.n { color: #5b6476; text-align: right; user-select: none; width: 3rem; }
.code td.b { width: 2rem; color: #5b6476; font-size: 0.8rem; }
tr.m0 td { background: #fde2b8; } tr.m1 td { background: #cfe3fa; } tr.m2 td { background: #d6ebbf; }
tr.stub td pre { color: #8a91a0; } tr.m3 td { background: #efd3ef; } tr.m4 td { background: #f7ecb0; } tr.m5 td { background: #cdeeea; }
""".strip()


def _page(title: str, body: str) -> str:
    """A self-contained page: no script, and only its own inline style, which the policy allows by hash."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    policy = f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
            f'<meta name="referrer" content="no-referrer">\n<meta name="robots" content="noindex, nofollow">\n'
            f'<meta name="generator" content="python -m grader similarity">\n'
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _names(names: list[str]) -> str:
    return ", ".join(escape(n) for n in names)


def render_index(reports: list[AssignmentReport], top: int, pages: dict[tuple[str, str, str], str],
                 generated: str = "") -> str:
    """The overview: per assignment, the most alike pairs, flagged ones marked, and who was not compared."""
    parts = ["<h1>Similar submissions</h1>",
             f'<p class="meta">Written {escape(generated.replace("T", " ").replace("Z", " UTC"))} by '
             "<code>python -m grader similarity</code>.</p>" if generated else "",
             '<p class="hint">Code compared after removing names, literals, comments, docstrings and the stub\'s '
             "own code, so renamed variables and reordered functions still match. A high score says where to "
             "look, not that anyone copied: read the pair side by side first. Scores are the share of the "
             "smaller submission's fingerprints found in the other one. "
             f'Pairs at {FLAG_SCORE:g} or more are highlighted. Data: <a href="similarity.json">similarity.json'
             "</a>.</p>"]
    for report in reports:
        a = report.assignment
        parts.append(f'<h2 id="a-{escape(a.id)}">{escape(a.id)} {escape(a.title)} '
                     f'<span class="meta">({escape(a.module)})</span></h2>')
        typical = report.typical()
        summary = f"{len(report.compared)} submissions compared, {len(report.scores)} pairs"
        if typical is not None:
            summary += f"; typical (median) score {typical:.0f}"
        parts.append(f'<p class="meta">{summary}.</p>')
        for label, names in (("Not started (the stub, unchanged)", report.not_started),
                             ("Not submitted", report.missing),
                             ("Too little code beyond the stub to compare", report.too_small)):
            if names:
                parts.append(f'<p class="meta">{label}: {_names(names)}.</p>')
        if report.unreadable:
            listed = "; ".join(f"{escape(s)}: {escape(why)}" for s, why in report.unreadable)
            parts.append(f'<p class="meta">Not compared: {listed}.</p>')
        if not report.pairs:
            continue
        rows = []
        for p in report.pairs[:top]:
            flagged = ' class="flagged"' if p.score >= FLAG_SCORE else ""
            href = escape(pages[(a.id, p.a.student, p.b.student)], quote=True)
            rows.append(f"<tr{flagged}><td class=\"num\"><a href=\"{href}\">{p.score:.0f}</a></td>"
                        f"<td>{escape(p.a.student)}</td><td class=\"num\">{p.percent(p.a):.0f}%</td>"
                        f"<td>{escape(p.b.student)}</td><td class=\"num\">{p.percent(p.b):.0f}%</td></tr>")
        parts.append("<table><thead><tr><th>Score</th><th>Student</th><th>of theirs shared</th><th>Student</th>"
                     f"<th>of theirs shared</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return _page("Similar submissions", "\n".join(parts))


def _code(submission: Submission, marks: dict[int, int], given: frozenset[Shape]) -> str:
    """A submission's source with line numbers, lines of block N marked with class ``m<N % 6>``, the lines that
    came with the stub (never counted) greyed."""
    rows = []
    from_stub = stub_lines(submission.source, given)
    for number, line in enumerate(submission.source.splitlines(), start=1):
        block = marks.get(number)
        mark = f' class="m{block % 6}"' if block is not None else ' class="stub"' if number in from_stub else ""
        label = f'<a href="#b{block + 1}">{block + 1}</a>' if block is not None else ""
        rows.append(f'<tr{mark}><td class="n">{number}</td><td class="b">{label}</td>'
                    f"<td><pre>{escape(line)}</pre></td></tr>")
    return f'<div class="code"><table>{"".join(rows)}</table></div>'


def render_pair(assignment: Assignment, pair: Pair, given: frozenset[Shape] = frozenset()) -> str:
    """One pair side by side, each matching block in its own colour and numbered on both sides."""
    blocks = pair.blocks()
    marks_a: dict[int, int] = {}
    marks_b: dict[int, int] = {}
    listed = []
    for index, ((a1, a2), (b1, b2)) in enumerate(blocks):
        for line in range(a1, a2 + 1):
            marks_a.setdefault(line, index)
        for line in range(b1, b2 + 1):
            marks_b.setdefault(line, index)
        listed.append(f'<tr id="b{index + 1}" class="m{index % 6}"><td class="num">{index + 1}</td>'
                      f"<td>{a1}-{a2}</td><td>{b1}-{b2}</td></tr>")
    a, b = escape(pair.a.student), escape(pair.b.student)
    body = [f'<p><a href="../index.html#a-{escape(assignment.id)}">All pairs</a></p>',
            f"<h1>{escape(assignment.id)} {escape(assignment.title)}: {a} and {b}</h1>",
            f'<p>Score <strong>{pair.score:.0f}</strong>: {pair.percent(pair.a):.0f}% of {a}\'s fingerprints and '
            f"{pair.percent(pair.b):.0f}% of {b}'s are shared ({len(pair.shared)} fingerprints). Matching regions are "
            "coloured and numbered alike on both sides; lines that came with the stub are grey and never counted.</p>",
            "<table><thead><tr><th>Block</th><th>Lines of " + a + "</th><th>Lines of " + b + "</th></tr></thead>"
            f"<tbody>{''.join(listed)}</tbody></table>",
            f'<div class="sides"><section><h2>{a}</h2>{_code(pair.a, marks_a, given)}</section>'
            f"<section><h2>{b}</h2>{_code(pair.b, marks_b, given)}</section></div>"]
    return _page(f"{assignment.id}: {pair.a.student} and {pair.b.student}", "\n".join(body))


def write_report(out: Path, reports: list[AssignmentReport], top: int) -> dict[str, Any]:
    """Write ``similarity.json``, ``index.html`` and the pair pages into ``out``; returns the JSON written."""
    from grader.files import write_atomic

    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(f"{out} is not empty and was not written by `similarity`: choose a new or empty folder")
    pages: dict[tuple[str, str, str], str] = {}
    files: dict[str, str] = {}
    for report in reports:
        for number, pair in enumerate(report.pairs[:top], start=1):
            name = f"pairs/{report.assignment.id}-{number:03d}.html"
            pages[(report.assignment.id, pair.a.student, pair.b.student)] = name
            files[name] = render_pair(report.assignment, pair, report.given)
    data = to_json(reports, top, pages)
    files["similarity.json"] = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    files["index.html"] = render_index(reports, top, pages, data["generated"])
    try:
        (out / "pairs").mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by python -m grader similarity; a new run replaces its pages\n",
                                  encoding="utf-8")
        for stale in (out / "pairs").glob("*.html"):  # pairs an earlier run reported
            if f"pairs/{stale.name}" not in files:
                stale.unlink()
        for relative, text in files.items():
            write_atomic(out / relative, text)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    return data


def command(args: argparse.Namespace) -> int:
    """``similarity SUBMISSIONS --out DIR [--assignment NN]... [--top K]``."""
    manifest = load_manifest(find_course_root(Path.cwd())).only(getattr(args, "assignment", None))
    folders = student_folders(args.submissions, args.out)
    reports = compare_class(manifest, folders, args.top)
    write_report(args.out, reports, args.top)
    flagged = sum(1 for r in reports for p in r.pairs[:args.top] if p.score >= FLAG_SCORE)
    print(f"read {len(folders)} checkouts; {flagged} pair(s) at {FLAG_SCORE:g} or more; "
          f"wrote {args.out / 'index.html'}", file=sys.stderr)
    return 0
