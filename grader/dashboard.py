"""``python -m grader dashboard RESULTS --out SITE``: the instructor's static dashboard.

Reads only ``RESULTS/students/*.json`` (one file per student, written by
``batch``); ``summary.json`` and ``grades.csv`` there are ignored, since the
student files are the record they were derived from. Each student file is
trusted only when its seal verifies with the results key ``batch`` sealed it
with (``--key FILE``, else ``$GRADER_KEY_FILE``, else the default of
grader/records.py): one that does not (edited by hand, forged, unsealed,
sealed with another key, not even JSON) is shown as "unverified", with no
score, and is left out of the class statistics, grades.csv and the nbgrader
gradebook. Writes a static site that
works from disk (``file://``) with no network: ``index.html`` (the class
matrix, score distributions, the tests the class fails most),
``students/<student>.html`` (one page per student), ``grades.csv`` and
``assets/``. Everything taken from the results is HTML-escaped: feedback
quotes student code and exception text, so it is student-controlled.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import re
import shutil
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from coursekit.hints import describe
from grader.batch import RECORD_PURPOSE, not_started, without_credentials
from grader.errors import UsageError
from grader.gradebook.deadlines import late_days, penalised
from grader.grades_csv import GradeRow
from grader.grades_csv import grades_csv as write_grades_csv
from grader.manifest import Manifest, find_course_root, load_manifest
from grader.model import AssignmentResult, GradeResult, TestResult
from grader.records import Key, default_key_path, load_key

MARKER = ".grader-dashboard"  # marks a folder this command wrote, so a rebuild may overwrite it
ASSETS = ("dashboard.css", "dashboard.js")
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
BINS = 10  # histogram bins of 10 % each
UNVERIFIED = "unverified"  # the status shown for a student file whose seal does not verify
UNREADABLE = "unreadable"  # a sealed student file the dashboard cannot use: reported and skipped, never fatal
UNVERIFIED_MESSAGE = ("this record's seal does not verify with the results key (edited, forged, unsealed or sealed "
                      "with another key): nothing in it is shown or counted; grade the student again with batch")


@dataclass(frozen=True)
class Student:
    """One student's record from ``RESULTS/students/<student>.json``."""

    name: str
    page: str  # file name of the student's page under students/
    source: str
    key: str
    graded_at: str
    status: str
    message: str
    result: GradeResult
    not_graded: frozenset[str] = frozenset()  # assignments the time budget left ungraded (batch's "partial")
    not_started: frozenset[str] = frozenset()  # assignments submitted as the untouched stub: no grade, no 0
    file: str = ""  # the student file's name under students/
    late: dict[str, tuple[int, float]] = field(default_factory=dict)  # assignment: (days late, penalty %)
    first_seen_at: str = ""  # when the grader first had the graded commit: what lateness is decided on
    committed_at: str = ""  # the commit's own date (the student's to set): shown beside, never used
    as_of: str = ""  # batch --as-of: the moment the graded commit was chosen by
    dated: bool = False  # the record carries lateness (course.toml has due times)

    def final(self, assignment_id: str, score: float) -> float:
        """``score`` less this assignment's late penalty (the score itself when it was on time)."""
        days, penalty = self.late.get(assignment_id, (0, 0.0))
        return penalised(score, penalty) if days > 0 else score

    @property
    def final_total(self) -> float | None:
        """The total less every late penalty; None when there is no total."""
        if self.total is None:
            return None
        return round(self.total - sum(a.score - self.final(a.id, a.score) for a in self.result.assignments
                                      if self.graded(a.id) is not None), 2)

    @property
    def verified(self) -> bool:
        """Whether the record's seal verified: an unverified one shows nothing of its content."""
        return self.status not in (UNVERIFIED, UNREADABLE)

    def assignment(self, assignment_id: str) -> AssignmentResult | None:
        """This student's result for one assignment, None when the result does not list it."""
        return next((a for a in self.result.assignments if a.id == assignment_id), None)

    def graded(self, assignment_id: str) -> AssignmentResult | None:
        """The assignment's result when it is a grade: not for a submission that could not be graded at all,
        nor for an assignment the time budget left ungraded or not started (their 0 is no score)."""
        if self.status not in ("graded", "partial") or assignment_id in self.not_graded | self.not_started:
            return None
        return self.assignment(assignment_id)

    @property
    def total(self) -> float | None:
        """The total when every assignment was graded; None otherwise."""
        return self.result.score if self.status == "graded" else None

    @property
    def counted_total(self) -> float | None:
        """The total as class statistics count it: none when an assignment was not started (it would be a 0)."""
        return None if self.not_started else self.total


@dataclass(frozen=True)
class Column:
    """One assignment as a column of the class matrix."""

    id: str
    title: str
    max_score: float
    short: str = ""  # the header's short title: the course's slug (``why-async``), else the title

    @property
    def label(self) -> str:
        """What the column header shows under the id."""
        return self.short or self.title


@dataclass(frozen=True)
class FailedTest:
    """How one test fared across the class."""

    name: str
    visibility: str
    max_score: float
    failing: int  # students who did not pass it
    taking: int  # students whose result lists it
    outcomes: Counter[str]
    feedback: str  # the most common feedback among the failing students
    feedback_count: int


def command(args: argparse.Namespace) -> int:
    """Build the site from ``args.results`` into ``args.out``; also the nbgrader gradebook if asked.

    Says on stderr how many student files failed verification (and which).
    """
    results: Path = args.results
    out: Path = args.out
    key = results_key(getattr(args, "key", None), results)
    manifest = load_manifest(find_course_root(Path.cwd()))
    students = load_students(results, key)
    columns = assignment_columns(students, manifest)
    files = {"index.html": render_index(students, columns, manifest.title),
             "grades.csv": grades_csv(students, columns)}
    for student in students:
        files[f"students/{student.page}"] = render_student(student, columns)
    for column in columns:
        files[f"assignments/{assignment_page(column)}"] = render_assignment(students, column)
    write_site(out, files)
    for student in students:
        if student.status == UNREADABLE:
            print(f"skipped students/{student.file}: {student.message}", file=sys.stderr)
    unverified = [s.file for s in students if s.status == UNVERIFIED]
    if unverified:
        print(f"{_count(len(unverified), 'student file')} failed verification with the key {key.path} (edited, "
              f"forged, unsealed or sealed with another key), shown as unverified with no score and left out of "
              f"the statistics and grades.csv: {', '.join(unverified)}", file=sys.stderr)
    if args.nbgrader_db is not None:
        from grader.nbgrader_export import export  # only for those who use nbgrader

        exported = export(results, args.nbgrader_db, key)
        for line in exported.left_out:
            print(f"nbgrader: {line}", file=sys.stderr)
        print(f"nbgrader gradebook {args.nbgrader_db}: {_count(exported.students, 'student')} written"
              + (f", {len(exported.left_out)} left as they were (not graded)" if exported.left_out else ""),
              file=sys.stderr)
    print(f"dashboard of {len(students)} student(s), {len(columns)} assignment(s): {out / 'index.html'}")
    return 0


def results_key(given: Path | None, results: Path) -> Key:
    """The key that verifies the student files: ``given``, else the default (``$GRADER_KEY_FILE``, ...).

    Never created here (a new key verifies nothing) and never one inside the
    results folder, where whatever wrote the records could have written it.
    """
    path = given if given is not None else default_key_path()
    if path.resolve().is_relative_to(results.resolve()):
        raise UsageError(f"the results key {path} is inside the results folder {results}: it cannot vouch for them")
    if not path.exists():
        raise UsageError(f"no results key at {path}: the dashboard verifies every student file with the key batch "
                         "sealed it with; give that key with --key FILE or $GRADER_KEY_FILE")
    return load_key(path, create=False)


# --- reading the results -------------------------------------------------------------------------


def load_students(results: Path, key: Key) -> list[Student]:
    """Every student file of a results folder, sorted by name, those ``key`` did not seal as unverified;
    UsageError when unusable."""
    folder = results / "students"
    if not results.is_dir():
        raise UsageError(f"results folder {results} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{results} has no students/ folder: is it a folder written by `batch`?")
    records = [_read_record(path, key) for path in sorted(folder.glob("*.json"))]
    if not records:
        raise UsageError(f"no student results (*.json) in {folder}")
    if all(r["status"] == UNREADABLE for r in records):
        raise UsageError(f"no usable student results in {folder}: {records[0]['file']}: {records[0]['message']}")
    records.sort(key=lambda r: (str(r["student"]).lower(), str(r["student"])))
    names = Counter(str(r["student"]) for r in records)
    duplicates = sorted(name for name, count in names.items() if count > 1)
    if duplicates:
        raise UsageError(f"student {duplicates[0]!r} has more than one results file in {folder}")
    pages = _page_names([str(r["student"]) for r in records])
    return [_student(record, page) for record, page in zip(records, pages)]


def _read_record(path: Path, key: Key) -> dict[str, Any]:
    """One student file, checked enough that rendering cannot fail on it; an unverified one (named after its
    file, no result) when ``key``'s seal does not verify it; an unreadable one, saying why, when it cannot be
    read or, sealed, is not a usable record (one such file never stops the class's dashboard)."""
    try:
        return _usable_record(path, key)
    except UsageError as problem:
        return {"student": path.stem, "status": UNREADABLE, "message": str(problem), "file": path.name,
                "result": GradeResult((), hidden_tests_included=False)}


def _usable_record(path: Path, key: Key) -> dict[str, Any]:
    try:
        data = key.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UsageError(f"cannot read it: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError):
        data = None  # not even JSON: no seal to verify
    if data is None:
        return {"student": path.stem, "status": UNVERIFIED, "message": UNVERIFIED_MESSAGE, "file": path.name,
                "result": GradeResult((), hidden_tests_included=False)}
    data["file"] = path.name
    if not isinstance(data.get("student"), str) or not data["student"]:
        raise UsageError("not a student result: no \"student\" name")
    try:
        data["result"] = GradeResult.from_dict(data["result"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"no usable \"result\" ({describe(exc)})") from None
    scores = [x for a in data["result"].assignments for x in (a.score, a.max_score)]
    if not all(math.isfinite(x) and x >= 0 for x in scores):
        raise UsageError("a score that is negative or not a number")
    return data


def _student(record: dict[str, Any], page: str) -> Student:
    def text(key: str) -> str:
        value = record.get(key, "")
        return value if isinstance(value, str) else str(value)

    return Student(name=text("student"), page=page, source=without_credentials(text("source")),
                   key=text("key"), graded_at=text("graded_at"), status=text("status") or "graded",
                   message=text("message"), result=record["result"], file=text("file"),
                   not_graded=frozenset(str(k) for k in not_graded) if isinstance(
                       not_graded := record.get("not_graded"), dict) else frozenset(),
                   not_started=not_started(record),
                   late={str(a): found for a in (record.get("late") or {}) if (found := late_days(record, str(a)))}
                   if isinstance(record.get("late"), dict) else {},
                   first_seen_at=text("first_seen_at") if record.get("first_seen_at") else "",
                   committed_at=text("committed_at") if record.get("committed_at") else "",
                   as_of=text("as_of") if record.get("as_of") else "",
                   dated=isinstance(record.get("late"), dict))


def _page_names(names: list[str]) -> list[str]:
    """A distinct, safe file name per student.

    Names are normally ``[A-Za-z0-9_.-]+`` and are used as they are; anything
    else (or a name that differs only in case from an earlier one, which
    would collide on a case-insensitive disk) gets a cleaned name plus a short
    hash of the real one, so a results file can never write outside the site.
    """
    pages: list[str] = []
    taken: set[str] = set()
    for name in names:
        page = name
        if not SAFE_NAME.fullmatch(name) or name.lower() in taken:
            cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:40]
            page = f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
        taken.add(page.lower())
        pages.append(f"{page}.html")
    return pages


def assignment_columns(students: list[Student], manifest: Manifest | None = None) -> list[Column]:
    """Every assignment any student's result lists, in id order; the most common maximum; the short title is
    the slug ``manifest`` gives the id, if it lists it."""
    slugs = {a.id: a.slug for a in manifest.assignments} if manifest is not None else {}
    seen: dict[str, list[AssignmentResult]] = {}
    for student in students:
        for a in student.result.assignments:
            seen.setdefault(a.id, []).append(a)
    columns = []
    for assignment_id in sorted(seen):
        results = seen[assignment_id]
        title = next((a.title for a in results if a.title), "")
        top = Counter(a.max_score for a in results).most_common(1)[0][0]
        columns.append(Column(assignment_id, title, top, slugs.get(assignment_id, "")))
    return columns


# --- numbers --------------------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _percent(score: float, max_score: float) -> float | None:
    return round(100 * score / max_score, 6) if max_score > 0 else None


def _band(score: float, max_score: float) -> str:
    """The colour class of a score: its fraction of the maximum in five bands."""
    percent = _percent(score, max_score)
    if percent is None:
        return "s-none"
    if percent >= 100:
        return "s-full"
    return "s-high" if percent >= 80 else "s-mid" if percent >= 50 else "s-low" if percent > 0 else "s-zero"


def most_failed(students: list[Student], column: Column) -> list[FailedTest]:
    """The tests of one assignment that at least one student did not pass, most failed first.

    Ties go to the higher share of students failing, then to the name. A
    student counts towards a test when their result lists it; failing is any
    outcome but passed (failed, error, timeout, skipped).
    """
    tests: dict[str, list[TestResult]] = {}
    for student in students:
        if column.id in student.not_started:  # the stub's NotImplementedError rows would bury real failures
            continue
        assignment = student.assignment(column.id)
        for test in assignment.tests if assignment else ():
            tests.setdefault(test.name, []).append(test)
    failed = [_failed_test(name, runs) for name, runs in tests.items()]
    failed = [f for f in failed if f.failing]
    return sorted(failed, key=lambda f: (-f.failing, -f.failing / f.taking, f.name))


def _failed_test(name: str, runs: list[TestResult]) -> FailedTest:
    failing = [t for t in runs if t.outcome != "passed"]
    feedback, count = Counter(t.feedback for t in failing).most_common(1)[0] if failing else ("", 0)
    return FailedTest(name=name, visibility=runs[0].visibility, max_score=max(t.max_score for t in runs),
                      failing=len(failing), taking=len(runs), outcomes=Counter(t.outcome for t in failing),
                      feedback=feedback, feedback_count=count)


# --- HTML -----------------------------------------------------------------------------------------


@functools.cache
def _template() -> Template:
    return Template(resources.files("grader").joinpath("dashboard_assets/page.html").read_text(encoding="utf-8"))


def _page(title: str, body: str, *, root: str, script: bool) -> str:
    template = _template()
    script_tag = f'<script src="{root}assets/dashboard.js" defer></script>' if script else ""
    return template.substitute(title=escape(title), body=body, root=root, script=script_tag)


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _anchor(assignment_id: str) -> str:
    """The fragment of an assignment's section on a student page (ids come from the results)."""
    return "a-" + quote(assignment_id, safe="")


def graded_when(students: list[Student]) -> str:
    """When the verified records were graded, in UTC: ``"graded 2026-10-01 12:00 UTC"``, or the span from the
    earliest to the latest (a batch skips students it graded before)."""
    moments = []
    for s in students:
        try:
            moment = datetime.fromisoformat(s.graded_at) if s.verified else None
        except ValueError:
            moment = None
        if moment is not None:
            moments.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if not moments:
        return "no grading time recorded"
    first, last = (m.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") for m in (min(moments), max(moments)))
    return f"graded {first}" if first == last else f"graded between {first} and {last}"


def render_index(students: list[Student], columns: list[Column], course: str) -> str:
    """The class page of the course titled ``course``: the matrix, the distributions, the most-failed tests,
    the ungraded."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "<header>",
        f"<h1>{escape(course)}</h1>",
        (f'<p class="meta">Class dashboard · {_count(len(students), "student")} · '
         f"{_count(len(columns), 'assignment')} · {graded_when(students)} · page built {generated} · "
         '<a href="grades.csv" download>grades.csv</a></p>'),
        _unsandboxed(students),
        "</header>",
        "<main>",
        _matrix(students, columns),
        _problems(students),
        _distributions(students, columns),
        _failing_section(students, columns),
        "</main>",
    ]
    return _page(f"{course}: class dashboard", "\n".join(part for part in body if part), root="", script=True)


def _unsandboxed(students: list[Student]) -> str:
    """A warning when verified results were graded outside the OS sandbox: they are no grade of record."""
    verified = [s for s in students if s.verified]
    outside = sum(1 for s in verified if not s.result.sandboxed)
    if not outside:
        return ""
    return (f'<p class="warning" id="unsandboxed"><b>Not sandboxed:</b> {outside} of {_count(len(verified), "result")} '
            "graded without the operating-system sandbox (bubblewrap): no grade of record.</p>")


def _matrix(students: list[Student], columns: list[Column]) -> str:
    head = ['<th scope="col" data-sort="text" aria-sort="ascending">Student</th>']
    for c in columns:
        head.append(f'<th scope="col" data-sort="number" title="{_attr(f"{c.id} {c.title}")}">{escape(c.id)}'
                    f'<span class="short">{escape(c.label)}</span><span class="sub">/{_num(c.max_score)}</span></th>')
    total_max = sum(c.max_score for c in columns)
    head.append(f'<th scope="col" data-sort="number">Total<span class="sub">/{_num(total_max)}</span></th>')
    rows = [_matrix_row(s, columns) for s in students]
    return "\n".join([
        '<section id="matrix">',
        "<h2>Scores</h2>",
        _legend(any(s.late for s in students)),
        # Hidden until the script runs: without JavaScript a filter box would do nothing.
        ('<p class="filter" id="filter-box" hidden><label for="filter">Filter students</label> '
         '<input id="filter" type="search" autocomplete="off" placeholder="name contains…"> '
         '<output id="filter-count" for="filter" aria-live="polite"></output></p>'),
        '<div class="scroll"><table id="grades" class="matrix">',
        f"<thead><tr>{''.join(head)}</tr></thead>",
        "<tbody>", *rows, "</tbody>",
        _matrix_footer(students, columns),
        "</table></div>",
        "</section>",
    ])


def _legend(late: bool = False) -> str:
    bands = [("s-zero", "0 %"), ("s-low", "under 50 %"), ("s-mid", "50–79 %"), ("s-high", "80–99 %"),
             ("s-full", "100 %"), ("s-missing", "not submitted"), ("s-unstarted", "not started")]
    items = "".join(f'<li><span class="swatch {cls}"></span>{label}</li>' for cls, label in bands)
    if late:  # only in a class with a late grade: the marker, and that the score shown is after the penalty
        items += '<li><span class="late">late</span> first seen after the due time: the score after the penalty</li>'

    # The sorting sentence is hidden until the script that sorts runs (it unhides it).
    return (f'<ul class="legend" aria-label="colour legend">{items}</ul>'
            '<p class="hint">Click a score for the student\'s feedback.'
            '<span id="sort-hint" hidden> Click a column header to sort by it (again to reverse).</span></p>')


def _matrix_row(student: Student, columns: list[Column]) -> str:
    href = "students/" + quote(student.page)
    flag = (f' <span class="badge">{escape(student.status)}</span>'
            if student.status in ("error", UNVERIFIED, UNREADABLE) else "")
    cells = [f'<th scope="row" data-value="{_attr(student.name)}"><a href="{href}">{escape(student.name)}</a>{flag}</th>']
    for c in columns:
        cells.append(_matrix_cell(student, c, href))
    result = student.result
    if not student.verified:
        cells.append('<td class="total s-none" data-value="" title="unverified record: no score">–</td>')
    elif student.total is None:  # not graded in full: no total, as in grades.csv
        cells.append('<td class="total s-none" data-value="" title="not graded in full: no total">–</td>')
    else:
        # data-stat: the value the footer's mean and median count (only a grade; the script recomputes them).
        final = student.final_total if student.final_total is not None else result.score
        stat = "" if student.counted_total is None else f' data-stat="{_num(final)}"'
        title = (f' title="{_attr(f"{_num(result.score)} before late penalties")}"' if final != result.score else "")
        cells.append(f'<td class="total {_band(final, result.max_score)}" data-value="{_num(final)}"'
                     f"{stat}{title}>{_num(final)}</td>")
    return f'<tr data-student="{_attr(student.name)}">{"".join(cells)}</tr>'


def _matrix_cell(student: Student, column: Column, href: str) -> str:
    a = student.assignment(column.id)
    if a is None:
        why = f"{student.status} record: no score" if not student.verified else "no result"
        return f'<td class="s-none" data-value="" title="{why}">–</td>'
    if column.id in student.not_started and student.verified:
        title = f"{a.id} {a.title}: not started (the course's stub, untouched): no score, never a 0"
        return (f'<td class="s-unstarted" data-value=""><a href="{href}#{_anchor(a.id)}" title="{_attr(title)}">'
                "not started</a></td>")
    if student.graded(column.id) is None:  # could not be graded, or past the time budget: no score, never a 0
        title = f"{a.id} {a.title}: not graded: {student.message or a.message}"
        return (f'<td class="s-none" data-value=""><a href="{href}#{_anchor(a.id)}" title="{_attr(title)}">–'
                '<span class="mark" aria-label="not graded">!</span></a></td>')
    final = student.final(a.id, a.score)
    band = "s-missing" if a.status == "missing" else _band(final, a.max_score)
    tests = f", {a.passed}/{len(a.tests)} tests passed" if a.tests else ""
    title = f"{a.id} {a.title}: {_num(a.score)}/{_num(a.max_score)}, {a.status}{tests}"
    mark = '<span class="mark" aria-label="error">!</span>' if a.status == "error" else ""
    days, penalty = student.late.get(a.id, (0, 0.0))
    if days > 0:  # the penalised score is shown; the raw one and the rule are in the title and on the student page
        title += f"; {_late_words(days, penalty)}: {_num(final)}"
        mark += f'<span class="late" aria-label="{_attr(_late_words(days, penalty))}">late</span>'
    stat = f' data-stat="{_num(final)}"'
    return (f'<td class="{band}" data-value="{_num(final)}"{stat}><a href="{href}#{_anchor(a.id)}" '
            f'title="{_attr(title)}">{_num(final)}{mark}</a></td>')


def _late_words(days: int, penalty: float) -> str:
    return f"{_count(days, 'day')} late, −{_num(penalty)} %"


def _matrix_footer(students: list[Student], columns: list[Column]) -> str:
    # Only grades count: a submission that could not be graded (or an assignment past the time budget) is no 0.
    rows = []
    totals = [t for s in students if s.counted_total is not None and (t := s.final_total) is not None]
    # data-kind: which statistic the script recomputes over the students a filter leaves shown.
    for label, kind, stat in (("Class mean", "mean", statistics.fmean), ("Class median", "median", statistics.median)):
        cells = [f'<th scope="row" data-kind="{kind}">{label}</th>']
        for c in columns:
            scores = [s.final(c.id, a.score) for s in students if (a := s.graded(c.id)) is not None]
            cells.append(f"<td>{_num(stat(scores)) if scores else '–'}</td>")
        cells.append(f"<td>{_num(stat(totals)) if totals else '–'}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<tfoot>{''.join(rows)}</tfoot>"


def _problems(students: list[Student]) -> str:
    broken = [s for s in students if s.status == "error"]
    unreadable = [s for s in students if s.status == UNREADABLE]
    forged = [s for s in students if s.status == UNVERIFIED]
    parts = [
        _problem_list("problems", "Submissions that could not be graded", "",
                      [f'<a href="students/{quote(s.page)}">{escape(s.name)}</a>: {escape(s.message)}' for s in broken]),
        _problem_list("unreadable", "Records that could not be used",
                      "Sealed, yet not a usable student record, or not readable at all: skipped, no score shown or "
                      "counted; grade these students again with <code>batch</code>.",
                      [f"<code>students/{escape(s.file)}</code>: {escape(s.message)}" for s in unreadable]),
        _problem_list("unverified", "Records that failed verification",
                      "Their seal does not verify with the results key: edited, forged, unsealed or sealed with "
                      "another key. No score of theirs is shown or counted; grade these students again with "
                      "<code>batch</code>.",
                      [f'<a href="students/{quote(s.page)}">{escape(s.file)}</a>' for s in forged]),
    ]
    return "\n".join(part for part in parts if part)


def _problem_list(section: str, title: str, hint: str, items: list[str]) -> str:
    """A section of the class page listing one kind of problem (HTML ``items``), or nothing when there is none."""
    if not items:
        return ""
    note = f'<p class="hint">{hint}</p>' if hint else ""
    return (f'<section id="{section}"><h2>{title}</h2>{note}<ul class="problems">'
            f'{"".join(f"<li>{item}</li>" for item in items)}</ul></section>')


def _distributions(students: list[Student], columns: list[Column]) -> str:
    figures = []
    for c in columns:
        graded = _finals(students, c)
        percents = [_percent(final, a.max_score) or 0.0 for final, a in graded]
        missing = sum(1 for _, a in graded if a.status == "missing")
        unstarted = sum(1 for s in students if c.id in s.not_started and s.assignment(c.id) is not None)
        ungraded = sum(1 for s in students if s.assignment(c.id) is not None and s.graded(c.id) is None) - unstarted
        note = ((f", {missing} not submitted" if missing else "") + (f", {unstarted} not started" if unstarted else "")
                + (f", {ungraded} not graded" if ungraded else ""))
        caption = (f"<b>{escape(c.id)}</b> {escape(c.title)}<br>{len(graded)} students{note}; "
                   f"{_mean_median([final for final, _ in graded])}")
        figures.append(_figure(f"{c.id} {c.title}", percents, caption))
    counted = [s for s in students if s.counted_total is not None]
    totals = [(s.final_total if s.final_total is not None else s.result.score, s.result) for s in counted]
    unverified = sum(1 for s in students if not s.verified)  # unreadable ones too: no score of theirs is shown
    unstarted = sum(1 for s in students if s.total is not None and s.not_started)
    left_out = len(students) - len(totals) - unverified - unstarted
    note = ((f", {left_out} not graded in full" if left_out else "")
            + (f", {unverified} unverified or unreadable" if unverified else "")
            + (f", {unstarted} with an assignment not started" if unstarted else ""))
    caption = f"<b>Total</b><br>{len(totals)} students{note}; {_mean_median([final for final, _ in totals])}"
    figures.append(_figure("Total", [_percent(final, r.max_score) or 0.0 for final, r in totals], caption))
    return "\n".join(['<section id="distributions">', "<h2>Score distributions</h2>",
                      '<p class="hint">Students per band of 10 % of the points.</p>',
                      '<div class="histograms">', *figures, "</div>", "</section>"])


def _finals(students: list[Student], column: Column) -> list[tuple[float, AssignmentResult]]:
    """Each grade of ``column`` after its late penalty (as the matrix shows it), with its result."""
    return [(s.final(column.id, a.score), a) for s in students if (a := s.graded(column.id)) is not None]


def _mean_median(scores: list[float]) -> str:
    if not scores:
        return "no grades"
    return f"mean {_num(statistics.fmean(scores))}, median {_num(statistics.median(scores))}"


def histogram_counts(percents: Iterable[float]) -> list[int]:
    """Students per band of 10 %: [0, 10), [10, 20), … [90, 100] (100 % in the last band)."""
    counts = [0] * BINS
    for percent in percents:
        counts[max(0, min(int(percent // 10), BINS - 1))] += 1
    return counts


def _figure(label: str, percents: list[float], caption: str) -> str:
    """An inline SVG histogram: no script, no library, readable by screen readers through its label."""
    counts = histogram_counts(percents)
    top = max(counts) or 1
    bars = []
    for i, count in enumerate(counts):
        height = round(100 * count / top, 1)
        x = 10 + 28 * i
        band = f"{10 * i}–{10 * i + 9 if i < BINS - 1 else 100} %"
        bars.append(f'<g><title>{band}: {_count(count, "student")}</title>'
                    f'<rect class="bar" x="{x}" y="{120 - height}" width="26" height="{height}"></rect>'
                    + (f'<text class="count" x="{x + 13}" y="{116 - height}">{count}</text>' if count else "")
                    + "</g>")
    summary = ", ".join(f"{10 * i}%: {n}" for i, n in enumerate(counts) if n)
    return (f'<figure class="histogram"><svg viewBox="0 0 300 140" role="img" '
            f'aria-label="{_attr(f"{label} score distribution: {summary}")}">'
            f'{"".join(bars)}<line class="axis" x1="8" y1="120.5" x2="292" y2="120.5"></line>'
            '<text class="tick" x="10" y="134">0</text><text class="tick" x="150" y="134">50</text>'
            '<text class="tick end" x="290" y="134">100 %</text></svg>'
            f"<figcaption>{caption}</figcaption></figure>")


def _failing_section(students: list[Student], columns: list[Column]) -> str:
    parts = ['<section id="failing">', "<h2>Tests the class fails most</h2>",
             ('<p class="hint">Per assignment, the tests students did not pass, most failed first, '
              "with the feedback most of them got: what to reteach.</p>")]
    for c in columns:
        failed = most_failed(students, c)
        parts.append(f'<h3 id="fail-{_attr(quote(c.id, safe=""))}"><a href="assignments/{quote(assignment_page(c))}">'
                     f"{escape(c.id)} {escape(c.title)}</a></h3>")
        if not failed:
            parts.append('<p class="all-passed">Every student passed every test.</p>')
            continue
        parts.append(_failing_table(failed))
    parts.append("</section>")
    return "\n".join(parts)


def assignment_page(column: Column) -> str:
    """The file name of an assignment's page under ``assignments/``."""
    return f"{quote(column.id, safe='')}.html"


def render_assignment(students: list[Student], column: Column) -> str:
    """One assignment's page: its grades' distribution, the tests most failed (not-started work left out, as
    everywhere), and who is late, who has not started and whose work was not graded."""
    graded = _finals(students, column)
    finals = [final for final, _ in graded]
    percents = [_percent(final, a.max_score) or 0.0 for final, a in graded]
    late = [s for s in students if s.graded(column.id) is not None and s.late.get(column.id, (0, 0.0))[0] > 0]
    unstarted = [s for s in students if s.verified and column.id in s.not_started]
    ungraded = [s for s in students if s.verified and column.id not in s.not_started and s.graded(column.id) is None]

    def who(group: list[Student], note: Callable[[Student], str] = lambda s: "") -> str:
        items = "".join(f'<li><a href="../students/{quote(s.page)}">{escape(s.name)}</a>{escape(note(s))}</li>'
                        for s in group)
        return f'<ul class="problems">{items}</ul>' if group else "<p>None.</p>"

    failed = most_failed(students, column)
    failing = _failing_table(failed) if failed else '<p class="all-passed">Every student passed every test.</p>'
    def lateness(s: Student) -> str:
        days, penalty = s.late[column.id]
        return f": {days} day(s) late, {_num(penalty)}% off"

    body = ['<nav><a href="../index.html">← Class dashboard</a></nav>',
            f"<header><h1>{escape(column.id)} {escape(column.title)}</h1>"
            f'<p class="meta">{_count(len(graded), "student")} graded · {_mean_median(finals)} · '
            f"{len(unstarted)} not started · {len(ungraded)} not graded · {len(late)} late</p></header>", "<main>",
            '<section id="distribution"><h2>Scores</h2><p class="hint">Students per band of 10 % of the points, '
            'after late penalties.</p><div class="histograms">',
            _figure(f"{column.id} {column.title}", percents,
                    f"{_count(len(graded), 'student')}; {_mean_median(finals)}"),
            "</div></section>",
            f'<section id="failing"><h2>Tests most failed</h2>{failing}</section>',
            f'<section id="late"><h2>Late</h2>'
            f"{who(late, lateness)}"
            "</section>",
            f'<section id="not-started"><h2>Not started</h2>{who(unstarted)}</section>',
            f'<section id="not-graded"><h2>Not graded</h2>{who(ungraded, lambda s: f": {s.status}")}</section>',
            "</main>"]
    return _page(f"{column.id} {column.title}", "\n".join(body), root="../", script=False)


def _failing_table(failed: list[FailedTest]) -> str:
    """The table of tests students did not pass, most failed first."""
    rows = "".join(_failed_row(f) for f in failed)
    return ('<table class="failing"><thead><tr><th scope="col">Students failing</th>'
            '<th scope="col">Test</th><th scope="col">Visibility</th><th scope="col">Points</th>'
            f'<th scope="col">Most common feedback</th></tr></thead><tbody>{rows}</tbody></table>')


def _failed_row(f: FailedTest) -> str:
    share = round(100 * f.failing / f.taking)
    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(f.outcomes.items()))
    return (f'<tr><td class="count"><b>{f.failing}</b> of {f.taking} <span class="share">({share}%)</span>'
            f'<br><span class="sub">{escape(outcomes)}</span></td>'
            f"<td><code>{escape(f.name)}</code></td><td>{escape(f.visibility)}</td><td>{_num(f.max_score)}</td>"
            f'<td><pre class="feedback">{escape(f.feedback)}</pre>'
            f'<span class="sub">{f.feedback_count} of {f.failing} failing got this feedback</span></td></tr>')


def render_student(student: Student, columns: list[Column]) -> str:
    """One student's page: the summary, each assignment's score, then the feedback of every test not passed."""
    result = student.result
    if not student.verified:
        meta = [("Status", student.status), ("File", f"students/{student.file}"), ("Why", student.message)]
        rows = "".join(f"<dt>{label}</dt><dd>{escape(value)}</dd>" for label, value in meta)
        body = ['<nav><a href="../index.html">← Class dashboard</a></nav>',
                f'<header><h1>{escape(student.name)}</h1><dl class="meta">{rows}</dl></header>']
        return _page(f"{student.name} — {student.status}", "\n".join(body), root="../", script=False)
    percent = _percent(result.score, result.max_score)
    meta = [("Total", f"{_num(result.score)} / {_num(result.max_score)}"
                      + (f" ({round(percent)}%)" if percent is not None else "")),
            ("Status", student.status), ("Message", student.message), ("Source", student.source),
            ("Graded version", student.key), ("Graded at", student.graded_at),
            ("First seen by the grader", student.first_seen_at + (" (what lateness is decided on)"
                                                                   if student.first_seen_at else "")),
            ("Commit date", student.committed_at + (" (the student's to set: not used for lateness)"
                                                   if student.committed_at else "")),
            ("Graded as of", student.as_of),
            ("After late penalties", "" if student.final_total in (None, result.score)
             else f"{_num(student.final_total or 0)} / {_num(result.max_score)}"),
            ("Sandboxed", "yes" if result.sandboxed else "no: graded without the OS sandbox, no grade of record")]
    links = {"Source": source_url(student.source), "Graded version": commit_url(student.source, student.key)}
    rows = "".join(f"<dt>{label}</dt><dd>{_linked(value, links.get(label))}</dd>" for label, value in meta if value)
    body = ['<nav><a href="../index.html">← Class dashboard</a></nav>',
            f'<header><h1>{escape(student.name)}</h1><dl class="meta">{rows}</dl></header>', "<main>",
            _student_table(student, columns)]
    body += [_student_section(a) for a in result.assignments]
    body.append("</main>")
    return _page(f"{student.name} — grades", "\n".join(body), root="../", script=False)


def source_url(source: str) -> str | None:
    """The student's repository as a web link: an http(s) URL without credentials or ``.git``; None otherwise
    (a folder, an ssh address)."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return urlunsplit(parts._replace(path=parts.path.removesuffix("/").removesuffix(".git"), query="", fragment=""))


def commit_url(source: str, key: str) -> str | None:
    """The graded commit on the forge's web page (GitHub and GitLab addresses); None where that is not known.

    ``key`` is the graded version: the commit's 40 hex digits first.
    """
    base, commit = source_url(source), key[:40]
    if base is None or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    host = urlsplit(base).netloc.lower()
    if host == "github.com" or host.endswith(".github.com"):
        return f"{base}/commit/{commit}"
    if host == "gitlab.com" or host.startswith("gitlab."):
        return f"{base}/-/commit/{commit}"
    return None


def _linked(text: str, url: str | None) -> str:
    """``text`` escaped, as a link to ``url`` when there is one (opened by the browser, never fetched here)."""
    if url is None:
        return escape(text)
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(text)}</a>'


def _student_table(student: Student, columns: list[Column]) -> str:
    rows = []
    for c in columns:
        a = student.assignment(c.id)
        if a is None:
            rows.append(f'<tr><td>{escape(c.id)}</td><td>{escape(c.title)}</td><td class="s-none">–</td>'
                        "<td>no result</td><td></td><td></td></tr>")
            continue
        band = "s-missing" if a.status == "missing" else _band(a.score, a.max_score)
        status = escape(a.status)
        if c.id in student.not_started:  # the untouched stub: its 0 is no score
            band, status = "s-unstarted", "not started"
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "–"
        days, penalty = student.late.get(c.id, (0, 0.0))
        if days > 0 and student.graded(c.id) is not None:
            status += (f' <span class="late">late</span> {_late_words(days, penalty)}: '
                       f"{_num(student.final(c.id, a.score))} / {_num(a.max_score)}")
        rows.append(f'<tr><td><a href="#{_anchor(a.id)}">{escape(a.id)}</a></td><td>{escape(a.title)}</td>'
                    f'<td class="{band}">{_num(a.score)} / {_num(a.max_score)}</td><td>{status}</td>'
                    f"<td>{tests}</td><td>{escape(a.message)}</td></tr>")
    return ('<table class="assignments"><thead><tr><th scope="col">#</th><th scope="col">Assignment</th>'
            '<th scope="col">Score</th><th scope="col">Status</th><th scope="col">Tests passed</th>'
            f'<th scope="col">Message</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _student_section(a: AssignmentResult) -> str:
    failing = [t for t in a.tests if t.outcome != "passed"]
    head = (f'<section class="assignment" id="{_attr(_anchor(a.id))}"><h2>{escape(a.id)} {escape(a.title)}'
            f' <span class="sub">{_num(a.score)} / {_num(a.max_score)} · {escape(a.status)}</span></h2>'
            f'<p class="message">{escape(a.message)}</p>')
    if not failing:
        done = f"All {_count(len(a.tests), 'test')} passed." if a.tests else "No tests were run."
        return f'{head}<p class="all-passed">{done}</p></section>'
    tests = "".join(
        f'<article class="test {escape(t.outcome)}"><h3><code>{escape(t.name)}</code> '
        f'<span class="sub">{escape(t.visibility)} · {escape(t.outcome)} · {_num(t.score)} / {_num(t.max_score)}'
        f'</span></h3><pre class="feedback">{escape(t.feedback)}</pre></article>'
        for t in failing)
    return f"{head}{tests}</section>"


# --- CSV and files --------------------------------------------------------------------------------


def grades_csv(students: list[Student], columns: list[Column]) -> str:
    """The site's ``grades.csv``: the same file as batch's (``grader.grades_csv``), for the students shown.

    Empty: an assignment a result does not list, every cell of a submission
    that could not be graded (status "error") or whose seal did not verify
    (status "unverified"), an assignment the time budget left ungraded and
    then the total (status "partial"), an assignment not started.
    """
    ids = [c.id for c in columns]
    rows = [GradeRow(student=s.name, status=s.status,
                     scores={i: a.score for i in ids if (a := s.graded(i)) is not None}, total=s.total,
                     not_started=s.not_started, dated=s.dated, late=s.late, first_seen_at=s.first_seen_at,
                     committed_at=s.committed_at, as_of=s.as_of) for s in students]
    return write_grades_csv(ids, rows)


def write_site(out: Path, files: dict[str, str]) -> None:
    """Write the pages and assets into ``out``: a new or empty folder, or an earlier dashboard."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(f"{out} is not empty and was not written by `dashboard`: choose a new or empty folder")
    try:
        for folder in ("students", "assignments"):
            (out / folder).mkdir(parents=True, exist_ok=True)
            for stale in (out / folder).glob("*.html"):  # students (or assignments) no longer in the results
                if f"{folder}/{stale.name}" not in files:
                    stale.unlink()
        (out / "assets").mkdir(exist_ok=True)
        for relative, text in files.items():
            (out / relative).write_text(text, encoding="utf-8")
        assets = resources.files("grader").joinpath("dashboard_assets")
        for name in ASSETS:
            with resources.as_file(assets.joinpath(name)) as source:
                shutil.copyfile(source, out / "assets" / name)
        (out / MARKER).write_text("written by python -m grader dashboard; a rebuild replaces this folder's pages\n",
                                  encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the dashboard into {out}: {exc.strerror}") from None
