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

A class too large for one machine is graded in slices: ``batch --shard K/N``
(and ``clone --shard K/N``) takes the students whose name hashes to K, and
``merge ROSTER RESULTS... --out MERGED`` joins the slices' results folders
into the one a single batch would have written, verifying every seal.
``batch --previous RESULTS`` also keeps unchanged results from another
results folder (the last merged one), whatever the slices were then.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from grader import score
from grader.catalog import Catalog
from grader.errors import Interrupted, UsageError
from grader.files import write_atomic
from grader.find import find_submission
from grader.instructor.git import (
    CLONE_WORKERS,
    SubmissionError,
    checkout,
    clone_all,
    cloned_head,
    commit_date,
    one_line,
    run_git,
)
from grader.instructor.gradebook import Recorder, Sighting, open_for_batch, resolve_url
from grader.instructor.gradebook.deadlines import Policy, load_deadlines, load_extensions, parse_moment
from grader.instructor.keys import contract_hash, identity
from grader.instructor.progress import Action, BatchSummary, Progress, StudentOutcome
from grader.instructor.results import (
    RECORD_PURPOSE,
    earlier_record,
    grades_csv,
    kept_record,
    now_text,
    prepare_results,
    summary_json,
    untouched_stubs,
)
from grader.instructor.roster import Source, read_sources
from grader.instructor.shards import Shard
from grader.instructor.statuses import not_started
from grader.manifest import Manifest, course_setting, find_course_root, load_manifest
from grader.model import GradeResult
from grader.pipeline import Session, Stopped, course_tests, grade_within
from grader.records import Key, default_key_path, load_key
from grader.stage import CourseTests

SIGNAL_POLL = 0.2  # seconds between the main thread's looks at whether a signal asked the batch to stop
DEFAULT_STUDENT_BUDGET = 300.0  # real seconds one student's submission may take in all


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
    fetched: Callable[[], None] | None = None  # told each time a repository has been cloned or updated
    previous: Path | None = None  # another results folder whose sealed records count as earlier results too
    policy: Policy | None = None  # due times and extensions: lateness is added to each record
    as_of: datetime | None = None  # grade each student's last commit first seen by then
    book: Any = None  # the open gradebook (grader.instructor.gradebook.store.Gradebook) first sightings are read from
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # the grader's clock: when a revision is seen

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
        try:
            return folder, f"{checkout(source, folder, batch.stop)}+{batch.course}"
        finally:
            if batch.fetched is not None:  # a failed clone is fetched too, as far as progress goes: it is done
                batch.fetched()
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
    key, status, not_graded, untouched = "", "graded", {}, []
    sighting: Sighting | None = None
    try:
        if batch.stop.is_set():
            raise Stopped("the batch was interrupted")
        folder, key = _submission(batch, source)
        sighting = _sighting(source, folder, key, batch)
        if batch.book is not None and (batch.policy is not None or batch.as_of is not None):
            # Recorded before grading: lateness is decided from the moment the grader first had the revision.
            batch.book.sight(source.student, source.location, sighting)
        if batch.as_of is not None:
            folder, key, sighting = _as_of(batch, source, folder, sighting)
        earlier = None if batch.force else earlier_record(path, key, batch.seal)
        from_previous = False
        if earlier is None and not batch.force and batch.previous is not None:
            earlier = earlier_record(batch.previous / "students" / path.name, key, batch.seal)
            from_previous = earlier is not None
        if earlier is not None and batch.session.sandboxed and not earlier[1].sandboxed:
            earlier = None  # graded outside the sandbox: not kept by a run that sandboxes
        if earlier is not None:
            record, result, text = earlier
            dated = _dated(batch, record, sighting)
            if dated != record:  # a due time, an extension or --as-of changed: the same grade, another lateness
                record, text = dated, _sealed_text(batch, dated)
                from_previous = True
            if from_previous:  # this results folder holds every student it lists, kept or graded
                write_atomic(path, text)
            return StudentOutcome(source.student, "skipped", result.score, result.max_score,
                                  time.monotonic() - started, sighting=sighting), record
        deadline = None if batch.budget is None else time.monotonic() + batch.budget
        graded, not_graded = grade_within(batch.manifest, folder, batch.tests, deadline=deadline, workers=1,
                                          session=batch.session)
        untouched = untouched_stubs(batch.manifest, folder)
        message = source.note
        if not_graded:
            status = "partial"
            message = one_line("; ".join(filter(None, [
                f"not graded for time: {', '.join(sorted(not_graded))} (the time budget of "
                f"{batch.budget:g} s per student ran out)", message])))
    except Stopped:
        return _not_graded(source, started, "the batch was interrupted"), None
    except SubmissionError as exc:
        status, message = "error", one_line(str(exc))
    except Exception as exc:  # noqa: BLE001 - a fault grading one student must not stop the class
        status, message = "error", one_line(f"internal error while grading: {type(exc).__name__}: {exc}")
        kept = kept_record(path, batch.seal)
        if kept is not None:  # the grader's failure, not the student's: the earlier result stands
            return _not_graded(source, started, f"{message}; the earlier result is kept"), kept
    if batch.stop.is_set():  # the run may have been cut short by the interruption: record nothing of it
        return _not_graded(source, started, "the batch was interrupted"), None
    if status == "error":
        graded = _error_result(batch, message)
    record = {"student": source.student, "source": source.location, "key": key,
              "graded_at": batch.clock().isoformat(timespec="seconds"),
              "status": status, "message": message, "not_graded": dict(sorted(not_graded.items())),
              "not_started": untouched if status != "error" else [], "sandboxed": graded.sandboxed,
              "result": graded.to_dict()}
    if status != "error":
        record = _dated(batch, record, sighting)
    write_atomic(path, _sealed_text(batch, record))
    action: Action = "error" if status == "error" else "graded"
    outcome = StudentOutcome(source.student, action, graded.score, graded.max_score,
                             time.monotonic() - started, message if status != "graded" else "", sighting)
    return outcome, record


def _sealed_text(batch: _Batch, record: dict[str, Any]) -> str:
    return json.dumps(batch.seal.sealed(RECORD_PURPOSE, record), indent=2, ensure_ascii=False) + "\n"


def _contents(manifest: Manifest, folder: Path) -> dict[str, str]:
    """sha256 of each submitted assignment module, by id: what lateness per assignment is decided on."""
    return {found.assignment.id: hashlib.sha256(found.source).hexdigest()
            for found in find_submission(folder, manifest) if found.source is not None}


def _sighting(source: Source, folder: Path, key: str, batch: _Batch) -> Sighting:
    """The revision in hand now (by the batch's clock), its modules' hashes, and the commit's own date."""
    seen = batch.clock()
    revision = key.split("+", 1)[0]
    contents = _contents(batch.manifest, folder)
    if not source.is_git:
        return Sighting(revision, "content", None, seen, contents)
    return Sighting(revision, "commit", commit_date(folder), seen, contents)


def _as_of(batch: _Batch, source: Source, folder: Path, head: Sighting) -> tuple[Path, str, Sighting]:
    """``--as-of``: check out the student's last commit first seen by then; its folder, key and sighting."""
    assert batch.as_of is not None and batch.book is not None
    chosen = batch.book.last_seen_by(source.student, batch.as_of)
    if chosen is None:
        raise SubmissionError(f"no commit first seen by {batch.as_of.isoformat()} (as of then, nothing was "
                              "submitted)")
    revision, first_seen = chosen
    if revision != head.revision:
        try:
            if not batch.cloned:  # a shallow clone holds only the newest commit: fetch the chosen one
                run_git("fetch", "--quiet", "--depth", "1", "origin", revision, cwd=folder, stop=batch.stop)
            run_git("reset", "--quiet", "--hard", revision, cwd=folder, stop=batch.stop)
            run_git("clean", "-ffdxq", cwd=folder, stop=batch.stop)
        except SubmissionError as exc:
            raise SubmissionError(f"cannot check out {revision[:12]}, the last commit first seen by "
                                  f"{batch.as_of.isoformat()}: {exc}") from None
    sighting = Sighting(revision, "commit", commit_date(folder), first_seen, _contents(batch.manifest, folder))
    return folder, f"{revision}+{batch.course}", sighting


def _dated(batch: _Batch, record: dict[str, Any], sighting: Sighting | None) -> dict[str, Any]:
    """``record`` with the graded revision's dates and, per assignment with a due time, its lateness.

    Only a grade is late: an assignment not started, not graded or not
    submitted gets no entry. Without a policy the record is returned as it is.
    """
    if batch.policy is None or batch.book is None or sighting is None:
        return record
    firsts = batch.book.first_seen(str(record["student"]), sighting.revision)
    skipped = {*(record.get("not_graded") or {}), *not_started(record)}
    submitted = {str(a["id"]) for a in record["result"]["assignments"] if a.get("status") != "missing"}
    seen = {a: when for a in submitted - skipped if (when := firsts.get(a, firsts.get("*"))) is not None}
    dated = {**record, "committed_at": None if sighting.committed_at is None else sighting.committed_at.isoformat(),
             "first_seen_at": firsts["*"].astimezone(UTC).isoformat() if "*" in firsts else None,
             "late": batch.policy.late(str(record["student"]), seen)}
    if batch.as_of is not None:
        dated["as_of"] = batch.as_of.isoformat()
    else:
        dated.pop("as_of", None)
    return dated


def _to_gradebook(recorder: Recorder | None, finished: Finished) -> None:
    """Add what this run graded, kept or could not grade to the gradebook (its history), when there is one."""
    outcome, record = finished
    if recorder is not None and record is not None and outcome.action != "not graded":
        recorder.add(record, outcome.sighting, fresh=outcome.action != "skipped")


def _not_graded(source: Source, started: float, why: str) -> StudentOutcome:
    return StudentOutcome(source.student, "not graded", 0.0, 0.0, time.monotonic() - started, one_line(why))


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def student_budget(manifest: Manifest, given: float | None) -> float:
    """Seconds per student: ``given``, else course.toml's ``[batch] student_budget``, else the default."""
    if given is not None:
        return given
    value, path = course_setting(manifest.root, "batch", "student_budget")
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
              budget: float | None = None, sandboxed: bool = False, cloned: bool = False,
              shard: Shard | None = None, previous: Path | None = None,
              gradebook: Recorder | None = None, policy: Policy | None = None, as_of: datetime | None = None,
              clock: Callable[[], datetime] | None = None) -> BatchSummary:
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
    them in ``out/checkouts``, without git fetching anything. ``shard`` is
    written into summary.json (``sources`` are that slice already). A student
    with no earlier result in ``out`` may have one in ``previous``, another
    results folder (the last merged one, restored from a cache): it is
    trusted on the same terms (seal, key, status) and copied into ``out``.
    ``gradebook`` gets every student graded, kept or in error as soon as
    they are done, and is closed at the end (grader/gradebook).
    ``policy`` (due times, extensions) adds each graded assignment's
    lateness to its record, decided from when the gradebook first saw it;
    ``as_of`` grades each student's last commit first seen by that moment.
    Both need ``gradebook``. ``clock`` is the grader's clock (now, in UTC, by
    default): sightings and ``graded_at`` are its times.

    On SIGINT or SIGTERM: raises Interrupted once every worker has stopped,
    after naming the students not graded; nothing under way is recorded.
    """
    if not sources:
        raise UsageError("no submissions to grade")
    if (policy is not None or as_of is not None) and gradebook is None:
        raise UsageError("due times and --as-of need the gradebook: lateness is decided from when it first saw "
                         f"each commit ({'pip install -e .[gradebook]'})")
    started = time.monotonic()
    seal = key if key is not None else load_key()
    prepare_results(out)
    stream = stream if stream is not None else sys.stderr
    outcomes: dict[str, tuple[StudentOutcome, dict[str, Any] | None]] = {}
    stop = threading.Event()
    progress = Progress(stream, len(sources))
    pool_size = max(1, min(workers or default_workers(), len(sources)))
    with _Signals(stop) as signals:
        # Only once the handlers are in place: a signal right after this first line must still name who was not graded.
        progress.start(pool_size, cloning=not cloned and any(source.is_git for source in sources))
        # One session for the class: the fork server starts and the catalog is read once.
        with Session(manifest, tests, reuse_identical=reuse_identical, sandboxed=sandboxed) as session:
            if not sandboxed:
                progress.note("note: not sandboxed: these results are no grade of record (--sandbox off, or "
                              "auto where bubblewrap cannot run)")
            batch = _Batch(manifest, tests, session, identity(manifest, tests), out, force, seal, budget, stop,
                           cloned, progress.clone_done, previous, policy, as_of,
                           gradebook.book if gradebook is not None else None,
                           clock if clock is not None else (lambda: datetime.now(UTC)))
            for source in sources:
                if source.note:
                    progress.note(f"note: {source.note}")
            pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="batch")
            try:
                futures = {pool.submit(_grade_student, batch, source): source for source in sources}
                pending = set(futures)
                while pending and not stop.is_set():
                    done, pending = wait(pending, timeout=SIGNAL_POLL, return_when=FIRST_COMPLETED)
                    for source, finished in _outcomes(batch, futures, done):
                        outcomes[source.student] = finished
                        progress.finished(finished[0])
                        _to_gradebook(gradebook, finished)
                    progress.tick()
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
                _to_gradebook(gradebook, finished)
    if gradebook is not None and (problem := gradebook.close()) is not None:
        progress.note(problem)
    missing = [s.student for s in sources if s.student not in outcomes or outcomes[s.student][1] is None
               or outcomes[s.student][0].action == "not graded"]
    if signals.signum is not None and missing:  # interrupted before every student had a complete result
        progress.note(f"interrupted ({signal.Signals(signals.signum).name}): not graded: "
                      f"{', '.join(missing) or 'nobody'}; their earlier results, if any, are kept, and "
                      "summary.json and grades.csv were not updated: run the batch again to finish")
        raise Interrupted(signals.signum)
    ordered = [outcomes[s.student] for s in sources]
    records = [record for _, record in ordered if record is not None]
    write_atomic(out / "summary.json", summary_json(manifest, records, shard))
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
            message = one_line(f"cannot write the result: {exc}")
            result = _error_result(batch, message)
            record = {"student": source.student, "source": source.location, "key": "", "graded_at": now_text(),
                      "status": "error", "message": message, "not_graded": {}, "not_started": [],
                      "result": result.to_dict()}
            yield source, (StudentOutcome(source.student, "error", 0.0, result.max_score, 0.0, message), record)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def command(args: argparse.Namespace) -> int:
    """``batch SUBMISSIONS --out RESULTS [--workers N] [--force] [--tests DIR] [--assignment NN]... [--key FILE]
    [--student-budget SECONDS] [--sandbox MODE] [--cloned] [--shard K/N]``."""
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
    shard: Shard | None = getattr(args, "shard", None)
    if shard is not None:
        sources = _slice(sources, shard)
        if not sources:  # a slice the hash left empty: still a finished part of the class, for merge
            prepare_results(args.out)
            write_atomic(args.out / "summary.json", summary_json(manifest, [], shard))
            write_atomic(args.out / "grades.csv", grades_csv(manifest, []))
            print(f"nothing to grade in shard {shard}; its empty summary.json is there for merge", file=sys.stderr)
            return 0
    previous: Path | None = getattr(args, "previous", None)
    if previous is not None and not previous.is_dir():  # nothing kept yet: a first run, an expired cache
        print(f"note: no earlier results in {previous}: every student is graded", file=sys.stderr)
        previous = None
    policy, as_of = deadline_options(manifest, sources, getattr(args, "extensions", None),
                                     getattr(args, "as_of", None))
    url, asked = resolve_url(getattr(args, "gradebook", None), manifest.root, args.out)
    recorder = open_for_batch(url, asked or policy is not None or as_of is not None, key,
                              lambda line: print(line, file=sys.stderr))
    run_batch(manifest, sources, args.out, workers=args.workers, force=args.force,
              tests=course_tests(manifest, args.tests), reuse_identical=not args.no_reuse, key=key, budget=budget,
              sandboxed=getattr(args, "sandboxed", False), cloned=cloned, shard=shard, previous=previous,
              gradebook=recorder, policy=policy, as_of=as_of)
    return 0


def deadline_options(manifest: Manifest, sources: list[Source], extensions: Path | None,
                     as_of: str | None) -> tuple[Policy | None, datetime | None]:
    """course.toml's due times with ``--extensions``, and ``--as-of``; UsageError (one line) for a bad one."""
    deadlines = load_deadlines(manifest)
    if extensions is not None and not deadlines:
        raise UsageError(f"--extensions {extensions}: course.toml gives no due times ([deadlines.assignment.NN])")
    moment = None if as_of is None else parse_moment(as_of, "--as-of")
    if moment is not None and not all(source.is_git for source in sources):
        raise UsageError("--as-of grades earlier commits: give a roster of git repositories, not a folder")
    if not deadlines:
        return None, moment
    return Policy(deadlines, load_extensions(extensions, deadlines) if extensions is not None else {}), moment


def _slice(sources: list[Source], shard: Shard) -> list[Source]:
    """The shard's sources, said on one line."""
    chosen = shard.select(sources)
    print(f"shard {shard}: {len(chosen)} of the {len(sources)} student(s)", file=sys.stderr)
    return chosen


def clone_command(args: argparse.Namespace) -> int:
    """``clone ROSTER --out RESULTS``: clone or update the roster's repositories for ``batch ROSTER --cloned``."""
    if not args.roster.is_file():
        raise UsageError(f"roster {args.roster} is not a file (one `URL` or `NAME URL` per line)")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"results folder {args.out} is a file")
    sources = read_sources(args.roster, args.out)
    shard: Shard | None = getattr(args, "shard", None)
    if shard is not None:
        sources = _slice(sources, shard)
    print(f"cloning {sum(1 for s in sources if s.is_git)} repositories, {CLONE_WORKERS} at a time", file=sys.stderr)
    failed = clone_all(sources, args.out, sys.stdout, CLONE_WORKERS)
    print(f"cloned {len(sources) - failed} of {len(sources)} repositories into {args.out / 'checkouts'}"
          + (f"; {failed} not cloned (batch --cloned records them as errors)" if failed else ""), file=sys.stderr)
    return 0
