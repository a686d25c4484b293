"""``python -m grader batch SUBMISSIONS --out RESULTS``: grade a whole class.

SUBMISSIONS is a folder of student checkouts (each subfolder is one student,
named after the folder) or a roster file of git repositories, one per line::

    # comments and blank lines are ignored
    https://github.com/course/hw-alice.git        # student "hw-alice" (the URL's last part)
    bob git@github.com:course/hw-bob-1234.git      # student "bob", named explicitly
    carol ../checkouts/carol                       # a local repository, relative to the roster

Roster repositories are cloned shallowly into ``RESULTS/checkouts/<student>/``
and brought up to date (fetch, reset) on later runs. ``python -m grader clone
ROSTER --out RESULTS`` does only that, and ``batch ROSTER --cloned`` then
grades those checkouts without fetching: the credentials that read the
students' repositories need never be in the environment of a grading process. Every submission is
graded in its own worker; the results folder gets, as soon as a student is
done, ``students/<student>.json``, and at the end ``summary.json`` and
``grades.csv``. Every file is written to a temporary name and renamed, so an
interrupted batch never leaves half a result.

A submission whose key (commit sha or contract-file hash, plus the course's
identity, the grader's own code and the environment graded runs use) matches
its earlier complete result is skipped, so a nightly run grades only what
changed; ``--force`` regrades everyone. An earlier result is trusted only
when its seal (an HMAC, grader/records.py) proves this grader wrote it.

Each student has a time budget (``--student-budget``, else ``[batch]
student_budget`` in course.toml, else DEFAULT_STUDENT_BUDGET): an assignment
the budget leaves no time for is recorded as not graded, never as 0 points.

Interrupted (SIGINT, SIGTERM), the batch starts nothing more, records no
student whose grading was under way, names the students it did not grade,
and leaves summary.json and grades.csv as they were; the next run grades
those students.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit, urlunsplit

from grader import environment, score
from grader.catalog import Catalog, course_fingerprint, update_digest
from grader.errors import Interrupted, UsageError
from grader.find import find_submission
from grader.manifest import MANIFEST_NAME, Manifest, find_course_root, load_manifest
from grader.model import GradeResult
from grader.pipeline import Session, Stopped, course_tests, grade_within
from grader.records import Key, default_key_path, load_key
from grader.stage import CourseTests

NAME_RULE = "[A-Za-z0-9_.-]+"
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # the user:token@ of a URL, never to be shown
GIT_TIMEOUT = 600.0  # seconds one clone or update may take before it is killed
GIT_POLL = 0.5  # seconds between looks at whether an interrupted batch wants git stopped
SIGNAL_POLL = 0.2  # seconds between the main thread's looks at whether a signal asked the batch to stop
MESSAGE_LIMIT = 300  # characters of a per-student message (they are one line)
DEFAULT_STUDENT_BUDGET = 300.0  # real seconds one student's submission may take in all
RECORD_PURPOSE = "batch-student-record"

# graded now, skipped as unchanged, could not be graded (an error record), or not graded by this run at all
# (interrupted, or a fault of the grader's own: any earlier result is kept).
Action = Literal["graded", "skipped", "error", "not graded"]
# A student file's status: "graded" (every assignment graded), "partial" (the time budget left some
# assignments ungraded, listed in "not_graded"), "error" (the submission could not be graded at all).
RecordStatus = Literal["graded", "partial", "error"]


# --- what to grade ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One student's submission: a local folder, or a git repository to clone."""

    student: str  # a safe name: files are named after it
    location: str  # what the results call the source: the folder, or the URL without credentials
    git_url: str | None = None  # what ``git clone`` is given; None for a folder
    note: str = ""  # why the name differs from what the input said, if it does

    @property
    def is_git(self) -> bool:
        """Whether this submission is cloned from a repository."""
        return self.git_url is not None


def sanitize_name(raw: str) -> str:
    """A file-safe student name: characters outside ``[A-Za-z0-9_.-]`` become ``_``.

    A leading ``.`` or ``-`` becomes ``_`` too, so a name is never hidden,
    ``..``, or read as an option or a spreadsheet formula.
    """
    name = _BAD_NAME_CHAR.sub("_", raw.strip())
    if name[:1] in (".", "-"):
        name = "_" + name[1:]
    return name


def name_from_url(url: str) -> str:
    """The repository name at the end of a URL or path, without ``.git``."""
    last = re.split(r"[/:\\]", url.rstrip("/\\"))[-1]
    return last.removesuffix(".git")


def without_credentials(url: str) -> str:
    """A URL with its ``user:token@`` part removed, since results are shared."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return url


def read_sources(submissions: Path, out: Path) -> list[Source]:
    """The students of a folder of checkouts or of a roster file; UsageError for unusable input."""
    if submissions.is_dir():
        sources = _folder_sources(submissions, out)
    elif submissions.is_file():
        sources = _roster_sources(submissions)
    elif submissions.exists():
        raise UsageError(f"{submissions} is neither a folder of submissions nor a roster file")
    else:
        raise UsageError(f"submissions {submissions} do not exist")
    _refuse_duplicates(sources)
    return sources


def _named(raw: str, location: str, git_url: str | None) -> Source:
    name = sanitize_name(raw)
    if not name.strip("_."):
        # Nothing readable is left (a name in another script): a stable name from its hash.
        name = f"student-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    note = "" if name == raw else f"student name {raw!r} is not {NAME_RULE}: filed as {name!r}"
    return Source(name, location, git_url, note)


def _folder_sources(folder: Path, out: Path) -> list[Source]:
    if (folder / "assignments").is_dir():
        raise UsageError(f"{folder} looks like one submission (it has assignments/): "
                         "batch takes a folder holding one subfolder per student")
    skip = {out.resolve()}
    children = sorted(p for p in folder.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and p.resolve() not in skip)
    if not children:
        raise UsageError(f"{folder} has no student folders (one subfolder per student)")
    return [_named(p.name, str(p.resolve()), None) for p in children]


def _roster_sources(roster: Path) -> list[Source]:
    try:
        text = roster.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read roster {roster}: {exc}") from None
    sources = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = _fields(line)
        if not fields:
            continue
        where = f"{roster}, line {number}"
        if len(fields) > 2:
            raise UsageError(f"{where}: expected `URL` or `NAME URL`, got {len(fields)} fields")
        url = _resolve_local(fields[-1], roster.parent)
        raw_name = fields[0] if len(fields) == 2 else name_from_url(fields[-1])
        shown = without_credentials(url)
        sources.append(_named(raw_name, shown, url))
    if not sources:
        raise UsageError(f"roster {roster} lists no repositories (one `URL` or `NAME URL` per line)")
    return sources


def _fields(line: str) -> list[str]:
    # A comment starts a line or follows a space: a URL may hold a "#" of its own.
    if line.lstrip().startswith("#"):
        return []
    return re.split(r"\s#", line, maxsplit=1)[0].split()


def _resolve_local(url: str, base: Path) -> str:
    """A local repository path relative to the roster's folder; URLs are kept as they are."""
    is_url = "://" in url or re.match(r"^[^/\\]+:", url) is not None  # scheme, or scp-like host:path
    if is_url:
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _refuse_duplicates(sources: list[Source]) -> None:
    # Case-insensitively: on a case-insensitive disk, Alice.json and alice.json are one file.
    seen: dict[str, Source] = {}
    for source in sources:
        earlier = seen.setdefault(source.student.lower(), source)
        if earlier is not source:
            raise UsageError(f"two submissions would be filed as student {source.student!r} "
                             f"({earlier.location} and {source.location}): give them distinct names")


# --- what identifies a submission ----------------------------------------------------------------


def contract_hash(folder: Path, manifest: Manifest) -> str:
    """sha256 over the contract files of a submission folder, nothing else of it."""
    digest = hashlib.sha256(b"contract/1\0")
    for found in find_submission(folder, manifest):
        if found.source is not None:
            update_digest(digest, f"{found.assignment.id}/source", found.source)
        else:
            update_digest(digest, f"{found.assignment.id}/absent", (found.problem or "").encode())
    return digest.hexdigest()


# --- git -------------------------------------------------------------------------------------------


class SubmissionError(Exception):
    """This one student cannot be graded; the message is one line for the results."""


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


def _git(*args: str, cwd: Path | None = None, stop: threading.Event | None = None) -> str:
    """Run git without a terminal to prompt on; its stdout, or SubmissionError with its last error line.

    When ``stop`` is set meanwhile (an interrupted batch), git is killed and Stopped raised.
    """
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C"}
    child = subprocess.Popen(["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # so a timeout kills its helpers too
    deadline = time.monotonic() + GIT_TIMEOUT
    while True:
        try:
            stdout, stderr = child.communicate(timeout=GIT_POLL if stop is not None else GIT_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            stopped = stop is not None and stop.is_set()
            if not stopped and time.monotonic() < deadline:
                continue
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            if stopped:
                raise Stopped("the batch was interrupted") from None
            raise SubmissionError(f"git {args[0]} took longer than {GIT_TIMEOUT:g} s") from None
    if child.returncode != 0:
        raise SubmissionError(_git_reason(stderr) or f"git {args[0]} exited with status {child.returncode}")
    return stdout.strip()


def _git_reason(stderr: str) -> str:
    """The line of git's error output that says what went wrong: its first ``fatal:`` line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or [""])[0].removeprefix("fatal:").removeprefix("error:").strip()
    return _CREDENTIALS.sub(r"\1", reason)


def checkout(source: Source, dest: Path, stop: threading.Event | None = None) -> str:
    """Clone or update the student's repository at ``dest``; the commit sha it now holds.

    An update always resets and cleans the working tree, so a clone an
    interrupted batch left half-done is made whole (or cloned again) here.
    """
    assert source.git_url is not None
    url = source.git_url
    if (dest / ".git").is_dir():
        try:
            _git("remote", "set-url", "origin", url, cwd=dest, stop=stop)
            _git("fetch", "--quiet", "--depth", "1", "origin", "HEAD", cwd=dest, stop=stop)
            _git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=dest, stop=stop)
            _git("clean", "-ffdxq", cwd=dest, stop=stop)
            return _head(dest)
        except SubmissionError:
            pass  # a broken or interrupted checkout: clone it afresh below
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # core.symlinks=false: a link in the repository becomes a plain file, so a
        # submission can never point the grader at another student's checkout.
        _git("clone", "--quiet", "--depth", "1", "--config", "core.symlinks=false", "--", url, str(dest), stop=stop)
    except SubmissionError as exc:
        raise SubmissionError(f"clone failed: {str(exc).replace(url, source.location)}") from None
    return _head(dest)


def cloned_head(source: Source, dest: Path) -> str:
    """The commit sha of the checkout ``grader clone`` left at ``dest``, touching no network (``batch --cloned``)."""
    if not (dest / ".git").is_dir():
        raise SubmissionError(f"not cloned: no checkout of {source.location} in checkouts/{source.student} "
                              "(its clone failed or did not run: the clone step's log says why)")
    return _head(dest)


def clone_all(sources: list[Source], out: Path, stream: TextIO, workers: int = 8) -> int:
    """Clone or update every git source into ``out/checkouts/<student>``; one line each on ``stream``.

    Grades nothing and runs no submitted code: the step that holds the
    roster's credentials. Returns how many could not be cloned (a failed
    clone leaves no checkout, so ``batch --cloned`` records it as an error).
    """
    (out / "checkouts").mkdir(parents=True, exist_ok=True)

    def one(source: Source) -> str:
        try:
            return f"{source.student} {checkout(source, out / 'checkouts' / source.student)[:12]}"
        except SubmissionError as exc:
            return f"{source.student} not cloned: {_one_line(str(exc))}"

    lines = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources))), thread_name_prefix="clone") as pool:
        for line in pool.map(one, [s for s in sources if s.is_git]):
            lines.append(line)
            stream.write(line + "\n")
            stream.flush()
    return sum(1 for line in lines if " not cloned: " in line)


def _head(repository: Path) -> str:
    try:
        return _git("rev-parse", "--verify", "HEAD^{commit}", cwd=repository)
    except SubmissionError:
        raise SubmissionError("the repository has no commits") from None


# --- the results folder ----------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    # A name of its own per process and thread, so concurrent writers never share one.
    partial = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def prepare_results(out: Path) -> None:
    """Create ``out/students`` and prove it writable; UsageError otherwise."""
    try:
        (out / "students").mkdir(parents=True, exist_ok=True)
        write_atomic(out / "students" / ".write-test", "")
        (out / "students" / ".write-test").unlink()
        for stale in (out / "students").glob(".*.partial"):  # left by a batch killed mid-write
            stale.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write results to {out}: {exc.strerror or exc}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def counted(record: dict[str, Any]) -> dict[str, float]:
    """The assignment scores of a record that are real grades, by id: none for an error or a damaged record.

    An assignment the time budget left ungraded is not a grade (nor a 0).
    """
    if record.get("status") not in ("graded", "partial"):
        return {}
    skipped = record.get("not_graded") or {}
    try:
        return {str(a["id"]): float(a["score"]) for a in record["result"]["assignments"] if a["id"] not in skipped}
    except (KeyError, TypeError, ValueError):
        return {}


def total(record: dict[str, Any]) -> float | None:
    """A record's total when every assignment was graded; None otherwise (it is no grade)."""
    if record.get("status") != "graded":
        return None
    return float(record["result"]["score"])


def class_statistics(ids: list[str], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and median of what was graded: totals of complete records, each assignment where it was graded."""
    def stats(values: list[float]) -> dict[str, Any]:
        if not values:
            return {"students": 0, "mean": None, "median": None}
        return {"students": len(values), "mean": round(statistics.fmean(values), 2),
                "median": round(float(statistics.median(values)), 2)}

    totals = [t for r in records if (t := total(r)) is not None]
    per = {i: [c[i] for r in records if i in (c := counted(r))] for i in ids}
    return {"total": stats(totals), "assignments": {i: stats(v) for i, v in per.items()},
            "not_graded": sum(1 for r in records if r.get("status") != "graded")}


def summary_json(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``summary.json``: the course, one line per student of this batch, and statistics of what was graded.

    A student not graded in full has a null ``score`` and lists only the
    assignments that were graded; statistics leave them out.
    """
    students = [{
        "student": r["student"],
        "score": total(r),
        "max_score": float(r["result"]["max_score"]),
        "status": r["status"],
        "assignments": counted(r),
    } for r in records]
    data = {"course": manifest.title, "generated_at": _now(), "students": students,
            "statistics": class_statistics([a.id for a in manifest.assignments], records)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def grades_csv(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``grades.csv``: ``student,<assignment ids>,total,status``, one row per student of this batch.

    What was not graded (a failed clone, an assignment past the time budget)
    is an empty cell, never a 0; ``status`` says why: graded, partial, error.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ids = [a.id for a in manifest.assignments]
    writer.writerow(["student", *ids, "total", "status"])
    for record in records:
        scores = counted(record)
        whole = total(record)
        writer.writerow([record["student"], *(_num(scores[i]) if i in scores else "" for i in ids),
                         "" if whole is None else _num(whole), record["status"]])
    return buffer.getvalue()


def _earlier(path: Path, key: str, seal: Key) -> tuple[dict[str, Any], GradeResult] | None:
    """The student's earlier record and result if this grader sealed it for exactly this key, complete.

    Errors and partial results are always retried; a record whose seal does
    not verify (edited, forged, from another key) is regraded, not trusted.
    """
    try:
        record = seal.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
        if record is None or record.get("key") != key or record.get("status") != "graded":
            return None
        result = GradeResult.from_dict(record["result"])  # a damaged file is regraded, not trusted
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {**record, "result": result.to_dict()}, result


def _kept(path: Path, seal: Key) -> dict[str, Any] | None:
    """The student's earlier record, whatever it graded, when its seal is good (kept when this run fails)."""
    try:
        return seal.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


# --- progress --------------------------------------------------------------------------------------


class Progress:
    """One line per finished student, or one updating line on a terminal; then the summary line."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._open_line = False

    def note(self, text: str) -> None:
        """A line that stays, whatever the display."""
        self._end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def finished(self, outcome: StudentOutcome) -> None:
        """Show one student's outcome."""
        self.done += 1
        line = f"[{self.done}/{self.total}] {outcome.describe()}"
        if self.tty and outcome.action not in ("error", "not graded"):
            self.stream.write(f"\r\x1b[K{line}")
            self._open_line = True
            self.stream.flush()
        else:
            self.note(line)  # errors stay on screen, on a terminal too

    def summary(self, summary: BatchSummary, out: Path) -> None:
        """The final line."""
        not_graded = f", not graded {summary.not_graded}" if summary.not_graded else ""
        self.note(f"graded {summary.graded}, skipped {summary.skipped}, errors {summary.errors}{not_graded} "
                  f"of {len(summary.students)} student(s) in {summary.duration:.1f} s; results in {out}")

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False


# --- grading the class -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentOutcome:
    """What the batch did for one student."""

    student: str
    action: Action  # graded now, skipped as unchanged, or could not be graded
    score: float
    max_score: float
    seconds: float
    message: str = ""

    def describe(self) -> str:
        """The progress line's text."""
        if self.action == "error":
            return f"{self.student} error: {self.message} ({self.seconds:.1f} s)"
        if self.action == "not graded":
            return f"{self.student} not graded: {self.message}"
        if self.action == "skipped":
            return f"{self.student} {_num(self.score)}/{_num(self.max_score)} (unchanged, skipped)"
        if self.message:  # graded in part: the message says what was not
            return f"{self.student} partial: {self.message} ({self.seconds:.1f} s)"
        return f"{self.student} {_num(self.score)}/{_num(self.max_score)} ({self.seconds:.1f} s)"


@dataclass(frozen=True)
class BatchSummary:
    """The outcome of a batch, student by student in input order."""

    students: tuple[StudentOutcome, ...]
    duration: float

    def _count(self, action: Action) -> int:
        return sum(1 for s in self.students if s.action == action)

    @property
    def graded(self) -> int:
        """Students graded by this run."""
        return self._count("graded")

    @property
    def skipped(self) -> int:
        """Students whose unchanged earlier result was kept."""
        return self._count("skipped")

    @property
    def errors(self) -> int:
        """Students who could not be graded."""
        return self._count("error")

    @property
    def not_graded(self) -> int:
        """Students this run recorded nothing for (interrupted, or a fault of the grader's)."""
        return self._count("not graded")


@dataclass(frozen=True)
class _Batch:
    """What every worker shares."""

    manifest: Manifest
    tests: CourseTests
    session: Session
    course: str
    out: Path
    force: bool
    seal: Key
    budget: float | None  # real seconds per student; None: no limit
    stop: threading.Event  # set when the batch is interrupted: nothing under way is recorded
    cloned: bool = False  # grade the checkouts `grader clone` left; fetch nothing

    @property
    def catalog(self) -> Catalog:
        """The course's tests, as the session collected them."""
        return self.session.catalog


def _error_result(batch: _Batch, message: str) -> GradeResult:
    # Every assignment is listed, with its real maximum, so totals and columns stay comparable.
    return GradeResult(tuple(score.missing(a, batch.catalog[a.id], message) for a in batch.manifest.assignments),
                       hidden_tests_included=batch.tests.hidden_root is not None, sandboxed=batch.session.sandboxed)


def _submission(batch: _Batch, source: Source) -> tuple[Path, str]:
    """The folder to grade and the key of what it holds."""
    if source.is_git:
        folder = batch.out / "checkouts" / source.student
        if batch.cloned:
            return folder, f"{cloned_head(source, folder)}+{batch.course}"
        return folder, f"{checkout(source, folder, batch.stop)}+{batch.course}"
    folder = Path(source.location)
    try:
        return folder, f"{contract_hash(folder, batch.manifest)}+{batch.course}"
    except UsageError as exc:  # the folder went away since it was listed
        raise SubmissionError(str(exc)) from None


def _grade_student(batch: _Batch, source: Source) -> tuple[StudentOutcome, dict[str, Any] | None]:
    """Fetch, key, skip or grade one student, and write the student's file. Never raises for the student's sake.

    The record is None when nothing was written: the batch was interrupted
    while this student was under way, or the grader itself failed and an
    earlier result is kept.
    """
    started = time.monotonic()
    path = batch.out / "students" / f"{source.student}.json"
    key, status, not_graded = "", "graded", {}
    try:
        if batch.stop.is_set():
            raise Stopped("the batch was interrupted")
        folder, key = _submission(batch, source)
        earlier = None if batch.force else _earlier(path, key, batch.seal)
        if earlier is not None and batch.session.sandboxed and not earlier[1].sandboxed:
            earlier = None  # graded outside the sandbox: not kept by a run that sandboxes
        if earlier is not None:
            record, result = earlier
            return StudentOutcome(source.student, "skipped", result.score, result.max_score,
                                  time.monotonic() - started), record
        deadline = None if batch.budget is None else time.monotonic() + batch.budget
        graded, not_graded = grade_within(batch.manifest, folder, batch.tests, deadline=deadline, workers=1,
                                          session=batch.session)
        message = source.note
        if not_graded:
            status = "partial"
            message = _one_line("; ".join(filter(None, [
                f"not graded for time: {', '.join(sorted(not_graded))} (the time budget of "
                f"{batch.budget:g} s per student ran out)", message])))
    except Stopped:
        return _not_graded(source, started, "the batch was interrupted"), None
    except SubmissionError as exc:
        status, message = "error", _one_line(str(exc))
    except Exception as exc:  # noqa: BLE001 - a fault grading one student must not stop the class
        status, message = "error", _one_line(f"internal error while grading: {type(exc).__name__}: {exc}")
        kept = _kept(path, batch.seal)
        if kept is not None:  # the grader's failure, not the student's: the earlier result stands
            return _not_graded(source, started, f"{message}; the earlier result is kept"), kept
    if batch.stop.is_set():  # the run may have been cut short by the interruption: record nothing of it
        return _not_graded(source, started, "the batch was interrupted"), None
    if status == "error":
        graded = _error_result(batch, message)
    record = {"student": source.student, "source": source.location, "key": key, "graded_at": _now(),
              "status": status, "message": message, "not_graded": dict(sorted(not_graded.items())),
              "sandboxed": graded.sandboxed, "result": graded.to_dict()}
    write_atomic(path, json.dumps(batch.seal.sealed(RECORD_PURPOSE, record), indent=2, ensure_ascii=False) + "\n")
    action: Action = "error" if status == "error" else "graded"
    outcome = StudentOutcome(source.student, action, graded.score, graded.max_score,
                             time.monotonic() - started, message if status != "graded" else "")
    return outcome, record


def _not_graded(source: Source, started: float, why: str) -> StudentOutcome:
    return StudentOutcome(source.student, "not graded", 0.0, 0.0, time.monotonic() - started, _one_line(why))


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def identity(manifest: Manifest, tests: CourseTests) -> str:
    """What every key of this batch ends with: the course, the grader's own code and the graded runs' environment."""
    digest = hashlib.sha256(b"batch-identity/1\0")
    update_digest(digest, "course", course_fingerprint(manifest, tests).encode())
    update_digest(digest, "grader", environment.fingerprint().encode())
    return digest.hexdigest()[:16]


def student_budget(manifest: Manifest, given: float | None) -> float:
    """Seconds per student: ``given``, else course.toml's ``[batch] student_budget``, else the default."""
    if given is not None:
        return given
    path = manifest.root / MANIFEST_NAME
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("batch", {}).get("student_budget")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if value is None:
        return DEFAULT_STUDENT_BUDGET
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UsageError(f"{path}: [batch] student_budget must be a number of seconds > 0, got {value!r}")
    return float(value)


class _Signals:
    """SIGINT and SIGTERM, while a batch runs: set ``stop`` and remember the first signal, nothing more.

    The handler raises nothing: an exception raised at an arbitrary point of
    the main thread could leave a lock of concurrent.futures held and hang
    the batch. The main loop looks at ``stop`` between waits instead.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def run_batch(manifest: Manifest, sources: list[Source], out: Path, *, workers: int | None = None,
              force: bool = False, tests: CourseTests, stream: TextIO | None = None,
              reuse_identical: bool = True, key: Key | None = None,
              budget: float | None = None, sandboxed: bool = False, cloned: bool = False) -> BatchSummary:
    """Grade every source into ``out``; progress on ``stream`` (standard error by default).

    ``workers`` submissions are graded at once, each with one assignment
    process at a time, so the machine runs at most ``workers`` pytest
    processes. A student who cannot be graded gets an error result; nothing
    about one student stops the others. With ``reuse_identical``, an
    assignment file identical to one already graded in this batch gets that
    result instead of a second run. ``key`` seals the records (default: the
    key of grader/records.py); ``budget`` bounds each student's real time;
    ``sandboxed`` runs every submission inside bubblewrap (grader/sandbox.py).
    With ``cloned``, a roster's repositories are graded as ``clone_all`` left
    them in ``out/checkouts``, without git fetching anything.

    On SIGINT or SIGTERM: raises Interrupted once every worker has stopped,
    after naming the students not graded; nothing under way is recorded.
    """
    if not sources:
        raise UsageError("no submissions to grade")
    started = time.monotonic()
    seal = key if key is not None else load_key()
    prepare_results(out)
    stream = stream if stream is not None else sys.stderr
    outcomes: dict[str, tuple[StudentOutcome, dict[str, Any] | None]] = {}
    stop = threading.Event()
    progress = Progress(stream, len(sources))
    with _Signals(stop) as signals:
        # One session for the class: the fork server starts and the catalog is read once.
        with Session(manifest, tests, reuse_identical=reuse_identical, sandboxed=sandboxed) as session:
            if not sandboxed:
                progress.note("note: not sandboxed: these results are no grade of record (--sandbox off, or "
                              "auto where bubblewrap cannot run)")
            batch = _Batch(manifest, tests, session, identity(manifest, tests), out, force, seal, budget, stop,
                           cloned)
            for source in sources:
                if source.note:
                    progress.note(f"note: {source.note}")
            pool = ThreadPoolExecutor(max_workers=max(1, min(workers or default_workers(), len(sources))),
                                      thread_name_prefix="batch")
            try:
                futures = {pool.submit(_grade_student, batch, source): source for source in sources}
                pending = set(futures)
                while pending and not stop.is_set():
                    done, pending = wait(pending, timeout=SIGNAL_POLL, return_when=FIRST_COMPLETED)
                    for source, finished in _outcomes(batch, futures, done):
                        outcomes[source.student] = finished
                        progress.finished(finished[0])
                if stop.is_set():
                    session.stop()
                if pending:
                    progress.note("interrupted: starting no more students; waiting for the runs under way to end")
            finally:
                # No new student starts; those under way end at their next run (the session is stopped)
                # and record nothing; the session closes only once they have.
                pool.shutdown(wait=True, cancel_futures=True)
            # A student whose file was written just before the signal counts as graded, though not yet shown.
            for source, finished in _outcomes(batch, futures, {f for f in pending if f.done()}):
                outcomes[source.student] = finished
    missing = [s.student for s in sources if s.student not in outcomes or outcomes[s.student][1] is None
               or outcomes[s.student][0].action == "not graded"]
    if signals.signum is not None and missing:  # interrupted before every student had a complete result
        progress.note(f"interrupted ({signal.Signals(signals.signum).name}): not graded: "
                      f"{', '.join(missing) or 'nobody'}; their earlier results, if any, are kept, and "
                      "summary.json and grades.csv were not updated: run the batch again to finish")
        raise Interrupted(signals.signum)
    ordered = [outcomes[s.student] for s in sources]
    records = [record for _, record in ordered if record is not None]
    write_atomic(out / "summary.json", summary_json(manifest, records))
    write_atomic(out / "grades.csv", grades_csv(manifest, records))
    summary = BatchSummary(tuple(outcome for outcome, _ in ordered), time.monotonic() - started)
    progress.summary(summary, out)
    return summary


Finished = tuple[StudentOutcome, dict[str, Any] | None]


def _outcomes(batch: _Batch, futures: dict[Future[Finished], Source],
              done: Iterable[Future[Finished]]) -> Iterator[tuple[Source, Finished]]:
    """Each finished source with its outcome (cancelled ones left out)."""
    for future in done:
        source = futures[future]
        if future.cancelled():
            continue
        try:
            yield source, future.result()
        except OSError as exc:  # the student's file could not be written
            message = _one_line(f"cannot write the result: {exc}")
            result = _error_result(batch, message)
            record = {"student": source.student, "source": source.location, "key": "", "graded_at": _now(),
                      "status": "error", "message": message, "not_graded": {}, "result": result.to_dict()}
            yield source, (StudentOutcome(source.student, "error", 0.0, result.max_score, 0.0, message), record)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def command(args: argparse.Namespace) -> int:
    """``batch SUBMISSIONS --out RESULTS [--workers N] [--force] [--tests DIR] [--assignment NN]... [--key FILE]
    [--student-budget SECONDS] [--sandbox MODE] [--cloned]``."""
    manifest = load_manifest(find_course_root(Path.cwd())).only(getattr(args, "assignment", None))
    if args.tests is not None and not args.tests.is_dir():
        raise UsageError(f"hidden-test folder {args.tests} does not exist")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"results folder {args.out} is a file")
    sources = read_sources(args.submissions, args.out)
    cloned = getattr(args, "cloned", False)
    if cloned and not any(source.is_git for source in sources):
        raise UsageError("--cloned grades the checkouts of a roster's repositories: give the roster file")
    key_path = getattr(args, "key", None) or default_key_path()
    for folder, what in ((args.out, "results folder"), (args.submissions, "submissions")):
        if (folder == args.out or folder.is_dir()) and _inside(key_path, folder):
            raise UsageError(f"the results key {key_path} is inside the {what}: keep it where no graded "
                             "code or student can write (the default, or --key outside both)")
    key = load_key(key_path)
    budget = student_budget(manifest, getattr(args, "student_budget", None))
    run_batch(manifest, sources, args.out, workers=args.workers, force=args.force,
              tests=course_tests(manifest, args.tests), reuse_identical=not args.no_reuse, key=key, budget=budget,
              sandboxed=getattr(args, "sandboxed", False), cloned=cloned)
    return 0


def clone_command(args: argparse.Namespace) -> int:
    """``clone ROSTER --out RESULTS``: clone or update the roster's repositories for ``batch ROSTER --cloned``."""
    if not args.roster.is_file():
        raise UsageError(f"roster {args.roster} is not a file (one `URL` or `NAME URL` per line)")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"results folder {args.out} is a file")
    sources = read_sources(args.roster, args.out)
    failed = clone_all(sources, args.out, sys.stdout)
    print(f"cloned {len(sources) - failed} of {len(sources)} repositories into {args.out / 'checkouts'}"
          + (f"; {failed} not cloned (batch --cloned records them as errors)" if failed else ""), file=sys.stderr)
    return 0
