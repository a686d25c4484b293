"""Gradescope: grade an upload inside the autograder's bundle (``/autograder/source``).

Gradescope unzips autograder.zip into ``/autograder/source``, runs
``setup.sh`` once, then ``run_autograder`` for every submission with the
student's upload in ``/autograder/submission``, and reads
``/autograder/results/results.json``; hidden tests are released as course.toml's
``[gradescope] hidden_visibility`` says (default ``after_due_date``). An upload is a repository (from
GitHub, or zipped, perhaps inside one top folder) or loose ``<module>.py``
files; only the course's contract files are taken from it.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from grader.files import write_atomic
from grader.manifest import Assignment, Manifest, load_manifest
from grader.platforms.bundle import (
    check_requirements,
    grade_bundle,
    read_config,
)
from grader.report import gradescope as result_format

RESULTS_NAME = "results.json"
MAX_NESTING = 3  # how many lone top folders (a zipped download of a repository) to look through


def _candidates(folder: Path, assignment: Assignment) -> list[Path]:
    return [folder / "assignments" / assignment.id / assignment.module,
            folder / assignment.id / assignment.module,
            folder / assignment.module]


def _holds_course_file(folder: Path, manifest: Manifest) -> bool:
    return any(p.is_file() or p.is_symlink() for a in manifest.assignments for p in _candidates(folder, a))


def upload_root(upload: Path, manifest: Manifest) -> Path:
    """The folder of the upload that holds the course's files: the upload, or its lone top folder."""
    folder = upload
    for _ in range(MAX_NESTING):
        if _holds_course_file(folder, manifest):
            break
        entries = [e for e in folder.iterdir() if not e.name.startswith(".") and e.name != "__MACOSX"]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        folder = entries[0]
    return folder


def collect_upload(upload: Path, manifest: Manifest, dest: Path) -> list[str]:
    """Copy each contract file of the upload to ``dest/assignments/NN/<module>``; the ids found.

    A symbolic link is copied as a link, so grading refuses it with its usual
    message instead of following it.
    """
    root = upload_root(upload, manifest) if upload.is_dir() else upload
    found = []
    for assignment in manifest.assignments:
        for path in _candidates(root, assignment) if root.is_dir() else []:
            if path.is_file() or path.is_symlink():
                target = dest / "assignments" / assignment.id / assignment.module
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target, follow_symlinks=False)
                found.append(assignment.id)
                break
    return found


def grade_upload(root: Path) -> dict[str, object]:
    """Grade ``root/submission`` with the bundle in ``root/source``; write and return results.json's document."""
    source, upload = root / "source", root / "submission"
    config = read_config(source)
    for warning in check_requirements(source):
        print(f"autograder: warning: {warning}", file=sys.stderr)
    manifest = load_manifest(source).only(list(config.grades) if config.grades else None)
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        found = collect_upload(upload, manifest, Path(tmp))
        # A bundle for one assignment grades it, found or not; the whole-course
        # bundle grades what the upload holds (everything, as missing, if nothing).
        ids = list(config.grades) if config.grades else found or [a.id for a in manifest.assignments]
        result = grade_bundle(source, Path(tmp), ids)
    document = result_format.payload(result, result_format.hidden_visibility(source))
    if not found:
        expected = ", ".join(a.module for a in manifest.assignments)
        document["output"] = f"No course file found in your upload (expected one of: {expected}).\n\n{document['output']}"
    results = root / "results" / RESULTS_NAME
    results.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(results, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for a in result.assignments:
        print(f"autograder: {a.id} {a.title}: {a.score:g}/{a.max_score:g} ({a.status}: {a.message})")
    return document

