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
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
from grader.gradebook import Recorder, Sighting, open_for_batch, resolve_url
from grader.gradebook.deadlines import Policy, late_days, load_deadlines, load_extensions, parse_moment
from grader.files import write_atomic
from grader.grades_csv import GradeRow
from grader.grades_csv import grades_csv as write_grades_csv
from grader.manifest import Manifest, course_setting, find_course_root, load_manifest
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
_SCP_LIKE = re.compile(r"^[^/\\:]+:")  # git's scp-like ``[user@]host:path``: a colon before any slash
# The schemes git clones without a remote helper of its own ("GIT URLS" in git-clone(1)).
GIT_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git", "file", "ftps", "ftp")
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


def read_sources(submissions: Path, out: Path | None) -> list[Source]:
    """The students of a folder of checkouts or of a roster file; UsageError for unusable input.

    ``out``, the results folder, is never a student when it is inside the folder.
    """
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


def _folder_sources(folder: Path, out: Path | None) -> list[Source]:
    if (folder / "assignments").is_dir():
        raise UsageError(f"{folder} looks like one submission (it has assignments/): "
                         "batch takes a folder holding one subfolder per student")
    skip = {out.resolve()} if out is not None else set()
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
        _refuse_unclonable(fields[-1], roster, where)
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


def _refuse_unclonable(url: str, roster: Path, where: str) -> None:
    """UsageError, before anything is cloned, for an entry git could not clone, or a file that is no roster.

    A URL needs a scheme git speaks (``htps://`` would reach git as a remote
    helper named "htps"); a local path must exist, which is what tells a
    roster from another file given by mistake (``grades.csv``, a JSON file).
    """
    shown = without_credentials(url)
    if "://" in url:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in GIT_SCHEMES:
            raise UsageError(f"{where}: {shown} is not a URL git can clone: its scheme {scheme}:// is not one of "
                             f"{', '.join(s + '://' for s in GIT_SCHEMES)} (a typo?)")
        return
    if "::" in url:  # git's <transport>::<address>: a remote helper, never a student repository
        raise UsageError(f"{where}: {shown} is not a URL git can clone here (use https://, ssh:// or host:path)")
    if _SCP_LIKE.match(url):
        return
    path = Path(url).expanduser()
    if not (path if path.is_absolute() else roster.parent / path).exists():
        raise UsageError(f"{where}: {shown!r} is neither a git URL, host:path nor an existing folder: is "
                         f"{roster.name} a roster? (one `URL` or `NAME URL` per line)")


def _resolve_local(url: str, base: Path) -> str:
    """A local repository path relative to the roster's folder; URLs are kept as they are."""
    is_url = "://" in url or _SCP_LIKE.match(url) is not None  # scheme, or scp-like host:path
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


# --- shards: one class graded on several machines -------------------------------------------------

MAX_SHARDS = 256  # a GitHub Actions matrix runs at most 256 jobs


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``: ``batch --shard K/N`` grades the students whose name hashes to K.

    By a hash of the filed name, not by position: a student stays in the
    same slice when the roster is reordered or others join or leave it, so
    each slice's earlier results (a cache between runs) keep matching.
    """

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, student: str) -> bool:
        """Whether the student is in this slice."""
        return shard_of(student, self.count) == self.index

    def select(self, sources: list[Source]) -> list[Source]:
        """This slice's sources, in their input order."""
        return [source for source in sources if self.holds(source.student)]


def shard_of(student: str, count: int) -> int:
    """The slice (1..count) a student's results are graded in: sha256 of the name, case-folded as names are."""
    digest = hashlib.sha256(f"shard/1\0{student.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N <= MAX_SHARDS; ValueError with the reason otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"expected K/N (this machine's slice K of N, e.g. 2/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"the number of slices must be 1 to {MAX_SHARDS}, got {count}")
    if not 1 <= index <= count:
        raise ValueError(f"the slice must be 1 to {count}, got {index}")
    return Shard(index, count)


def shard_count(students: int, *, per_shard: int, most: int = MAX_SHARDS) -> int:
    """How many slices grade ``students`` with about ``per_shard`` students each, at least 1, at most ``most``."""
    if per_shard < 1 or most < 1:
        raise UsageError("--per-shard and --max-shards must be at least 1")
    return max(1, min(most, MAX_SHARDS, -(-students // per_shard)))


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


CLONE_WORKERS = 8  # clones at once: network-bound, so more than the cores


def clone_all(sources: list[Source], out: Path, stream: TextIO, workers: int = CLONE_WORKERS) -> int:
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


def not_started(record: dict[str, Any]) -> frozenset[str]:
    """The assignments a record says were submitted as the course's untouched stub (none in older records)."""
    ids = record.get("not_started")
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


def untouched_stubs(manifest: Manifest, folder: Path) -> list[str]:
    """The assignments whose submitted module is byte for byte the course's stub: not started, which is no 0."""
    ids = []
    for found in find_submission(folder, manifest):
        stub = manifest.root / "assignments" / found.assignment.id / found.assignment.module
        try:
            if found.source is not None and stub.is_file() and stub.read_bytes() == found.source:
                ids.append(found.assignment.id)
        except OSError:  # an unreadable stub: nothing can be said, so the assignment counts as attempted
            continue
    return ids


def counted(record: dict[str, Any]) -> dict[str, float]:
    """The assignment scores of a record that are real grades, by id: none for an error or a damaged record.

    An assignment the time budget left ungraded is not a grade (nor a 0), nor is one not started.
    """
    if record.get("status") not in ("graded", "partial"):
        return {}
    skipped = {*(record.get("not_graded") or {}), *not_started(record)}
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
    """Mean and median of what was graded: totals of complete records, each assignment where it was graded.

    A not-started assignment is left out of its assignment's statistics, and
    its student out of the totals' (their total would count it as a 0).
    """
    def stats(values: list[float]) -> dict[str, Any]:
        if not values:
            return {"students": 0, "mean": None, "median": None}
        return {"students": len(values), "mean": round(statistics.fmean(values), 2),
                "median": round(float(statistics.median(values)), 2)}

    totals = [t for r in records if (t := total(r)) is not None and not not_started(r)]
    per = {i: [c[i] for r in records if i in (c := counted(r))] for i in ids}
    return {"total": stats(totals), "assignments": {i: stats(v) for i, v in per.items()},
            "not_graded": sum(1 for r in records if r.get("status") != "graded"),
            "not_started": {i: sum(1 for r in records if i in not_started(r)) for i in ids}}


def summary_json(manifest: Manifest, records: list[dict[str, Any]], shard: Shard | None = None) -> str:
    """``summary.json``: the course, one line per student of this batch, and statistics of what was graded.

    A student not graded in full has a null ``score`` and lists only the
    assignments that were graded; statistics leave them out. A not-started
    assignment (the untouched stub) is left out of ``assignments`` and listed
    in ``not_started``; ``score`` stays what the student earned. A sharded batch
    adds ``"shard": "K/N"``, which ``merge`` checks.
    """
    students = [{
        "student": r["student"],
        "score": total(r),
        "max_score": float(r["result"]["max_score"]),
        "status": r["status"],
        "assignments": counted(r),
        "not_started": sorted(not_started(r)),
    } for r in records]
    data: dict[str, Any] = {"course": manifest.title, "generated_at": _now(), "students": students,
                            "statistics": class_statistics([a.id for a in manifest.assignments], records)}
    if shard is not None:
        data["shard"] = str(shard)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def grades_csv(manifest: Manifest, records: list[dict[str, Any]]) -> str:
    """``grades.csv`` of this batch's records (``grader.grades_csv``, the project's one writer of it)."""
    return write_grades_csv([a.id for a in manifest.assignments], [grade_row(r) for r in records])


def grade_row(record: dict[str, Any]) -> GradeRow:
    """A record's line of ``grades.csv``."""
    late = record.get("late")
    return GradeRow(student=str(record["student"]), status=str(record["status"]), scores=counted(record),
                    total=total(record), not_started=not_started(record), dated=late is not None,
                    late={str(i): found for i in late if (found := late_days(record, str(i)))}
                    if isinstance(late, dict) else {},
                    first_seen_at=str(record.get("first_seen_at") or ""),
                    committed_at=str(record.get("committed_at") or ""), as_of=str(record.get("as_of") or ""))


def _earlier(path: Path, key: str, seal: Key) -> tuple[dict[str, Any], GradeResult, str] | None:
    """The student's earlier record, result and file text if this grader sealed it for exactly this key, complete.

    Errors and partial results are always retried; a record whose seal does
    not verify (edited, forged, from another key) is regraded, not trusted.
    """
    try:
        text = path.read_text(encoding="utf-8")
        record = seal.opened(RECORD_PURPOSE, json.loads(text))
        if record is None or record.get("key") != key or record.get("status") != "graded":
            return None
        result = GradeResult.from_dict(record["result"])  # a damaged file is regraded, not trusted
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {**record, "result": result.to_dict()}, result, text


def _kept(path: Path, seal: Key) -> dict[str, Any] | None:
    """The student's earlier record, whatever it graded, when its seal is good (kept when this run fails)."""
    try:
        return seal.opened(RECORD_PURPOSE, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


# --- progress --------------------------------------------------------------------------------------


PROGRESS_EVERY = 30.0  # seconds between the status lines of a log (CI): often enough to show it is alive
REDRAW_EVERY = 1.0  # seconds between redraws of a terminal's status line when nothing else changed


def _duration(seconds: float) -> str:
    """A rough duration for an estimate: "40 s", "3 min", "1 h 5 min"."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Progress:
    """Where the batch is, from its first moment, then its summary line.

    In a log (CI): a line when it starts, one per finished student, and a
    ``progress:`` line (done, cloned, left, time to go) every PROGRESS_EVERY
    seconds. On a terminal: the same status kept on one line rewritten in
    place, with the last student; errors and notes get lines of their own.
    Worker threads only count clones (``clone_done``); everything is written
    from the batch's main thread.
    """

    def __init__(self, stream: TextIO, total: int, *, clock: Callable[[], float] = time.monotonic,
                 every: float = PROGRESS_EVERY, width: int | None = None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.cloning = False
        self._cloned = 0
        self._lock = threading.Lock()
        self._clock = clock
        self._every = every
        self._started = self._last_status = clock()
        self._drawn: tuple[int, int, float] | None = None  # (done, cloned, when) of the terminal line shown
        self._last = ""  # the last finished student's line, shown on a terminal's status line
        try:
            self.tty = stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._width = width if width is not None else shutil.get_terminal_size().columns
        self._open_line = False

    @property
    def cloned(self) -> int:
        """Repositories fetched so far."""
        with self._lock:
            return self._cloned

    def start(self, workers: int, *, cloning: bool = False) -> None:
        """The first line, before any student is fetched or graded."""
        self.cloning = cloning
        self.note(f"grading {self.total} student(s), {workers} at a time"
                  + ("; each repository is fetched first" if cloning else ""))
        self.tick()

    def clone_done(self) -> None:
        """One more repository fetched (called from worker threads)."""
        with self._lock:
            self._cloned += 1

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
            self._last = line
            self._draw()
        else:
            self.note(line)  # errors stay on screen, on a terminal too
            if self.tty:
                self._draw()

    def tick(self) -> None:
        """Called between waits: a log's periodic status line, or a fresh terminal line (new clones, the estimate)."""
        now = self._clock()
        if self.tty:
            drawn = self._drawn
            if drawn is None or drawn[:2] != (self.done, self.cloned) or now - drawn[2] >= REDRAW_EVERY:
                self._draw()
        elif now - self._last_status >= self._every:
            self._last_status = now
            self.note(f"progress: {self.done}/{self.total} done, {self.status()}")

    def status(self) -> str:
        """Repositories fetched, students left and the time they should take."""
        left = self.total - self.done
        parts = [f"cloned {self.cloned}/{self.total}"] if self.cloning else []
        parts.append(f"{left} left")
        if self.done == 0:
            parts.append("time to go not known yet")
        elif left:
            parts.append(f"about {_duration((self._clock() - self._started) / self.done * left)} to go")
        return ", ".join(parts)

    def summary(self, summary: BatchSummary, out: Path) -> None:
        """The final line."""
        not_graded = f", not graded {summary.not_graded}" if summary.not_graded else ""
        self.note(f"graded {summary.graded}, skipped {summary.skipped}, errors {summary.errors}{not_graded} "
                  f"of {len(summary.students)} student(s) in {summary.duration:.1f} s; results in {out}")

    def _draw(self) -> None:
        line = f"[{self.done}/{self.total}] " + (self._last.split("] ", 1)[1] + " · " if self._last else "")
        line += self.status()
        if len(line) >= self._width > 1:  # a wrapped line could not be rewritten in place
            line = line[: self._width - 2] + "…"
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()
        self._open_line = True
        self._drawn = (self.done, self.cloned, self._clock())

    def _end_line(self) -> None:
        if self._open_line:  # the status line gives way to a line that stays; the next draw brings it back
            self.stream.write("\r\x1b[K")
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
    sighting: Sighting | None = None  # the revision this run had in hand, for the gradebook

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
    fetched: Callable[[], None] | None = None  # told each time a repository has been cloned or updated
    previous: Path | None = None  # another results folder whose sealed records count as earlier results too
    policy: Policy | None = None  # due times and extensions: lateness is added to each record
    as_of: datetime | None = None  # grade each student's last commit first seen by then
    book: Any = None  # the open gradebook (grader.gradebook.store.Gradebook) first sightings are read from
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
        earlier = None if batch.force else _earlier(path, key, batch.seal)
        from_previous = False
        if earlier is None and not batch.force and batch.previous is not None:
            earlier = _earlier(batch.previous / "students" / path.name, key, batch.seal)
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


def _committed(folder: Path) -> datetime | None:
    """The checked-out commit's own date from git: shown beside, never trusted (the student sets it)."""
    try:
        return datetime.fromisoformat(_git("show", "-s", "--format=%cI", "HEAD", cwd=folder))
    except (SubmissionError, ValueError):
        return None


def _sighting(source: Source, folder: Path, key: str, batch: _Batch) -> Sighting:
    """The revision in hand now (by the batch's clock), its modules' hashes, and the commit's own date."""
    seen = batch.clock()
    revision = key.split("+", 1)[0]
    contents = _contents(batch.manifest, folder)
    if not source.is_git:
        return Sighting(revision, "content", None, seen, contents)
    return Sighting(revision, "commit", _committed(folder), seen, contents)


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
                _git("fetch", "--quiet", "--depth", "1", "origin", revision, cwd=folder, stop=batch.stop)
            _git("reset", "--quiet", "--hard", revision, cwd=folder, stop=batch.stop)
            _git("clean", "-ffdxq", cwd=folder, stop=batch.stop)
        except SubmissionError as exc:
            raise SubmissionError(f"cannot check out {revision[:12]}, the last commit first seen by "
                                  f"{batch.as_of.isoformat()}: {exc}") from None
    sighting = Sighting(revision, "commit", _committed(folder), first_seen, _contents(batch.manifest, folder))
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
            message = _one_line(f"cannot write the result: {exc}")
            result = _error_result(batch, message)
            record = {"student": source.student, "source": source.location, "key": "", "graded_at": _now(),
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


# --- merging the results of several shards ----------------------------------------------------------


def _summary_of(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = [str(line["student"]) for line in data["students"]]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc} (not the results of a finished batch: "
                         "did that shard fail?)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a batch's summary ({type(exc).__name__}: {exc})") from None
    return {"course": data.get("course"), "shard": data.get("shard"), "students": names}


def _check_shards(folders: list[Path], shards: list[object]) -> None:
    """Sharded results must be the N slices of one N, each once; results without a shard are taken as they are."""
    given = [(folder, shard) for folder, shard in zip(folders, shards) if shard is not None]
    if not given:
        return
    if len(given) != len(folders):
        raise UsageError("some results folders are shards (summary.json says `shard`) and some are not: merge the "
                         "shards of one sharded batch")
    try:
        parsed = [(folder, parse_shard(str(shard))) for folder, shard in given]
    except ValueError as exc:
        raise UsageError(f"a summary.json names a shard that is not K/N: {exc}") from None
    counts = {shard.count for _, shard in parsed}
    if len(counts) > 1:
        raise UsageError(f"the results come from different numbers of shards ({', '.join(map(str, sorted(counts)))})")
    [count] = counts
    seen: dict[int, Path] = {}
    for folder, shard in parsed:
        if shard.index in seen:
            raise UsageError(f"shard {shard} is given twice: {seen[shard.index]} and {folder}")
        seen[shard.index] = folder
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise UsageError(f"shard(s) {', '.join(missing)} missing: give the results of every shard")


def merge_results(manifest: Manifest, sources: list[Source], folders: list[Path], out: Path, key: Key) -> int:
    """Merge the results folders of one class graded in parts (``batch --shard``) into ``out``; students merged.

    Each folder's summary.json says which students that batch graded; every
    student of ``sources`` must be in exactly one, and nobody else. Each
    record's seal must verify with ``key``: the merged folder holds only
    records this grader wrote. ``out`` gets the records as they are, and
    summary.json and grades.csv exactly as one batch of ``sources`` writes
    them (rows in the roster's order). UsageError, writing nothing, otherwise.
    """
    if not folders:
        raise UsageError("no results folders to merge")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not an empty or new folder: merge writes a results folder of its own")
    resolved = [folder.resolve() for folder in folders]
    if len(set(resolved)) != len(resolved):
        raise UsageError("a results folder is given twice")
    summaries = [_summary_of(folder) for folder in folders]
    for folder, summary in zip(folders, summaries):
        if summary["course"] != manifest.title:
            raise UsageError(f"{folder} holds results of {summary['course']!r}, not of {manifest.title!r}")
    _check_shards(folders, [summary["shard"] for summary in summaries])
    owner: dict[str, Path] = {}
    for folder, summary in zip(folders, summaries):
        for student in summary["students"]:
            if student in owner:
                raise UsageError(f"student {student!r} is in two results folders: {owner[student]} and {folder}")
            owner[student] = folder
    roster = [source.student for source in sources]
    absent = [student for student in roster if student not in owner]
    unknown = sorted(set(owner) - set(roster))
    if absent:
        raise UsageError(f"{len(absent)} student(s) of the roster in no results folder: {_few(absent)}")
    if unknown:
        raise UsageError(f"{len(unknown)} student(s) in the results are not on the roster: {_few(unknown)}")
    texts: list[str] = []
    records: list[dict[str, Any]] = []
    unverified: list[str] = []
    for student in roster:
        path = owner[student] / "students" / f"{student}.json"
        try:
            text = path.read_text(encoding="utf-8")
            record = key.opened(RECORD_PURPOSE, json.loads(text))
        except (OSError, ValueError):
            record = None
        if record is None or record.get("student") != student:
            unverified.append(student)
            continue
        texts.append(text)
        records.append(record)
    if unverified:
        raise UsageError(f"{len(unverified)} record(s) missing, or sealed with another key than {key.path}, or "
                         f"edited since: {_few(unverified)}")
    prepare_results(out)
    for student, text in zip(roster, texts):
        write_atomic(out / "students" / f"{student}.json", text)
    write_atomic(out / "summary.json", summary_json(manifest, records))
    write_atomic(out / "grades.csv", grades_csv(manifest, records))
    return len(records)


def _few(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def merge_command(args: argparse.Namespace) -> int:
    """``merge SUBMISSIONS RESULTS... --out MERGED [--key FILE] [--assignment NN]...``."""
    manifest = load_manifest(find_course_root(Path.cwd())).only(getattr(args, "assignment", None))
    sources = read_sources(args.submissions, args.out)
    key = load_key(getattr(args, "key", None), create=False)
    merged = merge_results(manifest, sources, list(args.results), args.out, key)
    print(f"merged {merged} student(s) from {len(args.results)} results folder(s) into {args.out}", file=sys.stderr)
    return 0


def shards_command(args: argparse.Namespace) -> int:
    """``shards ROSTER [--shards N | --per-shard M] [--max-shards X]``: a GitHub Actions matrix on stdout.

    Prints one JSON list, ``[{"shard": "1/4", "slug": "1of4"}, ...]``, for
    ``strategy.matrix.include``; the slug names caches and artifacts.
    """
    sources = read_sources(args.roster, None)
    count = args.shards if args.shards is not None else shard_count(len(sources), per_shard=args.per_shard,
                                                                       most=args.max_shards)
    if count > MAX_SHARDS:
        raise UsageError(f"--shards must be at most {MAX_SHARDS} (a GitHub Actions matrix runs at most that many jobs)")
    print(json.dumps([{"shard": f"{i}/{count}", "slug": f"{i}of{count}"} for i in range(1, count + 1)]))
    print(f"{len(sources)} student(s) in {count} shard(s)", file=sys.stderr)
    return 0
