"""Due dates, the late policy and per-student extensions; the penalty arithmetic.

course.toml::

    [deadlines]                      # course-wide defaults (all optional)
    grace_minutes = 15               # after the due time, still on time
    penalty_per_day = 10             # percent of the score taken per day (or part of one) late
    penalty_cap = 50                 # percent taken at most

    [deadlines.assignment.03]        # one table per assignment with a due time
    due = "2026-10-05T23:59:00+08:00"  # with its time zone (a TOML datetime works too)
    penalty_per_day = 20             # any default may be overridden here

An extensions file (``batch --extensions FILE``) is a CSV with the header
``student,assignment,due,extra_days``; each row fills exactly one of ``due``
(a new due time, with time zone) and ``extra_days`` (added to the course's
due time). The grace period applies on top of either.

The rule, for the time the grader first saw the graded content
(``first_seen``) and the student's due time (``due``)::

    days   = ceil((first_seen - (due + grace)) / 1 day)   when positive, else 0
    penalty = min(cap, days * penalty_per_day)             percent of the score
    final   = score * (1 - penalty / 100)                  rounded to 2 decimals

Lateness is never decided from commit dates: a student sets those.
Standard library only, like grader.instructor.gradebook itself.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.manifest import Manifest, course_setting

SECTION = "deadlines"
DAY = timedelta(days=1)
POLICY_KEYS = ("grace_minutes", "penalty_per_day", "penalty_cap")
ASSIGNMENT_KEYS = ("due", *POLICY_KEYS)
EXTENSION_HEADER = ["student", "assignment", "due", "extra_days"]


@dataclass(frozen=True)
class Deadline:
    """One assignment's due time and late policy."""

    assignment: str
    due: datetime  # aware
    grace: timedelta
    per_day: float  # percent of the score per day late
    cap: float  # percent at most


@dataclass(frozen=True)
class Late:
    """How late one graded assignment was, and what that costs."""

    first_seen_at: datetime
    due: datetime  # the student's own due time (an extension moves it); grace not included
    days: int
    penalty: float  # percent of the score

    def to_dict(self) -> dict[str, Any]:
        """The record's (and so the CSV's, dashboard's and export's) form."""
        return {"first_seen_at": self.first_seen_at.astimezone(UTC).isoformat(), "due": self.due.isoformat(),
                "days": self.days, "penalty": self.penalty}


def days_late(first_seen: datetime, due: datetime, grace: timedelta) -> int:
    """Whole days (a part of a day counts as one) past ``due + grace``; 0 when on time."""
    over = first_seen - (due + grace)
    if over <= timedelta(0):
        return 0
    return math.ceil(over / DAY)


def penalty_percent(days: int, per_day: float, cap: float) -> float:
    """``min(cap, days * per_day)``: the percent of the score a submission ``days`` late loses."""
    return float(min(cap, days * per_day))


def penalised(score: float, penalty: float) -> float:
    """The score left after taking ``penalty`` percent of it."""
    return round(score * (1 - penalty / 100), 2)


def lateness(deadline: Deadline, first_seen: datetime, due: datetime | None = None) -> Late:
    """The lateness of content first seen at ``first_seen``, against ``due`` (an extension) or the course's."""
    due = due if due is not None else deadline.due
    days = days_late(first_seen, due, deadline.grace)
    return Late(first_seen, due, days, penalty_percent(days, deadline.per_day, deadline.cap))


def parse_moment(value: object, where: str) -> datetime:
    """An aware datetime from a TOML datetime or an ISO 8601 string; UsageError (one line) otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(f"{where}: {value!r} is not a date and time (e.g. 2026-10-05T23:59:00+08:00)") from None
    elif isinstance(value, date):
        raise UsageError(f"{where}: {value!r} has no time of day and no time zone (e.g. 2026-10-05T23:59:00+08:00)")
    else:
        raise UsageError(f"{where}: expected a date and time with time zone, got {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UsageError(f"{where}: {value!s} has no time zone: add one (+08:00, Z) so the due time is one moment")
    return moment


def _number(value: object, where: str, *, most: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{where} must be a number >= 0, got {value!r}")
    if most is not None and value > most:
        raise UsageError(f"{where} must be at most {most:g}, got {value!r}")
    return float(value)


def _policy(values: dict[str, Any], defaults: dict[str, float], where: str) -> dict[str, float]:
    policy = dict(defaults)
    for key in POLICY_KEYS:
        if key in values:
            policy[key] = _number(values[key], f"{where} {key}", most=100 if key == "penalty_cap" else None)
    return policy


def load_deadlines(manifest: Manifest) -> dict[str, Deadline]:
    """course.toml's due times, by assignment id (none: no ``[deadlines]``); UsageError for a bad setting."""
    path = manifest.root / "course.toml"
    values: dict[str, Any] = {}
    for key in (*POLICY_KEYS, "assignment"):
        value, path = course_setting(manifest.root, SECTION, key)
        if value is not None:
            values[key] = value
    if not values:
        return {}
    defaults = _policy(values, {"grace_minutes": 0.0, "penalty_per_day": 0.0, "penalty_cap": 100.0},
                       f"{path}: [{SECTION}]")
    tables = values.get("assignment", {})
    if not isinstance(tables, dict):
        raise UsageError(f"{path}: [{SECTION}] assignment must be tables [{SECTION}.assignment.NN]")
    known = {a.id for a in manifest.assignments}
    deadlines = {}
    for assignment_id, table in tables.items():
        where = f"{path}: [{SECTION}.assignment.{assignment_id}]"
        if assignment_id not in known:  # a typo would silently leave an assignment without a due time
            raise UsageError(f"{where}: no assignment {assignment_id!r} in course.toml")
        if not isinstance(table, dict):
            raise UsageError(f"{where} must be a table with due = \"...\"")
        unknown = sorted(set(table) - set(ASSIGNMENT_KEYS))
        if unknown:
            raise UsageError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(ASSIGNMENT_KEYS)})")
        if "due" not in table:
            raise UsageError(f"{where}: no due time (due = \"2026-10-05T23:59:00+08:00\")")
        policy = _policy(table, defaults, where)
        deadlines[assignment_id] = Deadline(assignment_id, parse_moment(table["due"], f"{where} due"),
                                            timedelta(minutes=policy["grace_minutes"]), policy["penalty_per_day"],
                                            policy["penalty_cap"])
    return {a.id: deadlines[a.id] for a in manifest.assignments if a.id in deadlines}


def load_extensions(path: Path, deadlines: dict[str, Deadline]) -> dict[tuple[str, str], datetime]:
    """The extensions file: each (student, assignment)'s own due time; UsageError naming the line otherwise."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read extensions {path}: {exc}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [cell.strip() for cell in rows[0]] != EXTENSION_HEADER:
        raise UsageError(f"{path}: the first line must be the header {','.join(EXTENSION_HEADER)}")
    extensions: dict[tuple[str, str], datetime] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}, line {number}"
        if len(row) != len(EXTENSION_HEADER):
            raise UsageError(f"{where}: expected {len(EXTENSION_HEADER)} fields "
                             f"({','.join(EXTENSION_HEADER)}), got {len(row)}")
        student, assignment, due_text, extra = (cell.strip() for cell in row)
        if not student:
            raise UsageError(f"{where}: no student")
        if assignment not in deadlines:
            raise UsageError(f"{where}: assignment {assignment!r} has no due time in course.toml "
                             f"(those that do: {', '.join(deadlines) or 'none'})")
        if bool(due_text) == bool(extra):
            raise UsageError(f"{where}: give exactly one of due (a new due time) and extra_days")
        if due_text:
            due = parse_moment(due_text, where)
        else:
            try:
                days = float(extra)
            except ValueError:
                raise UsageError(f"{where}: extra_days must be a number of days, got {extra!r}") from None
            if not math.isfinite(days) or days <= 0:
                raise UsageError(f"{where}: extra_days must be more than 0, got {extra!r}")
            due = deadlines[assignment].due + timedelta(days=days)
        if (student, assignment) in extensions:
            raise UsageError(f"{where}: a second extension for {student} on {assignment}: keep one")
        extensions[(student, assignment)] = due
    return extensions


@dataclass(frozen=True)
class Policy:
    """The course's deadlines and the class's extensions: what a batch decides lateness with."""

    deadlines: dict[str, Deadline]
    extensions: dict[tuple[str, str], datetime]

    def late(self, student: str, first_seen: dict[str, datetime]) -> dict[str, dict[str, Any]]:
        """Each assignment with a due time and a first sighting: its lateness, in the record's form."""
        return {assignment: lateness(deadline, first_seen[assignment],
                                     self.extensions.get((student, assignment))).to_dict()
                for assignment, deadline in self.deadlines.items() if assignment in first_seen}


def late_days(record: dict[str, Any], assignment: str) -> tuple[int, float] | None:
    """A record's (days late, penalty percent) for one assignment; None when it has no due time there."""
    entry = (record.get("late") or {}).get(assignment) if isinstance(record.get("late"), dict) else None
    if not isinstance(entry, dict):
        return None
    try:
        return int(entry["days"]), float(entry["penalty"])
    except (KeyError, TypeError, ValueError):
        return None
