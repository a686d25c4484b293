"""What identifies a submission and a batch: the key a result is reused under."""
from __future__ import annotations

import hashlib
from pathlib import Path

from grader import environment
from grader.catalog import course_fingerprint, update_digest
from grader.find import find_submission
from grader.manifest import Manifest
from grader.stage import CourseTests


def contract_hash(folder: Path, manifest: Manifest) -> str:
    """sha256 over the contract files of a submission folder, nothing else of it."""
    digest = hashlib.sha256(b"contract/1\0")
    for found in find_submission(folder, manifest):
        if found.source is not None:
            update_digest(digest, f"{found.assignment.id}/source", found.source)
        else:
            update_digest(digest, f"{found.assignment.id}/absent", (found.problem or "").encode())
    return digest.hexdigest()


def identity(manifest: Manifest, tests: CourseTests) -> str:
    """What every key of this batch ends with: the course, the grader's own code and the graded runs' environment."""
    digest = hashlib.sha256(b"batch-identity/1\0")
    update_digest(digest, "course", course_fingerprint(manifest, tests).encode())
    update_digest(digest, "grader", environment.fingerprint().encode())
    return digest.hexdigest()[:16]
