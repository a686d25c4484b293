"""A bundle: a self-contained copy of the course that grades submissions away from this repository.

Classroom 50 and Gradescope run a bundle on their own machines. It holds the
grader, the test kit, course.toml, the stubs and public tests and the hidden
tests of the assignments it grades, the pinned requirements, and
``bundle.json``, which says what it grades. When it grades, everything comes
from the bundle; of a submission only the contract files are read, so a
checkout that lacks or altered the grader, the test kit or the public tests
is graded exactly like any other.
"""
from __future__ import annotations

import ast
import json
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from coursekit import i18n
from coursekit.test_texts import LOCALE, locale_folders
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest
from grader.model import GradeResult
from grader.pipeline import grade
from grader.stage import CourseTests
from grader.stubs import BEGIN, END

CONFIG_NAME = "bundle.json"
REQUIREMENTS_NAME = "requirements.txt"
# The running grader and its test kit: what the bundle executes.
RUNTIME_ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME_PACKAGES = ("grader", "coursekit")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".grader-cache")


class BundleError(Exception):
    """The bundle cannot grade: a file is missing or a dependency is not installed."""


@dataclass(frozen=True)
class BundleConfig:
    """What a bundle grades: these assignment ids, or (None) every assignment an upload holds."""

    grades: tuple[str, ...] | None
    points: dict[str, int]


def write_bundle(dest: Path, manifest: Manifest, grades: list[str] | None, requirements: list[str]) -> None:
    """Write a bundle grading ``grades`` (None: whatever an upload holds) into the new folder ``dest``."""
    course = manifest.only(grades)
    dest.mkdir(parents=True)
    shutil.copyfile(manifest.root / MANIFEST_NAME, dest / MANIFEST_NAME)
    for package in RUNTIME_PACKAGES:
        copy_package(RUNTIME_ROOT / package, dest / package)
    tests = CourseTests(manifest.root, manifest.root / "tests")
    for assignment in course.assignments:
        for path in [tests.stub(assignment), *tests.public(assignment)]:
            _copy_into(path, dest / "assignments" / assignment.id)
        for path in tests.hidden(assignment):
            _copy_into(path, dest / "tests" / assignment.id)
        # The tests' own texts in the students' languages (coursekit.test_texts), public and hidden.
        for kind in ("assignments", "tests"):
            for path in sorted((manifest.root / kind / assignment.id / LOCALE).glob("*.po*")):
                _copy_into(path, dest / kind / assignment.id / LOCALE)
    (dest / REQUIREMENTS_NAME).write_text("".join(f"{line}\n" for line in requirements), encoding="utf-8")
    config = {
        "course": manifest.title,
        "grades": grades,
        "points": {a.id: a.points for a in course.assignments},
    }
    (dest / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _copy_into(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, folder / path.name)


def copy_package(source: Path, dest: Path) -> None:
    """Copy a Python package for students' eyes: no caches, no literal solution markers.

    The grader's stub generator names the markers in string literals. Split
    into adjacent literals they keep their value (the syntax tree is checked
    to be unchanged) but no longer read as a marker to a search.
    """
    shutil.copytree(source, dest, ignore=_SKIP)
    for path in dest.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        defused = defuse_markers(text)
        if defused != text:
            path.write_text(defused, encoding="utf-8")


def defuse_markers(source: str) -> str:
    """``source`` with each marker string literal split in two; the same program, checked."""
    defused = source
    for marker in (BEGIN, END):
        head, _, tail = marker.rpartition(" ")
        defused = defused.replace(f'"{marker}"', f'"{head} " "{tail}"')
    if defused != source and ast.dump(ast.parse(defused)) != ast.dump(ast.parse(source)):
        raise ValueError("splitting a solution marker literal changed the program")
    return defused


def read_config(bundle: Path) -> BundleConfig:
    """The bundle's ``bundle.json``; BundleError when it is missing or malformed."""
    try:
        data = json.loads((bundle / CONFIG_NAME).read_text(encoding="utf-8"))
        grades = data["grades"]
        points = {str(key): int(value) for key, value in data["points"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BundleError(f"{bundle / CONFIG_NAME} is missing or malformed: {exc}") from None
    return BundleConfig(tuple(grades) if grades is not None else None, points)


def requirement_problems(bundle: Path) -> tuple[list[str], list[str]]:
    """(missing, mismatched): the bundle's pinned requirements as the running Python has them."""
    missing, mismatched = [], []
    try:
        lines = (bundle / REQUIREMENTS_NAME).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BundleError(f"cannot read {bundle / REQUIREMENTS_NAME}: {exc.strerror}") from None
    for line in lines:
        name, _, pinned = line.strip().partition("==")
        if not name or name.startswith("#"):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if pinned and installed != pinned:
            mismatched.append(f"{name} {installed} (the course pins {pinned})")
    return missing, mismatched


def check_requirements(bundle: Path) -> list[str]:
    """Raise BundleError naming what is not installed; return the version mismatches (a warning)."""
    missing, mismatched = requirement_problems(bundle)
    if missing:
        raise BundleError(f"the grading environment lacks {', '.join(missing)}: install the pinned "
                          f"{REQUIREMENTS_NAME} of the autograder's folder")
    return mismatched


def grade_bundle(bundle: Path, submission: Path, ids: list[str]) -> GradeResult:
    """Grade the assignments ``ids`` of ``submission`` with the bundle's own course copy and tests."""
    manifest = load_manifest(bundle).only(ids)
    hidden = bundle / "tests"
    i18n.use_test_catalogs(locale_folders(bundle, hidden))  # for whatever renders the result in a student's language
    return grade(manifest, submission, CourseTests(bundle, hidden if hidden.is_dir() else None))


