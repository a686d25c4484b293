"""``python -m grader dashboard RESULTS --out SITE``: the instructor's static dashboard.

Its grades come only from ``RESULTS/students/*.json`` (one file per student,
written by ``batch``); ``summary.json`` and ``grades.csv`` there are ignored,
since the student files are the record they were derived from. Each
student's page adds the history of their gradings from the gradebook
(grader/instructor/dashboard_history.py) and the code they submitted when it
is verifiably what was graded (grader/instructor/dashboard_code.py). Each student file is
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

The class page and the assignment pages are the instructor's, in English; each
student's page is in the course's language (``[course] language`` of
course.toml, or ``--lang``), as the student would read their report: its own
words through coursekit.i18n's ``_``, the grader's messages, feedback and
titles through ``localize`` (the records stay English).
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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from coursekit import i18n
from coursekit.hints import describe
from coursekit.i18n import N_, _, localize
from coursekit.test_texts import locale_folders
from grader.cli import language_option
from grader.instructor import statuses
from grader.instructor.results import RECORD_PURPOSE, grade_row
from grader.instructor.results import total as record_total
from grader.instructor.dashboard_code import CODE_LIMIT, Submitted, submitted_code
from grader.instructor.dashboard_history import Grading, History, load_history
from grader.instructor.roster import without_credentials
from grader.errors import UsageError
from grader.instructor.gradebook.deadlines import late_days, penalised
from grader.instructor.grades_csv import grades_csv as write_grades_csv
from grader.manifest import Manifest, find_course_root, load_manifest
from grader.model import AssignmentResult, GradeResult, TestResult
from grader.records import Key, default_key_path, load_key
from grader.report.wording import FULL_STOP, OUTCOME, STATUS, VISIBILITY, word

MARKER = ".grader-dashboard"  # marks a folder this command wrote, so a rebuild may overwrite it
ASSETS = ("dashboard.css", "dashboard.js")
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
BINS = 10  # histogram bins of 10 % each
UNVERIFIED = "unverified"  # the status shown for a student file whose seal does not verify
UNREADABLE = "unreadable"  # a sealed student file the dashboard cannot use: reported and skipped, never fatal
UNVERIFIED_MESSAGE = N_("this record's seal does not verify with the results key (edited, forged, unsealed or sealed "
                      "with another key): nothing in it is shown or counted; grade the student again with batch")
# What a student record's status is called on the student's page (the record keeps the English key).
RECORD_STATUS = {"graded": N_("graded"), "partial": N_("partial"), "error": N_("error"),
                 UNVERIFIED: N_("unverified"), UNREADABLE: N_("unreadable")}


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
    file: str = ""  # the student file's name under students/
    late: dict[str, tuple[int, float]] = field(default_factory=dict)  # assignment: (days late, penalty %)
    first_seen_at: str = ""  # when the grader first had the graded commit: what lateness is decided on
    committed_at: str = ""  # the commit's own date (the student's to set): shown beside, never used
    as_of: str = ""  # batch --as-of: the moment the graded commit was chosen by
    dated: bool = False  # the record carries lateness (course.toml has due times)
    # The record itself (its result as a dict): what grader.instructor.statuses reads each cell's status from.
    record: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # The assignments the batch graded (all, or its --assignment ones), unreleased ones too: what the key's
    # contract hash covers.
    graded_ids: tuple[str, ...] = ()

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

    @property
    def statuses_record(self) -> dict[str, Any]:
        """The record statuses are read from: the one loaded, else (a Student built by hand) one from the fields."""
        return self.record or {"student": self.name, "status": self.status, "message": self.message,
                               "result": self.result.to_dict()}

    def cell(self, assignment_id: str) -> statuses.Cell:
        """What the record says of one assignment: a grade, or which kind of no grade (grader.instructor.statuses)."""
        return statuses.cell(self.statuses_record, assignment_id)

    def graded(self, assignment_id: str) -> AssignmentResult | None:
        """The assignment's result when its cell is a grade (``graded``), else None: the 0 of a cell not started,
        attempted, flagged or in error is no score."""
        return self.assignment(assignment_id) if self.cell(assignment_id).counts else None

    @property
    def not_started(self) -> frozenset[str]:
        """The assignments submitted as the course's untouched stub."""
        return statuses.not_started(self.statuses_record)

    def with_status(self, status: str) -> list[AssignmentResult]:
        """This student's assignments whose cell has ``status``."""
        return [a for a in self.result.assignments if self.cell(a.id).status == status]

    @property
    def total(self) -> float | None:
        """The total shown (grader.instructor.results.total): when every assignment is a grade or not started."""
        return record_total(self.statuses_record)

    @property
    def counted_total(self) -> float | None:
        """The total as class statistics count it: only when every assignment is a grade (statuses.complete)."""
        return self.total if statuses.complete(self.statuses_record) else None


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
    lang = page_language(getattr(args, "lang", None), manifest.root)
    students = released_only(load_students(results, key), manifest)
    columns = assignment_columns(students, manifest)
    history = load_history(getattr(args, "gradebook", None), manifest, results, key, [c.id for c in columns])
    with i18n.language(i18n.DEFAULT):  # the instructor's pages
        files = {"index.html": render_index(students, columns, manifest.title),
                 "grades.csv": grades_csv(students, columns)}
        for column in columns:
            files[f"assignments/{assignment_page(column)}"] = render_assignment(students, column)
    # The tests' own texts (docstrings, messages) in the student's language: the public and hidden catalogs.
    i18n.use_test_catalogs(locale_folders(manifest.root, manifest.root / "tests"))
    for student in students:
        # The course as batch graded it (released or not, narrowed to its --assignment ones): what a folder's
        # contract hash covers.
        known = {a.id for a in manifest.assignments}
        graded = manifest.only([i for i in student.graded_ids if i in known]) if student.graded_ids else manifest
        code = submitted_code(results, student.name, student.source, student.key, graded) if student.verified \
            else None
        with i18n.language(lang):
            files[f"students/{student.page}"] = render_student(student, columns, history, code)
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
        from grader.instructor.nbgrader_export import export  # only for those who use nbgrader

        exported = export(results, args.nbgrader_db, key)
        for line in exported.left_out:
            print(f"nbgrader: {line}", file=sys.stderr)
        print(f"nbgrader gradebook {args.nbgrader_db}: {_count(exported.students, 'student')} written"
              + (f", {len(exported.left_out)} left as they were (not graded)" if exported.left_out else ""),
              file=sys.stderr)
    told = (f"history of {_count(sum(len(g) for g in history.gradings.values()), 'grading')}" if history.available
            else history.note)
    print(f"dashboard of {len(students)} student(s), {len(columns)} assignment(s), {told}: {out / 'index.html'}")
    return 0


def page_language(flag: str | None, root: Path) -> str:
    """The language of the students' pages: ``--lang``, else course.toml's ``[course] language``, else English
    (the instructor's own LANG does not decide what their students' pages say); a ``--lang`` with no catalog is a
    usage error, as for ``grade --lang``."""
    return language_option(flag, root, env={})


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

    status = text("status") or "graded"
    kept = {**record, "status": status, "result": record["result"].to_dict()}
    return Student(name=text("student"), page=page, source=without_credentials(text("source")),
                   key=text("key"), graded_at=text("graded_at"), status=status,
                   message=text("message"), result=record["result"], file=text("file"), record=kept,
                   graded_ids=tuple(a.id for a in record["result"].assignments),
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


def released_only(students: list[Student], manifest: Manifest) -> list[Student]:
    """``students`` narrowed to the assignments the course shows: every one but those course.toml marks
    ``released = false`` (results, totals, lateness; statuses.only narrows the record the same way)."""
    hidden = unreleased(manifest)
    if not hidden:
        return students
    narrowed = []
    for s in students:
        kept = [a for a in s.result.assignments if a.id not in hidden]
        record = statuses.only(s.statuses_record, [a.id for a in kept])
        if isinstance(record.get("late"), dict):
            record = {**record, "late": {i: v for i, v in record["late"].items() if i not in hidden}}
        narrowed.append(replace(s, result=replace(s.result, assignments=tuple(kept)), record=record,
                                late={i: v for i, v in s.late.items() if i not in hidden}))
    return narrowed


def unreleased(manifest: Manifest | None) -> frozenset[str]:
    """The ids of the assignments course.toml marks ``released = false``: graded, but shown nowhere yet."""
    if manifest is None:
        return frozenset()
    return frozenset(a.id for a in manifest.assignments if not getattr(a, "released", True))


def assignment_columns(students: list[Student], manifest: Manifest | None = None) -> list[Column]:
    """Every released assignment any student's result lists, in id order; the most common maximum; the short
    title is the slug ``manifest`` gives the id, if it lists it."""
    slugs = {a.id: a.slug for a in manifest.assignments} if manifest is not None else {}
    hidden = unreleased(manifest)
    seen: dict[str, list[AssignmentResult]] = {}
    for student in students:
        for a in student.result.assignments:
            if a.id not in hidden:
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


def _counted(n: int, one: str, many: str) -> str:
    """``n`` of something in the active language: ``one`` (``N_("{n} line")``) or ``many`` (``"{n} lines"``)."""
    return _(one if n == 1 else many).format(n=n)


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
        if student.cell(column.id).status == "not_started":  # the stub's NotImplementedError rows would bury
            continue  # the failures worth reteaching
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
    return Template(resources.files("grader.instructor").joinpath("dashboard_assets/page.html").read_text(encoding="utf-8"))


def _page(title: str, body: str, *, root: str, script: bool) -> str:
    template = _template()
    script_tag = f'<script src="{root}assets/dashboard.js" defer></script>' if script else ""
    # The page's language, as HTML names it (zh-CN): what a browser picks its fonts and line breaks by.
    lang = i18n.active().replace("_", "-")
    return template.substitute(title=escape(title), body=body, root=root, script=script_tag, lang=lang)


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
        _to_review(students, columns),
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
             ("s-full", "100 %"), ("s-missing", "not submitted"), *((LOOKS[k][0], LOOKS[k][2]) for k in LOOKS)]
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
    found = student.cell(column.id)
    if not found.counts:  # not started, attempted, flagged or in error: no score, never a 0, in no statistic
        cls, text, _words = LOOKS[found.status]
        title = f"{a.id} {a.title}: {_cell_words(found)}"
        mark = '<span class="mark" aria-label="not graded">!</span>' if found.status == "error" else ""
        return (f'<td class="{cls}" data-value=""><a href="{href}#{_anchor(a.id)}" title="{_attr(title)}">'
                f"{escape(text)}{mark}</a></td>")
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


# How each cell that is no grade looks in the matrix: its class, its text, its legend entry. Never the red of 0.
# Marked with N_: shown through ``_``, English on the instructor's pages and in the student's language on theirs.
LOOKS: dict[str, tuple[str, str, str]] = {
    "not_started": ("s-unstarted", N_("not started"), N_("not started")),
    "attempted": ("s-attempted", N_("attempted"), N_("attempted, not graded (time budget)")),
    "flagged": ("s-flagged", N_("held"), N_("flagged: score held for review")),
    "error": ("s-none", "–", N_("not graded (error)")),
}
CELL_NOT_STARTED = N_("not started (the course's stub, untouched): no score, never a 0")
CELL_FLAGGED = N_("flagged, {score} / {max_score} held for review, counted nowhere: {flags}")
CELL_ATTEMPTED = N_("attempted, {why}: no score, never a 0")
CELL_NOT_GRADED = N_("not graded: {why}")
LATE = N_("late")
LATE_WORDS = N_("{days} late, −{penalty} %")
DAYS = (N_("{n} day"), N_("{n} days"))


def _cell_words(found: statuses.Cell) -> str:
    """A cell that is no grade, in words: what it is and why (a flagged one with the score it holds)."""
    if found.status == "not_started":
        return _(CELL_NOT_STARTED)
    if found.status == "flagged":
        return _(CELL_FLAGGED).format(score=_num(found.score or 0.0), max_score=_num(found.max_score),
                                      flags="; ".join(localize(f) for f in found.flags))
    if found.status == "attempted":
        return _(CELL_ATTEMPTED).format(why=localize(found.why))
    return _(CELL_NOT_GRADED).format(why=localize(found.why))


def _late_words(days: int, penalty: float) -> str:
    return _(LATE_WORDS).format(days=_counted(days, *DAYS), penalty=_num(penalty))


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
        kinds = Counter(s.cell(c.id).status for s in students if s.verified and s.assignment(c.id) is not None)
        note = (f", {missing} not submitted" if missing else "") + "".join(
            f", {kinds[kind]} {words}" for kind, words in NOT_GRADES if kinds[kind])
        caption = (f"<b>{escape(c.id)}</b> {escape(c.title)}<br>{len(graded)} students{note}; "
                   f"{_mean_median([final for final, _ in graded])}")
        figures.append(_figure(f"{c.id} {c.title}", percents, caption))
    counted = [s for s in students if s.counted_total is not None]
    totals = [(s.final_total if s.final_total is not None else s.result.score, s.result) for s in counted]
    unverified = sum(1 for s in students if not s.verified)  # unreadable ones too: no score of theirs is shown
    rest = [s for s in students if s.verified and s.counted_total is None]
    held = sum(1 for s in rest if s.with_status("flagged"))
    unstarted = sum(1 for s in rest if not s.with_status("flagged") and s.total is not None)
    left_out = len(rest) - held - unstarted
    note = ((f", {left_out} not graded in full" if left_out else "")
            + (f", {unverified} unverified or unreadable" if unverified else "")
            + (f", {unstarted} with an assignment not started" if unstarted else "")
            + (f", {held} with an assignment held for review" if held else ""))
    caption = f"<b>Total</b><br>{len(totals)} students{note}; {_mean_median([final for final, _ in totals])}"
    figures.append(_figure("Total", [_percent(final, r.max_score) or 0.0 for final, r in totals], caption))
    return "\n".join(['<section id="distributions">', "<h2>Score distributions</h2>",
                      '<p class="hint">Students per band of 10 % of the points.</p>',
                      '<div class="histograms">', *figures, "</div>", "</section>"])


# The cells that are no grade, in the words the captions and the assignment pages count them with.
NOT_GRADES = (("not_started", "not started"), ("attempted", "attempted"), ("flagged", "held for review"),
              ("error", "not graded"))


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
    shown = [s for s in students if s.verified and s.assignment(column.id) is not None]
    unstarted = [s for s in shown if s.cell(column.id).status == "not_started"]
    attempted = [s for s in shown if s.cell(column.id).status == "attempted"]
    flagged = [s for s in shown if s.cell(column.id).status == "flagged"]
    ungraded = [s for s in students if s.verified and s.cell(column.id).status == "error"]

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
            f"{len(unstarted)} not started · {len(attempted)} attempted · {len(flagged)} held for review · "
            f"{len(ungraded)} not graded · {len(late)} late</p></header>", "<main>",
            '<section id="distribution"><h2>Scores</h2><p class="hint">Students per band of 10 % of the points, '
            'after late penalties.</p><div class="histograms">',
            _figure(f"{column.id} {column.title}", percents,
                    f"{_count(len(graded), 'student')}; {_mean_median(finals)}"),
            "</div></section>",
            f'<section id="failing"><h2>Tests most failed</h2>{failing}</section>',
            f'<section id="late"><h2>Late</h2>'
            f"{who(late, lateness)}"
            "</section>",
            f'<section id="to-review"><h2>Held for review</h2>'
            f"{who(flagged, lambda s: _held_words(s.cell(column.id)))}</section>",
            f'<section id="not-started"><h2>Not started</h2>{who(unstarted)}</section>',
            f'<section id="attempted"><h2>Attempted, not graded</h2>'
            f"{who(attempted, lambda s: f': {s.cell(column.id).why}')}</section>",
            f'<section id="not-graded"><h2>Not graded</h2>{who(ungraded, lambda s: f": {s.status}")}</section>',
            "</main>"]
    return _page(f"{column.id} {column.title}", "\n".join(body), root="../", script=False)


def _held_words(found: statuses.Cell) -> str:
    """A flagged cell's held score and findings, after a student's name."""
    return f": {_num(found.score or 0.0)} / {_num(found.max_score)} held; " + "; ".join(found.flags)


def _to_review(students: list[Student], columns: list[Column]) -> str:
    """The class page's "To review" section: every flagged cell (score held, counted nowhere) with its findings."""
    rows = []
    for s in students:
        for c in columns:
            found = s.cell(c.id) if s.verified else None
            if found is None or found.status != "flagged":
                continue
            rows.append(f'<tr><th scope="row"><a href="students/{quote(s.page)}#{_anchor(c.id)}">{escape(s.name)}</a>'
                        f'</th><td><a href="assignments/{quote(assignment_page(c))}">{escape(c.id)} '
                        f"{escape(c.label)}</a></td><td>{_num(found.score or 0.0)} / {_num(found.max_score)}</td>"
                        f'<td><ul class="flags">{"".join(f"<li>{escape(f)}</li>" for f in found.flags)}</ul></td></tr>')
    if not rows:
        return ('<section id="to-review"><h2>To review</h2><p class="all-passed">Nothing is held for review: the '
                "integrity screen flagged no submission.</p></section>")
    return ('<section id="to-review"><h2>To review</h2><p class="hint">Held for review by the integrity screen: '
            "the score the tests gave is held, counted in no statistic, total or export until a person looks."
            '</p><table class="review"><thead><tr><th scope="col">Student</th><th scope="col">Assignment</th>'
            '<th scope="col">Score held</th><th scope="col">Findings</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></section>')


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


# The student's page's own words (coursekit.i18n: shown through ``_`` in the course's language).
BACK = N_("← Class dashboard")
PAGE_TITLE = N_("{student} — grades")
PAGE_TITLE_STATUS = N_("{student} — {status}")
META = {
    "Total": N_("Total"), "Status": N_("Status"), "Message": N_("Message"), "Source": N_("Source"),
    "Graded version": N_("Graded version"), "Graded at": N_("Graded at"),
    "First seen by the grader": N_("First seen by the grader"), "Commit date": N_("Commit date"),
    "Graded as of": N_("Graded as of"), "After late penalties": N_("After late penalties"),
    "Sandboxed": N_("Sandboxed"), "Submitted code": N_("Submitted code"), "File": N_("File"), "Why": N_("Why"),
}
FIRST_SEEN_NOTE = N_("{moment} (what lateness is decided on)")
COMMIT_DATE_NOTE = N_("{moment} (the student's to set: not used for lateness)")
SANDBOXED_YES = N_("yes")
SANDBOXED_NO = N_("no: graded without the OS sandbox, no grade of record")
STUDENT_TABLE_HEAD = (N_("Assignment"), N_("Score"), N_("Status"), N_("Tests passed"), N_("Message"))
NO_RESULT = N_("no result")
HELD_FOR_REVIEW = N_("Held for review")
HELD_NOTE = N_("(counted nowhere until a person looks):")
ALL_PASSED = (N_("The {n} test passed."), N_("All {n} tests passed."))
NO_TESTS_RUN = N_("No tests were run.")
NO_CODE = N_("No code to show: {why}")
NOT_SUBMITTED = N_("not submitted")
CUT_AT = N_("cut at {kb} KB")
CODE_CUT = N_("{cut} of {bytes}")
BYTES = (N_("{n} byte"), N_("{n} bytes"))
LINES = (N_("{n} line"), N_("{n} lines"))
SUBMITTED_CODE = N_("Submitted code:")
HISTORY = N_("History")
NO_GRADING_YET = N_("The gradebook has no grading of this student yet.")
HISTORY_HINT = N_("Every grading the gradebook holds, oldest first: the score per assignment over time (only grades "
                  "of verified gradings are plotted; not started, attempted, held and unverified are not), then each "
                  "grading.")
HISTORY_HEAD = (N_("Graded at"), N_("Revision"), N_("First seen"), N_("Status"))
TOTAL = N_("Total")
UNVERIFIED_GRADING = N_("unverified grading: no score")
NOT_GRADED_IN_FULL = N_("not graded in full: no total")
NO_GRADE_YET = N_("no grade yet")
NO_GRADE_YET_LABEL = N_("{id}: no grade yet")
SCORE_OVER_TIME = N_("{id} score over time: {scores}")
GRADES = (N_("{n} grade"), N_("{n} grades"))
TREND_CAPTION = N_("{grades}, last {score} / {max_score}")


def render_student(student: Student, columns: list[Column], history: History | None = None,
                   code: Submitted | None = None) -> str:
    """One student's page: the summary, each assignment's score, the history of their gradings (from the
    gradebook), then per assignment the feedback of every test not passed beside the code submitted.

    In the active language (coursekit.i18n): ``command`` renders it in the course's."""
    result = student.result
    status = word(RECORD_STATUS, student.status)
    back = f'<nav><a href="../index.html">{escape(_(BACK))}</a></nav>'
    if not student.verified:
        meta = [("Status", status), ("File", f"students/{student.file}"), ("Why", localize(student.message))]
        rows = "".join(f"<dt>{escape(_(META[label]))}</dt><dd>{escape(value)}</dd>" for label, value in meta)
        body = [back, f'<header><h1>{escape(student.name)}</h1><dl class="meta">{rows}</dl></header>']
        return _page(_(PAGE_TITLE_STATUS).format(student=student.name, status=status), "\n".join(body), root="../",
                     script=False)
    percent = _percent(result.score, result.max_score)
    meta = [("Total", f"{_num(result.score)} / {_num(result.max_score)}"
                      + (f" ({round(percent)}%)" if percent is not None else "")),
            ("Status", status), ("Message", localize(student.message)), ("Source", student.source),
            ("Graded version", student.key), ("Graded at", student.graded_at),
            ("First seen by the grader", _(FIRST_SEEN_NOTE).format(moment=student.first_seen_at)
             if student.first_seen_at else ""),
            ("Commit date", _(COMMIT_DATE_NOTE).format(moment=student.committed_at) if student.committed_at else ""),
            ("Graded as of", student.as_of),
            ("After late penalties", "" if student.final_total in (None, result.score)
             else f"{_num(student.final_total or 0)} / {_num(result.max_score)}"),
            ("Sandboxed", _(SANDBOXED_YES) if result.sandboxed else _(SANDBOXED_NO)),
            ("Submitted code", localize(code.note) if code is not None else "")]
    links = {"Source": source_url(student.source), "Graded version": commit_url(student.source, student.key)}
    rows = "".join(f"<dt>{escape(_(META[label]))}</dt><dd>{_linked(value, links.get(label))}</dd>"
                   for label, value in meta if value)
    body = [back, f'<header><h1>{escape(student.name)}</h1><dl class="meta">{rows}</dl></header>', "<main>",
            _student_table(student, columns)]
    if history is not None:
        body.append(_history_section(history.of(student.name), history.note, columns))
    body += [_student_section(a, student.cell(a.id), code) for a in result.assignments]
    body.append("</main>")
    return _page(_(PAGE_TITLE).format(student=student.name), "\n".join(body), root="../", script=False)


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
            rows.append(f'<tr><td>{escape(c.id)}</td><td>{escape(localize(c.title))}</td><td class="s-none">–</td>'
                        f"<td>{escape(_(NO_RESULT))}</td><td></td><td></td></tr>")
            continue
        band = "s-missing" if a.status == "missing" else _band(a.score, a.max_score)
        status = escape(word(STATUS, a.status))
        found = student.cell(c.id)
        if not found.counts:  # not started, attempted, flagged, in error: its number is no score
            band, status = LOOKS[found.status][0], escape(_(LOOKS[found.status][2]))
        tests = f"{a.passed}/{len(a.tests)}" if a.tests else "–"
        days, penalty = student.late.get(c.id, (0, 0.0))
        if days > 0 and student.graded(c.id) is not None:
            status += (f' <span class="late">{escape(_(LATE))}</span> {escape(_late_words(days, penalty))}: '
                       f"{_num(student.final(c.id, a.score))} / {_num(a.max_score)}")
        rows.append(f'<tr><td><a href="#{_anchor(a.id)}">{escape(a.id)}</a></td><td>{escape(localize(a.title))}</td>'
                    f'<td class="{band}">{_num(a.score)} / {_num(a.max_score)}</td><td>{status}</td>'
                    f"<td>{tests}</td><td>{escape(localize(a.message))}</td></tr>")
    head = "".join(f'<th scope="col">{escape(_(h))}</th>' for h in STUDENT_TABLE_HEAD)
    return (f'<table class="assignments"><thead><tr><th scope="col">#</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _student_section(a: AssignmentResult, found: statuses.Cell | None = None, code: Submitted | None = None) -> str:
    """One assignment of a student's page: the tests not passed and their feedback, beside the submitted code
    (two columns on a wide screen, stacked on a narrow one); a flagged one's findings first."""
    failing = [t for t in a.tests if t.outcome != "passed"]
    status = word(STATUS, a.status) if found is None or found.counts else _(LOOKS[found.status][2])
    head = (f'<section class="assignment" id="{_attr(_anchor(a.id))}"><h2>{escape(a.id)} {escape(localize(a.title))}'
            f' <span class="sub">{_num(a.score)} / {_num(a.max_score)} · {escape(status)}</span></h2>'
            f'<p class="message">{escape(localize(a.message))}</p>')
    if found is not None and found.status == "flagged":
        head += (f'<div class="held"><b>{escape(_(HELD_FOR_REVIEW))}</b> {escape(_(HELD_NOTE))}<ul class="flags">'
                 + "".join(f"<li>{escape(localize(f))}</li>" for f in found.flags) + "</ul></div>")
    if not failing:
        done = _counted(len(a.tests), *ALL_PASSED) if a.tests else _(NO_TESTS_RUN)
        tests = f'<p class="all-passed">{escape(done)}</p>'
    else:
        tests = "".join(
            f'<article class="test {_attr(t.outcome)}"><h3><code>{escape(t.name)}</code> '
            f'<span class="sub">{escape(word(VISIBILITY, t.visibility))} · {escape(word(OUTCOME, t.outcome))} · '
            f'{_num(t.score)} / {_num(t.max_score)}</span></h3><pre class="feedback">{escape(localize(t.feedback))}'
            "</pre></article>"
            for t in failing)
    shown = _code_view(a.id, code, open_=bool(failing))
    if not shown:
        return f"{head}{tests}</section>"
    return f'{head}<div class="beside"><div class="tests">{tests}</div>{shown}</div></section>'


def _code_view(assignment_id: str, code: Submitted | None, *, open_: bool) -> str:
    """The submitted module, escaped, its lines numbered by CSS (so copying the code copies no numbers); folded
    away when every test passed. Empty when no code is shown (the page's header says why)."""
    if code is None or code.note:
        return ""
    module = code.modules.get(assignment_id)
    if module is None:
        why = localize(code.problems[assignment_id]) if assignment_id in code.problems else _(NOT_SUBMITTED)
        return f'<div class="code"><p class="hint">{escape(_(NO_CODE).format(why=why))}</p></div>'
    lines = module.text.splitlines() or [""]
    numbered = "\n".join(f'<span class="line">{escape(line)}</span>' for line in lines)
    cut_at = f"<b>{escape(_(CUT_AT).format(kb=CODE_LIMIT // 1024))}</b>"
    cut = f" · {_(CODE_CUT).format(cut=cut_at, bytes=escape(_counted(module.size, *BYTES)))}" if module.cut else ""
    return (f'<details class="code"{" open" if open_ else ""}><summary>{escape(_(SUBMITTED_CODE))} '
            f"<code>{escape(module.path)}</code> · {escape(_counted(len(lines), *LINES))}{cut}</summary>"
            f'<pre class="code"><code>{numbered}</code></pre></details>')


def _history_section(gradings: list[Grading], note: str, columns: list[Column]) -> str:
    """The student's page's "History": a small chart per assignment of the score over time (grades only, from
    verified gradings), then a table of every grading, oldest first."""
    head = f'<section id="history"><h2>{escape(_(HISTORY))}</h2>'
    if note:
        note = localize(note)
        return f'{head}<p class="hint">{escape(note[:1].upper() + note[1:])}{escape(_(FULL_STOP))}</p></section>'
    if not gradings:
        return f'{head}<p class="hint">{escape(_(NO_GRADING_YET))}</p></section>'
    charts = "".join(_trend(c, gradings) for c in columns)
    return (f'{head}<p class="hint">{escape(_(HISTORY_HINT))}</p><div class="trends">{charts}</div>'
            f'<div class="scroll">{_history_table(gradings, columns)}</div></section>')


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _history_table(gradings: list[Grading], columns: list[Column]) -> str:
    head = "".join(f'<th scope="col" title="{_attr(f"{c.id} {localize(c.title)}")}">{escape(c.id)}'
                   f'<span class="sub">/{_num(c.max_score)}</span></th>' for c in columns)
    rows = []
    for g in gradings:
        revision = (f'<code title="{_attr(g.revision)}">{escape(g.revision[:12])}</code>' if g.revision else "–")
        if not g.verified:  # nothing of an edited or forged row is a grade: no number of it is shown
            status = (f'{escape(word(RECORD_STATUS, g.status))} '
                      f'<span class="badge">{escape(word(RECORD_STATUS, UNVERIFIED))}</span>')
            cells = f'<td class="s-none" title="{_attr(_(UNVERIFIED_GRADING))}">–</td>' * len(columns)
            total = '<td class="s-none">–</td>'
        else:
            status = escape(word(RECORD_STATUS, g.status))
            cells = "".join(_history_cell(g.cells[c.id]) for c in columns)
            total = (f'<td class="s-none" title="{_attr(_(NOT_GRADED_IN_FULL))}">–</td>' if g.total is None
                     else f"<td>{_num(g.total)}<span class=\"sub\">/{_num(g.max_score)}</span></td>")
        rows.append(f'<tr{_UNVERIFIED_ROW if not g.verified else ""}><td>{_when(g.graded_at)}</td><td>{revision}</td>'
                    f"<td>{_when(g.first_seen_at)}</td><td>{status}</td>{cells}{total}</tr>")
    heads = "".join(f'<th scope="col">{escape(_(h))}</th>' for h in HISTORY_HEAD)
    return (f'<table class="history"><thead><tr>{heads}{head}<th scope="col">{escape(_(TOTAL))}</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


_UNVERIFIED_ROW = ' class="unverified"'


def _history_cell(found: statuses.Cell) -> str:
    if found.counts and found.score is not None:
        return f'<td class="{_band(found.score, found.max_score)}">{_num(found.score)}</td>'
    cls, text, _words = LOOKS[found.status]
    return f'<td class="{cls}" title="{_attr(_cell_words(found))}">{escape(_(text))}</td>'


def _trend(column: Column, gradings: list[Grading]) -> str:
    """An inline SVG line chart of one assignment's grades over time (x: when graded, y: percent of the points)."""
    points = [(g.graded_at, found) for g in gradings
              if g.verified and (found := g.cells.get(column.id)) is not None and found.counts
              and found.score is not None]
    caption = f"<b>{escape(column.id)}</b> {escape(column.short or localize(column.title))}"
    if not points:
        nothing = _(NO_GRADE_YET)
        return (f'<figure class="trend"><svg viewBox="0 0 240 96" role="img" aria-label="'
                f'{_attr(_(NO_GRADE_YET_LABEL).format(id=column.id))}"><text class="tick" x="120" y="50">'
                f"{escape(nothing)}</text></svg><figcaption>{caption}: {escape(nothing)}</figcaption></figure>")
    start, end = points[0][0].timestamp(), points[-1][0].timestamp()
    span = end - start

    def xy(moment: datetime, found: statuses.Cell) -> tuple[float, float]:
        x = 133.0 if span <= 0 else 36 + 194 * (moment.timestamp() - start) / span
        percent = max(0.0, min(100.0, _percent(found.score or 0.0, found.max_score) or 0.0))
        return round(x, 1), round(74 - 0.64 * percent, 1)

    placed = [(xy(m, f), m, f) for m, f in points]
    line = " ".join(f"{x},{y}" for (x, y), _moment, _found in placed)
    dots = "".join(f'<circle class="dot" cx="{x}" cy="{y}" r="3"><title>{_attr(_when(m))}: {_num(f.score or 0)} / '
                   f"{_num(f.max_score)}</title></circle>" for (x, y), m, f in placed)
    last = points[-1][1]
    said = ", ".join(f"{_when(m)}: {_num(f.score or 0)}" for m, f in points)
    told = _(TREND_CAPTION).format(grades=_counted(len(points), *GRADES), score=_num(last.score or 0),
                                   max_score=_num(last.max_score))
    return (f'<figure class="trend"><svg viewBox="0 0 240 96" role="img" aria-label="'
            f'{_attr(_(SCORE_OVER_TIME).format(id=column.id, scores=said))}">'
            '<line class="grid" x1="36" y1="10" x2="230" y2="10"></line>'
            '<line class="axis" x1="36" y1="74.5" x2="230" y2="74.5"></line>'
            '<text class="tick end" x="32" y="13">100%</text><text class="tick end" x="32" y="77">0</text>'
            f'<polyline class="trend" points="{line}"></polyline>{dots}'
            f'<text class="tick" x="36" y="90">{escape(_when(points[0][0])[:10])}</text>'
            + (f'<text class="tick end" x="230" y="90">{escape(_when(points[-1][0])[:10])}</text>' if span > 0 else "")
            + f"</svg><figcaption>{caption}: {escape(told)}</figcaption></figure>")


# --- CSV and files --------------------------------------------------------------------------------


def grades_csv(students: list[Student], columns: list[Column]) -> str:
    """The site's ``grades.csv``: the same file as batch's (``grader.instructor.grades_csv``), for the students shown.

    Empty: an assignment a result does not list, every cell of a submission
    that could not be graded (status "error") or whose seal did not verify
    (status "unverified"), an assignment the time budget left ungraded and
    then the total (status "partial"), an assignment not started.
    """
    ids = [c.id for c in columns]
    return write_grades_csv(ids, [grade_row(s.statuses_record) for s in students])


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
        assets = resources.files("grader.instructor").joinpath("dashboard_assets")
        for name in ASSETS:
            with resources.as_file(assets.joinpath(name)) as source:
                shutil.copyfile(source, out / "assets" / name)
        (out / MARKER).write_text("written by python -m grader dashboard; a rebuild replaces this folder's pages\n",
                                  encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the dashboard into {out}: {exc.strerror}") from None
