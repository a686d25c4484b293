"""Find: which contract files a submission holds, without trusting anything else in it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import Assignment, Manifest

MAX_MODULE_BYTES = 512 * 1024


@dataclass(frozen=True)
class Found:
    """One assignment of a submission: its source bytes, or why there are none."""

    assignment: Assignment
    source: bytes | None
    problem: str | None = None  # set when the file exists but cannot be graded


def _candidates(root: Path, assignment: Assignment) -> list[Path]:
    # A student repository keeps assignments/NN/<module>; a bare folder of
    # solutions (solutions/NN/<module>) is accepted too, for the demo and tests.
    return [root / "assignments" / assignment.id / assignment.module, root / assignment.id / assignment.module]


def find_submission(root: Path, manifest: Manifest) -> list[Found]:
    """The contract file of every assignment of ``manifest`` in the submission at ``root``."""
    if not root.exists():
        raise UsageError(f"submission folder {root} does not exist")
    if not root.is_dir():
        raise UsageError(f"submission {root} is not a folder")
    found = []
    for assignment in manifest.assignments:
        found.append(_read_one(root, assignment))
    return found


def _linked(root: Path, path: Path) -> bool:
    """True when ``path`` or a folder between ``root`` and it is a symbolic link.

    A link could point at another student's work or at the course's own files.
    """
    current = path
    while current != root:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def _read_one(root: Path, assignment: Assignment) -> Found:
    for path in _candidates(root, assignment):
        if _linked(root, path):
            return Found(assignment, None, f"{assignment.module} is reached through a symbolic link; submit regular files")
        if not path.is_file():
            continue
        size = path.stat().st_size
        if size > MAX_MODULE_BYTES:
            return Found(assignment, None, f"{assignment.module} is {size} bytes; the limit is {MAX_MODULE_BYTES}")
        return Found(assignment, path.read_bytes())
    return Found(assignment, None)
