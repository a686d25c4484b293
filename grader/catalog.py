"""The catalog: which graded tests exist, their points and their feedback text.

Built by collecting the course's tests against the course's own stubs, with
no student code anywhere near, so a submission can neither add tests, drop
them, nor change what they are worth. Cached by the content of everything
it depends on, and sealed (grader/records.py): a cache the grader cannot
prove it wrote is collected again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.manifest import MANIFEST_NAME, Assignment, Manifest
from grader.model import Visibility
from grader.pytest_options import command_args, ini_text
from grader.records import Key, try_key
from grader.run import Job, Runner, SpawnRunner
from grader.stage import CourseTests, Runtime, Stage, new_runtime, place

CACHE_VERSION = "3"
CACHE_PURPOSE = "catalog-cache"


class CourseError(Exception):
    """The course itself is broken (a test without points, tests that do not collect)."""


@dataclass(frozen=True)
class Entry:
    """One graded test as the course defines it."""

    nodeid: str
    name: str
    visibility: Visibility
    points: int
    doc: str


Catalog = dict[str, list[Entry]]


def update_digest(digest: hashlib._Hash, label: str, data: bytes) -> None:
    """Add one labelled piece to a hash, length-prefixed so no two sequences of pieces hash alike."""
    digest.update(f"{label}\0{len(data)}\0".encode())
    digest.update(data)


def course_fingerprint(manifest: Manifest, tests: CourseTests) -> str:
    """A hash of what grading depends on besides the submission.

    The manifest, the test kit the tests import, and each assignment's stub,
    public and hidden tests: the catalog cache and batch's skipping of
    unchanged submissions both key on it, so changing any of them regrades.
    """
    digest = hashlib.sha256(b"course/1\0")
    update_digest(digest, MANIFEST_NAME, (manifest.root / MANIFEST_NAME).read_bytes())
    for source in sorted((Path(__file__).resolve().parent.parent / "coursekit").glob("*.py")):
        update_digest(digest, f"coursekit/{source.name}", source.read_bytes())
    for assignment in manifest.assignments:
        files = [("stub", tests.stub(assignment)), *(("public", p) for p in tests.public(assignment)),
                 *(("hidden", p) for p in tests.hidden(assignment))]
        for kind, path in files:
            data = path.read_bytes() if path.is_file() else b"<missing>"
            update_digest(digest, f"{assignment.id}/{kind}/{path.name}", data)
    return digest.hexdigest()


def _cache_key(manifest: Manifest, tests: CourseTests) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    update_digest(digest, "pytest.ini", ini_text(manifest.limits).encode())
    update_digest(digest, "course", course_fingerprint(manifest, tests).encode())
    return digest.hexdigest()[:24]


def load_catalog(manifest: Manifest, tests: CourseTests, runtime: Runtime | None = None,
                 runner: Runner | None = None) -> Catalog:
    """The catalog of every assignment in ``manifest``, from the cache when it is current.

    Collecting runs in ``runtime`` with ``runner`` when given (a grading
    session's), else in a runtime of its own.
    """
    cache_key = _cache_key(manifest, tests)
    cache = _cache_path(manifest, tests, cache_key)
    seal = try_key()  # without a key nothing on disk is trusted: the catalog is collected afresh
    cached = _read_cache(cache, cache_key, seal)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="grader-catalog-") as tmp:
        if runtime is None:
            runtime = new_runtime(Path(tmp) / "runtime", manifest)
        catalog = _collect(manifest, tests, Stage(Path(tmp), runtime), runner or SpawnRunner())
    if seal is not None:
        body = {"key": cache_key, "catalog": {k: [asdict(e) for e in v] for k, v in catalog.items()}}
        try:
            cache.parent.mkdir(exist_ok=True)
            partial = cache.with_name(f".{cache.name}.{os.getpid()}-{threading.get_ident()}.partial")
            partial.write_text(json.dumps(seal.sealed(CACHE_PURPOSE, body)), encoding="utf-8")
            partial.replace(cache)
        except OSError:
            pass  # a read-only checkout grades just as well, only slower
    return catalog


def _cache_path(manifest: Manifest, tests: CourseTests, cache_key: str) -> Path:
    return manifest.root / ".grader-cache" / f"catalog-{cache_key}.json"


def _read_cache(cache: Path, cache_key: str, seal: Key | None) -> Catalog | None:
    """The cached catalog when this grader's key sealed it for exactly this course; None otherwise.

    The cache sits in the course folder, where anything may have rewritten it
    (a changed point value would change every score): unsealed, badly sealed
    or malformed, it is collected again.
    """
    if seal is None or not cache.is_file():
        return None
    try:
        body = seal.opened(CACHE_PURPOSE, json.loads(cache.read_text(encoding="utf-8")))
        if body is None or body.get("key") != cache_key:
            return None
        return {str(k): [Entry(**e) for e in entries] for k, entries in body["catalog"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _collect(manifest: Manifest, tests: CourseTests, stage: Stage, runner: Runner) -> Catalog:
    folders = []
    for assignment in manifest.assignments:
        stub = tests.stub(assignment)
        if not stub.is_file():
            raise CourseError(f"the course has no stub {stub}")
        folders.append(str(place(stage, assignment, stub.read_bytes(), tests).folder))
    args = [*command_args(shuffle_seed=None), "--collect-only", "--grader-collect", *folders]
    output = runner.run(Job(stage, args, cwd=stage.root, scratch=stage.scratch("collect"),
                            report=stage.root / "collect.jsonl", limits=manifest.limits))
    items = [r for r in output.records if r.get("kind") == "collected"]
    finished = [r for r in output.records if r.get("kind") == "collection_finished"]
    if not finished or finished[0].get("count") != len(items):
        raise CourseError(f"the course's tests did not collect: {output.stderr_tail.strip()[-500:]}")
    return {a.id: _entries(a, items, tests) for a in manifest.assignments}


def _entries(assignment: Assignment, items: list[dict[str, object]], tests: CourseTests) -> list[Entry]:
    public_files = {p.name for p in tests.public(assignment)}
    entries = []
    for item in items:
        nodeid = str(item["nodeid"])
        folder, _, rest = nodeid.partition("/")
        if folder != assignment.id:
            continue
        filename, _, name = rest.partition("::")
        points = item["points"]
        if not isinstance(points, int) or points < 1:
            raise CourseError(f"test {nodeid} has no @pytest.mark.points(N) with a whole N >= 1")
        visibility: Visibility = "public" if filename in public_files else "hidden"
        entries.append(Entry(nodeid, name, visibility, points, str(item["doc"])))
    return entries
