"""Sealed records: the key outside every results folder, seals that prove the grader wrote a file, the catalog cache."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from repo_support import ROOT

from grader import catalog, records
from grader.catalog import load_catalog
from grader.errors import UsageError
from grader.manifest import load_manifest
from grader.pipeline import course_tests


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's key lives (the default path, through GRADER_KEY_FILE)."""
    path = tmp_path / "state" / "results.key"
    monkeypatch.setenv(records.KEY_ENV, str(path))
    return path


def test_the_key_is_created_once_readable_by_its_owner_only(key_file: Path) -> None:
    """First use creates 32 random bytes, mode 0600, in a 0700 folder; later uses read the same key."""
    first = records.load_key()
    assert first.path == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert len(key_file.read_bytes()) == records.KEY_BYTES
    again = records.load_key()
    assert again.seal("p", {"a": 1}) == first.seal("p", {"a": 1})
    assert not list(key_file.parent.glob(".*partial"))


def test_the_default_key_lives_under_the_state_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without GRADER_KEY_FILE: $XDG_STATE_HOME/asyncio-course-grader/results.key."""
    monkeypatch.delenv(records.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert records.default_key_path() == tmp_path / "asyncio-course-grader" / "results.key"


def test_a_key_others_can_read_is_refused(key_file: Path) -> None:
    """A key file with group or other permissions is refused in one line, and try_key gives nothing."""
    records.load_key()
    key_file.chmod(0o644)
    with pytest.raises(UsageError, match="may be read or written by others"):
        records.load_key()
    assert records.try_key() is None


def test_a_seal_proves_the_record_and_nothing_else(key_file: Path, tmp_path: Path) -> None:
    """An edited record, a record sealed for another purpose or with another key, an unsealed one: none opens."""
    key = records.load_key()
    record = {"student": "bob", "score": 0.0}
    sealed = key.sealed("student", record)
    assert key.opened("student", sealed) == record
    assert key.opened("student", {**sealed, "score": 100.0}) is None
    assert key.opened("catalog", sealed) is None
    assert key.opened("student", record) is None
    assert key.opened("student", {**record, "seal": "0" * 64}) is None
    assert key.opened("student", ["not", "a", "record"]) is None
    other = records.load_key(tmp_path / "other.key")
    assert other.opened("student", sealed) is None


def _only_01_cache(manifest_root: Path) -> list[Path]:
    return sorted((manifest_root / ".grader-cache").glob("catalog-*.json"))


def test_a_tampered_catalog_cache_is_not_used(key_file: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache whose points were rewritten (or that has no seal) is collected again, never believed."""
    manifest = load_manifest(ROOT).only(["01"])
    tests = course_tests(manifest, None)
    cache_dir = tmp_path / "course-cache"
    # Its own cache folder, so the course's real cache is never touched by this test.
    monkeypatch.setattr(catalog, "_cache_path", lambda m, t, k: cache_dir / f"catalog-{k}.json")
    true = load_catalog(manifest, tests)
    [cache] = sorted(cache_dir.glob("catalog-*.json"))
    data = json.loads(cache.read_text(encoding="utf-8"))
    assert data["seal"] and data["catalog"]["01"]

    forged = json.loads(json.dumps(data))
    for entry in forged["catalog"]["01"]:
        entry["points"] = 1000
    cache.write_text(json.dumps(forged), encoding="utf-8")
    assert load_catalog(manifest, tests) == true

    unsealed = {k: v for k, v in forged.items() if k != "seal"}
    cache.write_text(json.dumps(unsealed), encoding="utf-8")
    assert load_catalog(manifest, tests) == true
    # Collected again, the cache is rewritten sealed with the true points.
    assert json.loads(cache.read_text(encoding="utf-8")) == data


def test_a_sealed_catalog_cache_is_used(key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache this grader sealed is read back as it is, with no collection run."""
    manifest = load_manifest(ROOT).only(["01"])
    tests = course_tests(manifest, None)
    cache_dir = tmp_path / "course-cache"
    monkeypatch.setattr(catalog, "_cache_path", lambda m, t, k: cache_dir / f"catalog-{k}.json")
    true = load_catalog(manifest, tests)

    def no_collection(*args: object) -> object:
        raise AssertionError("collected although the cache was sealed and current")

    monkeypatch.setattr(catalog, "_collect", no_collection)
    assert load_catalog(manifest, tests) == true
