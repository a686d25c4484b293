"""The course manifest (course.toml): assignments, their modules and points, and limits."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError

MANIFEST_NAME = "course.toml"
NETWORK_MODES = ("none", "loopback")


@dataclass(frozen=True)
class Limits:
    """Bounds on one graded run; the defaults are documented in the README."""

    test_timeout: float = 5.0
    assignment_timeout: float = 60.0
    memory_mb: int = 2048
    output_kb: int = 1024  # what one test process may print (stdout and stderr together)
    disk_mb: int = 64  # the largest file it may write (06 downloads 8 MiB, maybe to a ".part" file first)


@dataclass(frozen=True)
class Assignment:
    """One assignment as the manifest declares it."""

    id: str
    slug: str
    title: str
    module: str
    article: str
    topics: str
    points: int = 100
    network: str = "none"  # "loopback" lets graded code connect to 127.0.0.1 (real servers in its tests)
    # Its tests reach the student's code only through scenarios (coursekit.judge): graded as two processes,
    # the judge (the tests) and the student process (the module), which never sees the tests.
    judged: bool = False
    # Whether the instructor's outputs (grades.csv, summary.json, the dashboard, the nbgrader export) show it yet;
    # an unreleased assignment is still graded, and appears everywhere the moment it is released.
    released: bool = True

    @property
    def module_name(self) -> str:
        """The import name of the student's module (``event_loop`` for ``event_loop.py``)."""
        return self.module.removesuffix(".py")


@dataclass(frozen=True)
class Manifest:
    """The whole course: where it lives, its assignments in order, its limits."""

    root: Path
    title: str
    assignments: tuple[Assignment, ...]
    limits: Limits

    def only(self, ids: list[str] | None) -> Manifest:
        """The same course narrowed to ``ids`` (all of it for None), in the manifest's order."""
        if not ids:
            return self
        wanted = {self.get(i).id for i in ids}
        kept = tuple(a for a in self.assignments if a.id in wanted)
        return Manifest(root=self.root, title=self.title, assignments=kept, limits=self.limits)

    def released(self) -> Manifest:
        """The same course narrowed to its released assignments (``released = false`` hides one)."""
        kept = tuple(a for a in self.assignments if a.released)
        return Manifest(root=self.root, title=self.title, assignments=kept, limits=self.limits)

    def get(self, assignment_id: str) -> Assignment:
        """The assignment with this id; a UsageError names the known ids otherwise."""
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments)
        raise UsageError(f"unknown assignment {assignment_id!r} (known: {known})")


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder holding course.toml: from ``start`` upward, else beside this package."""
    candidates = []
    if start is not None:
        candidates += [start, *start.resolve().parents]
    candidates.append(Path(__file__).resolve().parent.parent)
    for folder in candidates:
        if (folder / MANIFEST_NAME).is_file():
            return folder.resolve()
    raise UsageError(f"no {MANIFEST_NAME} found: run this inside the course repository")


def course_setting(course_root: Path, table: str, key: str) -> tuple[object, Path]:
    """course.toml's ``[table] key`` (None when absent) and the file's path, for the caller's messages.

    One reader for every optional setting: the caller checks the value's type
    and range and names the file in its one-line error. UsageError when the
    file cannot be read or parsed.
    """
    path = course_root / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    section = data.get(table, {})
    return (section.get(key) if isinstance(section, dict) else section), path


def load_manifest(root: Path) -> Manifest:
    """Read and validate ``root/course.toml``."""
    path = root / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    try:
        course = data["course"]
        assignments = tuple(Assignment(**entry) for entry in data["assignment"])
        limits = Limits(**data.get("limits", {}))
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{path} is malformed: {exc}") from None
    for a in assignments:
        for flag in ("judged", "released"):
            if not isinstance(getattr(a, flag), bool):
                raise UsageError(f"{path}: assignment {a.id} has {flag} = {getattr(a, flag)!r}; use true or false")
        if a.network not in NETWORK_MODES:
            raise UsageError(f"{path}: assignment {a.id} has network = {a.network!r}; use one of {NETWORK_MODES}")
    ids = [a.id for a in assignments]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{path} lists an assignment id twice")
    return Manifest(root=root, title=course["title"], assignments=assignments, limits=limits)
