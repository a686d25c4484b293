"""The dashboard's history: every grading of each student, read from the gradebook database.

Where the gradebook is: ``dashboard --gradebook URL``, else course.toml's
``[gradebook] url``, else ``RESULTS/gradebook.sqlite`` (as ``batch`` resolves
it). With no gradebook file there, or without the optional ``gradebook``
extra, the pages say so in one line and the site is built as always; a
gradebook that was asked for and cannot be opened stops the command.

Each grading's assignments get their status from grader.instructor.statuses,
the one definition the rest of the dashboard uses; not started is told by the
submission's recorded module hash being the course stub's. A grading whose
seals do not verify is shown as unverified and never plotted.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coursekit.i18n import N_
from grader.errors import EnvironmentFault, UsageError
from grader.instructor import gradebook, statuses
from grader.instructor.results import total as record_total
from grader.manifest import Manifest
from grader.records import Key

# Why a student's page has no history (the page shows it in the course's language: coursekit.i18n).
NO_PACKAGES = N_("no history: the gradebook's packages are not installed ({extra})")
NO_GRADEBOOK = N_("no history: the results folder has no gradebook ({name})")

if TYPE_CHECKING:
    from grader.instructor.gradebook.store import GradingView


@dataclass(frozen=True)
class Grading:
    """One grading of a student, as the history table and charts show it."""

    graded_at: datetime
    revision: str | None
    first_seen_at: datetime | None
    status: str  # the grading's: graded, partial, error
    verified: bool  # both its seals verify: otherwise nothing of it is a grade
    total: float | None  # over the assignments shown, when every one is a grade or not started
    max_score: float
    cells: dict[str, statuses.Cell]  # by assignment id


@dataclass(frozen=True)
class History:
    """Every grading of every student the gradebook holds, oldest first; or one line on why there is none."""

    gradings: dict[str, list[Grading]] = field(default_factory=dict)
    note: str = ""  # why there is no history ("" when there is one)

    @property
    def available(self) -> bool:
        """Whether a gradebook was read (a student may still have no grading in it)."""
        return not self.note

    def of(self, student: str) -> list[Grading]:
        """``student``'s gradings, oldest first (none when the gradebook has none of theirs)."""
        return self.gradings.get(student, [])


def load_history(given: str | None, manifest: Manifest, results: Path, key: Key, shown: list[str]) -> History:
    """The gradebook's history for the assignments ``shown`` (ids), or a History saying why there is none.

    UsageError when a gradebook asked for (``given``, or course.toml's) cannot
    be opened; EnvironmentFault when one was asked for without the extra.
    """
    url, asked = gradebook.resolve_url(given, manifest.root, results)
    if not gradebook.available():
        if asked:
            raise EnvironmentFault(f"the gradebook {url.split('://', 1)[0]}://... was asked for, but its packages "
                                   f"are not installed: {gradebook.EXTRA}")
        return History(note=NO_PACKAGES.format(extra=gradebook.EXTRA))
    from grader.instructor.gradebook.store import Gradebook, database_url

    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        if asked:  # opening would create an empty one: a dashboard only reads
            raise UsageError(f"no gradebook at {parsed.database}")
        return History(note=NO_GRADEBOOK.format(name=gradebook.DEFAULT_NAME))
    stubs = stub_hashes(manifest)
    with Gradebook.open(url, key) as book:
        gradings: dict[str, list[Grading]] = {}
        for view in book.history():
            # An unverified grading is shown with no score, whatever its submission's hashes say.
            gradings.setdefault(view.student, []).append(grading(view, view.contents, stubs, shown))
    return History(gradings)


def stub_hashes(manifest: Manifest) -> dict[str, str]:
    """sha256 of each assignment's stub in the course (``assignments/NN/<module>``), by id, where it is readable."""
    hashes = {}
    for a in manifest.assignments:
        try:
            hashes[a.id] = hashlib.sha256((manifest.root / "assignments" / a.id / a.module).read_bytes()).hexdigest()
        except OSError:  # no stub to compare with: the assignment counts as attempted, as batch decides
            continue
    return hashes


def grading(view: GradingView, contents: dict[str, str], stubs: dict[str, str], shown: list[str]) -> Grading:
    """One gradebook grading as the dashboard shows it: each assignment's cell by grader.instructor.statuses."""
    record = statuses.only(as_record(view, contents, stubs), shown)
    cells = {a: statuses.cell(record, a) for a in shown}
    return Grading(view.graded_at, view.revision, view.first_seen_at, view.status, view.verified,
                   record_total(record) if view.verified else None, float(record["result"]["max_score"]), cells)


def as_record(view: GradingView, contents: dict[str, str], stubs: dict[str, str]) -> dict[str, Any]:
    """A grading in the shape of a batch record, which statuses.cell reads; not started where the submitted
    module's hash is the stub's."""
    assignments = [{"id": a.assignment, "title": a.title, "score": a.score, "max_score": a.max_score,
                    "status": a.status, "message": a.message, "flags": list(a.flags)} for a in view.assignments]
    return {"student": view.student, "status": view.status, "message": view.message,
            "not_started": [a.assignment for a in view.assignments
                            if a.assignment in stubs and contents.get(a.assignment) == stubs[a.assignment]],
            "not_graded": {a.assignment: a.not_graded for a in view.assignments if a.not_graded is not None},
            "result": {"assignments": assignments, "score": round(sum(a.score for a in view.assignments), 2),
                       "max_score": round(sum(a.max_score for a in view.assignments), 2)}}
