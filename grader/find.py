"""Find: which contract files a submission holds, without trusting anything else in it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import Assignment, Manifest

MAX_MODULE_BYTES = 512 * 1024
MAX_NAMES = 5  # stray file names a hint lists
_NOT_THE_MODULE = ("__init__.py", "conftest.py")  # .py files a student's folder holds besides the module


@dataclass(frozen=True)
class Found:
    """One assignment of a submission: its source bytes, or why there are none."""

    assignment: Assignment
    source: bytes | None
    problem: str | None = None  # set when the file exists but cannot be graded
    hint: str | None = None  # when it does not exist: the other .py files found where it was expected


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
    return Found(assignment, None, hint=_stray_modules(root, assignment))


def _stray_modules(root: Path, assignment: Assignment) -> str | None:
    """Where the module is missing, the .py files beside where it was expected (a misspelt ``whyasync.py``),
    said in one sentence; None when there are none. The public tests' own files are not counted."""
    for path in _candidates(root, assignment):
        folder = path.parent
        if not folder.is_dir() or _linked(root, folder):
            continue
        names = sorted(p.name for p in folder.glob("*.py") if p.name not in _NOT_THE_MODULE
                       and not p.name.startswith("test_") and p.name.isprintable() and len(p.name) <= 60)
        if names:
            shown = ", ".join(names[:MAX_NAMES]) + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES
                                                    else "")
            where = folder.relative_to(root).as_posix()
            return f"found {shown} in {where}/ instead: the file must be named {assignment.module}"
    return None
