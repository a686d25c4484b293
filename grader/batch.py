"""``python -m grader batch SUBMISSIONS --out RESULTS``: grade a whole class.

SUBMISSIONS is a folder of student checkouts (each subfolder is one student,
named after the folder) or a roster file of git repositories, one per line::

    # comments and blank lines are ignored
    https://github.com/course/hw-alice.git        # student "hw-alice" (the URL's last part)
    bob git@github.com:course/hw-bob-1234.git      # student "bob", named explicitly
    carol ../checkouts/carol                       # a local repository, relative to the roster

Roster repositories are cloned shallowly into ``RESULTS/checkouts/<student>/``
and brought up to date (fetch, reset) on later runs. Every submission is
graded in its own worker; the results folder gets, as soon as a student is
done, ``students/<student>.json``, and at the end ``summary.json`` and
``grades.csv``. Every file is written to a temporary name and renamed, so an
interrupted batch never leaves half a result.

A submission whose key (commit sha or contract-file hash, plus the course's
identity) matches its earlier graded result is skipped, so a nightly run
grades only what changed; ``--force`` regrades everyone.
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
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit, urlunsplit

from grader import score
from grader.catalog import Catalog, course_fingerprint, update_digest
from grader.errors import UsageError
from grader.find import find_submission
from grader.manifest import Manifest, find_course_root, load_manifest
from grader.model import GradeResult
from grader.pipeline import Session, course_tests, grade
from grader.stage import CourseTests

NAME_RULE = "[A-Za-z0-9_.-]+"
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # the user:token@ of a URL, never to be shown
GIT_TIMEOUT = 600.0  # seconds one clone or update may take before it is killed
MESSAGE_LIMIT = 300  # characters of a per-student message (they are one line)

Action = Literal["graded", "skipped", "error"]


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


def _git(*args: str, cwd: Path | None = None) -> str:
    """Run git without a terminal to prompt on; its stdout, or SubmissionError with its last error line."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C"}
    child = subprocess.Popen(["git", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # so a timeout kills its helpers too
    try:
        stdout, stderr = child.communicate(timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
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


def checkout(source: Source, dest: Path) -> str:
    """Clone or update the student's repository at ``dest``; the commit sha it now holds."""
    assert source.git_url is not None
    url = source.git_url
    if (dest / ".git").is_dir():
        try:
            _git("remote", "set-url", "origin", url, cwd=dest)
            _git("fetch", "--quiet", "--depth", "1", "origin", "HEAD", cwd=dest)
            _git("reset", "--quiet", "--hard", "FETCH_HEAD", cwd=dest)
            _git("clean", "-ffdxq", cwd=dest)
            return _head(dest)
        except SubmissionError:
            pass  # a broken or interrupted checkout: clone it afresh below
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # core.symlinks=false: a link in the repository becomes a plain file, so a
        # submission can never point the grader at another student's checkout.
        _git("clone", "--quiet", "--depth", "1", "--config", "core.symlinks=false", "--", url, str(dest))
    except SubmissionError as exc:
        raise SubmissionError(f"clone failed: {str(exc).replace(url, source.location)}") from None
    return _head(dest)


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


def summary_json(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``summary.json``: the course and one line per student of this batch."""
    students = [{
        "student": r["student"],
        "score": float(r["result"]["score"]),
        "max_score": float(r["result"]["max_score"]),
        "status": r["status"],
        "assignments": {a["id"]: float(a["score"]) for a in r["result"]["assignments"]},
    } for r in records]
    data = {"course": manifest.title, "generated_at": _now(), "students": students}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def grades_csv(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``grades.csv``: ``student,<assignment ids>,total``, one row per student of this batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ids = [a.id for a in manifest.assignments]
    writer.writerow(["student", *ids, "total"])
    for record in records:
        scores = {a["id"]: a["score"] for a in record["result"]["assignments"]}
        writer.writerow([record["student"], *(_num(scores[i]) if i in scores else "" for i in ids),
                         _num(record["result"]["score"])])
    return buffer.getvalue()


def _earlier(path: Path, key: str) -> tuple[dict[str, Any], GradeResult] | None:
    """The student's earlier record and result if it graded exactly this key; errors are always retried."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("key") != key or record.get("status") != "graded":
            return None
        result = GradeResult.from_dict(record["result"])  # a damaged file is regraded, not trusted
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {**record, "result": result.to_dict()}, result


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
        if self.tty and outcome.action != "error":
            self.stream.write(f"\r\x1b[K{line}")
            self._open_line = True
            self.stream.flush()
        else:
            self.note(line)  # errors stay on screen, on a terminal too

    def summary(self, summary: BatchSummary, out: Path) -> None:
        """The final line."""
        self.note(f"graded {summary.graded}, skipped {summary.skipped}, errors {summary.errors} "
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
        if self.action == "skipped":
            return f"{self.student} {_num(self.score)}/{_num(self.max_score)} (unchanged, skipped)"
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


@dataclass(frozen=True)
class _Batch:
    """What every worker shares."""

    manifest: Manifest
    tests: CourseTests
    session: Session
    course: str
    out: Path
    force: bool

    @property
    def catalog(self) -> Catalog:
        """The course's tests, as the session collected them."""
        return self.session.catalog


def _error_result(batch: _Batch, message: str) -> GradeResult:
    # Every assignment is listed, with its real maximum, so totals and columns stay comparable.
    return GradeResult(tuple(score.missing(a, batch.catalog[a.id], message) for a in batch.manifest.assignments),
                       hidden_tests_included=batch.tests.hidden_root is not None)


def _submission(batch: _Batch, source: Source) -> tuple[Path, str]:
    """The folder to grade and the key of what it holds."""
    if source.is_git:
        folder = batch.out / "checkouts" / source.student
        return folder, f"{checkout(source, folder)}+{batch.course}"
    folder = Path(source.location)
    try:
        return folder, f"{contract_hash(folder, batch.manifest)}+{batch.course}"
    except UsageError as exc:  # the folder went away since it was listed
        raise SubmissionError(str(exc)) from None


def _grade_student(batch: _Batch, source: Source) -> tuple[StudentOutcome, dict[str, Any]]:
    """Fetch, key, skip or grade one student, and write the student's file. Never raises for the student's sake."""
    started = time.monotonic()
    path = batch.out / "students" / f"{source.student}.json"
    key, status = "", "graded"
    try:
        folder, key = _submission(batch, source)
        earlier = None if batch.force else _earlier(path, key)
        if earlier is not None:
            record, result = earlier
            return StudentOutcome(source.student, "skipped", result.score, result.max_score,
                                  time.monotonic() - started), record
        graded = grade(batch.manifest, folder, batch.tests, workers=1, session=batch.session)
        message = source.note
    except SubmissionError as exc:
        status, message = "error", _one_line(str(exc))
    except Exception as exc:  # noqa: BLE001 - a fault grading one student must not stop the class
        status, message = "error", _one_line(f"internal error while grading: {type(exc).__name__}: {exc}")
    if status == "error":
        graded = _error_result(batch, message)
    record = {"student": source.student, "source": source.location, "key": key, "graded_at": _now(),
              "status": status, "message": message, "result": graded.to_dict()}
    write_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    action: Action = "graded" if status == "graded" else "error"
    outcome = StudentOutcome(source.student, action, graded.score, graded.max_score,
                             time.monotonic() - started, message if action == "error" else "")
    return outcome, record


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def run_batch(manifest: Manifest, sources: list[Source], out: Path, *, workers: int | None = None,
              force: bool = False, tests: CourseTests, stream: TextIO | None = None,
              reuse_identical: bool = True) -> BatchSummary:
    """Grade every source into ``out``; progress on ``stream`` (standard error by default).

    ``workers`` submissions are graded at once, each with one assignment
    process at a time, so the machine runs at most ``workers`` pytest
    processes. A student who cannot be graded gets an error result; nothing
    about one student stops the others. With ``reuse_identical``, an
    assignment file identical to one already graded in this batch gets that
    result instead of a second run.
    """
    if not sources:
        raise UsageError("no submissions to grade")
    started = time.monotonic()
    prepare_results(out)
    stream = stream if stream is not None else sys.stderr
    outcomes: dict[str, tuple[StudentOutcome, dict[str, Any]]] = {}
    # One session for the class: the fork server starts and the catalog is read once.
    with Session(manifest, tests, reuse_identical=reuse_identical) as session:
        batch = _Batch(manifest, tests, session, course_fingerprint(manifest, tests)[:16], out, force)
        progress = Progress(stream, len(sources))
        for source in sources:
            if source.note:
                progress.note(f"note: {source.note}")
        for source, finished in _in_parallel(batch, sources, workers or default_workers()):
            outcomes[source.student] = finished
            progress.finished(finished[0])
    ordered = [outcomes[s.student] for s in sources]
    records = [record for _, record in ordered]
    write_atomic(out / "summary.json", summary_json(manifest, records))
    write_atomic(out / "grades.csv", grades_csv(manifest, records))
    summary = BatchSummary(tuple(outcome for outcome, _ in ordered), time.monotonic() - started)
    progress.summary(summary, out)
    return summary


def _in_parallel(batch: _Batch, sources: list[Source],
                 workers: int) -> Iterator[tuple[Source, tuple[StudentOutcome, dict[str, Any]]]]:
    """Each source with its outcome, in the order they finish."""
    # Threads are enough: the work happens in git and pytest child processes.
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources))), thread_name_prefix="batch")
    try:
        futures: dict[Future[tuple[StudentOutcome, dict[str, Any]]], Source] = {
            pool.submit(_grade_student, batch, source): source for source in sources}
        for future in as_completed(futures):
            source = futures[future]
            try:
                yield source, future.result()
            except OSError as exc:  # the student's file could not be written
                message = _one_line(f"cannot write the result: {exc}")
                result = _error_result(batch, message)
                record = {"student": source.student, "source": source.location, "key": "", "graded_at": _now(),
                          "status": "error", "message": message, "result": result.to_dict()}
                yield source, (StudentOutcome(source.student, "error", 0.0, result.max_score, 0.0, message), record)
    finally:
        # On Ctrl-C no new student starts; those under way finish and are written.
        pool.shutdown(wait=False, cancel_futures=True)


def command(args: argparse.Namespace) -> int:
    """``batch SUBMISSIONS --out RESULTS [--workers N] [--force] [--tests DIR] [--assignment NN]...``."""
    manifest = load_manifest(find_course_root(Path.cwd())).only(getattr(args, "assignment", None))
    if args.tests is not None and not args.tests.is_dir():
        raise UsageError(f"hidden-test folder {args.tests} does not exist")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"results folder {args.out} is a file")
    sources = read_sources(args.submissions, args.out)
    run_batch(manifest, sources, args.out, workers=args.workers, force=args.force,
              tests=course_tests(manifest, args.tests), reuse_identical=not args.no_reuse)
    return 0
