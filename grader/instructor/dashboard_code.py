"""The dashboard's code view: a student's submitted modules, shown only when they are verifiably what was graded.

A record's ``key`` is ``<revision>+<course identity>``. For a roster's git
submission the revision is the commit ``batch`` checked out into
``RESULTS/checkouts/<student>``; for a folder, the hash of its contract
files (grader.instructor.keys.contract_hash). The code is shown only when the
checkout's HEAD is still that commit with the modules unchanged in its work
tree, or the folder still hashes to it: anything else would put code beside
feedback it did not earn. Files are read through grader.find, which refuses a
module reached through a symbolic link, so nothing outside the checkout is
ever read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.i18n import N_
from grader.errors import UsageError
from grader.find import find_submission
from grader.instructor.git import SubmissionError, run_git
from grader.instructor.keys import contract_hash
from grader.manifest import Manifest

CODE_LIMIT = 200 * 1024  # bytes of one module shown; the rest is cut, and the page says so
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # what batch names a checkout folder after
CHANGED = N_("the code is not shown: the checkout has changed since it was graded")
ABSENT = N_("the code is not shown: the graded checkout is not in the results folder")
NO_VERSION = N_("the code is not shown: the record names no graded version")
NOT_SUBMITTED = N_("no {module} was submitted")


@dataclass(frozen=True)
class Module:
    """One submitted module as shown: its path in the submission, its text (cut at CODE_LIMIT)."""

    path: str
    text: str
    size: int  # bytes of the whole file
    cut: bool  # the text stops at CODE_LIMIT


@dataclass(frozen=True)
class Submitted:
    """A student's modules that may be shown, by assignment id, or why none are."""

    modules: dict[str, Module] = field(default_factory=dict)
    note: str = ""  # one line when the code is not shown ("" when it is)
    problems: dict[str, str] = field(default_factory=dict)  # assignment id: why its module is not shown


def submitted_code(results: Path, student: str, source: str, key: str, manifest: Manifest) -> Submitted:
    """The modules ``student`` submitted, when the checkout or folder is still exactly what was graded under ``key``.

    ``manifest`` must be the course as batch graded it (its ``--assignment`` ones,
    released or not): a folder's contract hash covers exactly those.
    """
    revision = key.split("+", 1)[0]
    if not revision:
        return Submitted(note=NO_VERSION)
    checkout = _checkout(results, student)
    if checkout is not None:
        if _head(checkout) != revision or not _clean(checkout, manifest):
            return Submitted(note=CHANGED)
        return _read(checkout, manifest)
    folder = _folder(source)
    if folder is None:
        return Submitted(note=ABSENT)
    try:
        same = contract_hash(folder, manifest) == revision
    except (UsageError, OSError):
        return Submitted(note=ABSENT)
    return _read(folder, manifest) if same else Submitted(note=CHANGED)


def _checkout(results: Path, student: str) -> Path | None:
    """``RESULTS/checkouts/<student>``, a real folder with a git repository; None otherwise (never through a link)."""
    if not SAFE_NAME.fullmatch(student) or student in (".", ".."):
        return None
    folder = results / "checkouts" / student
    if folder.is_symlink() or not folder.is_dir() or (folder / ".git").is_symlink() or not (folder / ".git").is_dir():
        return None
    return folder


def _folder(source: str) -> Path | None:
    """The record's source as a local folder (a folder submission); None for a URL or anything not a folder."""
    if not source or "://" in source or re.match(r"[^/]+@[^/]+:", source):  # an https or ssh address
        return None
    folder = Path(source).expanduser()
    return folder if folder.is_dir() else None


def _head(checkout: Path) -> str | None:
    try:
        return run_git("-c", "core.fsmonitor=false", "rev-parse", "--verify", "HEAD", cwd=checkout)
    except (SubmissionError, OSError):
        return None


def _clean(checkout: Path, manifest: Manifest) -> bool:
    """Whether the work tree's modules are the commit's: any change, staged or not, or a new file is a change."""
    paths = [p for a in manifest.assignments for p in (f"assignments/{a.id}/{a.module}", f"{a.id}/{a.module}")]
    try:
        changes = run_git("-c", "core.fsmonitor=false", "--no-optional-locks", "status", "--porcelain",
                          "--untracked-files=all", "--", *paths, cwd=checkout)
    except (SubmissionError, OSError):
        return False
    return changes == ""


def _read(folder: Path, manifest: Manifest) -> Submitted:
    modules: dict[str, Module] = {}
    problems: dict[str, str] = {}
    try:
        found = find_submission(folder, manifest)
    except (UsageError, OSError):
        return Submitted(note=ABSENT)
    for one in found:
        a = one.assignment
        if one.source is None:
            problems[a.id] = one.problem or NOT_SUBMITTED.format(module=a.module)
            continue
        data = one.source[:CODE_LIMIT]
        modules[a.id] = Module(f"assignments/{a.id}/{a.module}", data.decode("utf-8", errors="replace"), len(one.source),
                               len(one.source) > CODE_LIMIT)
    return Submitted(modules, "", problems)
