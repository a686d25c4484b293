"""One class graded on several machines: ``batch --shard K/N`` slices, the ``shards`` matrix, and ``merge``."""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.files import write_atomic
from grader.instructor.results import RECORD_PURPOSE, grades_csv, prepare_results, summary_json
from grader.instructor.roster import Source, read_sources
from grader.manifest import Manifest, find_course_root, load_manifest
from grader.records import Key, load_key

MAX_SHARDS = 256  # a GitHub Actions matrix runs at most 256 jobs


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``: ``batch --shard K/N`` grades the students whose name hashes to K.

    By a hash of the filed name, not by position: a student stays in the
    same slice when the roster is reordered or others join or leave it, so
    each slice's earlier results (a cache between runs) keep matching.
    """

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, student: str) -> bool:
        """Whether the student is in this slice."""
        return shard_of(student, self.count) == self.index

    def select(self, sources: list[Source]) -> list[Source]:
        """This slice's sources, in their input order."""
        return [source for source in sources if self.holds(source.student)]


def shard_of(student: str, count: int) -> int:
    """The slice (1..count) a student's results are graded in: sha256 of the name, case-folded as names are."""
    digest = hashlib.sha256(f"shard/1\0{student.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N <= MAX_SHARDS; ValueError with the reason otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"expected K/N (this machine's slice K of N, e.g. 2/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"the number of slices must be 1 to {MAX_SHARDS}, got {count}")
    if not 1 <= index <= count:
        raise ValueError(f"the slice must be 1 to {count}, got {index}")
    return Shard(index, count)


def shard_count(students: int, *, per_shard: int, most: int = MAX_SHARDS) -> int:
    """How many slices grade ``students`` with about ``per_shard`` students each, at least 1, at most ``most``."""
    if per_shard < 1 or most < 1:
        raise UsageError("--per-shard and --max-shards must be at least 1")
    return max(1, min(most, MAX_SHARDS, -(-students // per_shard)))


def _summary_of(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = [str(line["student"]) for line in data["students"]]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc} (not the results of a finished batch: "
                         "did that shard fail?)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a batch's summary ({type(exc).__name__}: {exc})") from None
    return {"course": data.get("course"), "shard": data.get("shard"), "students": names}


def _check_shards(folders: list[Path], shards: list[object]) -> None:
    """Sharded results must be the N slices of one N, each once; results without a shard are taken as they are."""
    given = [(folder, shard) for folder, shard in zip(folders, shards) if shard is not None]
    if not given:
        return
    if len(given) != len(folders):
        raise UsageError("some results folders are shards (summary.json says `shard`) and some are not: merge the "
                         "shards of one sharded batch")
    try:
        parsed = [(folder, parse_shard(str(shard))) for folder, shard in given]
    except ValueError as exc:
        raise UsageError(f"a summary.json names a shard that is not K/N: {exc}") from None
    counts = {shard.count for _, shard in parsed}
    if len(counts) > 1:
        raise UsageError(f"the results come from different numbers of shards ({', '.join(map(str, sorted(counts)))})")
    [count] = counts
    seen: dict[int, Path] = {}
    for folder, shard in parsed:
        if shard.index in seen:
            raise UsageError(f"shard {shard} is given twice: {seen[shard.index]} and {folder}")
        seen[shard.index] = folder
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
    if missing:
        raise UsageError(f"shard(s) {', '.join(missing)} missing: give the results of every shard")


def merge_results(manifest: Manifest, sources: list[Source], folders: list[Path], out: Path, key: Key) -> int:
    """Merge the results folders of one class graded in parts (``batch --shard``) into ``out``; students merged.

    Each folder's summary.json says which students that batch graded; every
    student of ``sources`` must be in exactly one, and nobody else. Each
    record's seal must verify with ``key``: the merged folder holds only
    records this grader wrote. ``out`` gets the records as they are, and
    summary.json and grades.csv exactly as one batch of ``sources`` writes
    them (rows in the roster's order). UsageError, writing nothing, otherwise.
    """
    if not folders:
        raise UsageError("no results folders to merge")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not an empty or new folder: merge writes a results folder of its own")
    resolved = [folder.resolve() for folder in folders]
    if len(set(resolved)) != len(resolved):
        raise UsageError("a results folder is given twice")
    summaries = [_summary_of(folder) for folder in folders]
    for folder, summary in zip(folders, summaries):
        if summary["course"] != manifest.title:
            raise UsageError(f"{folder} holds results of {summary['course']!r}, not of {manifest.title!r}")
    _check_shards(folders, [summary["shard"] for summary in summaries])
    owner: dict[str, Path] = {}
    for folder, summary in zip(folders, summaries):
        for student in summary["students"]:
            if student in owner:
                raise UsageError(f"student {student!r} is in two results folders: {owner[student]} and {folder}")
            owner[student] = folder
    roster = [source.student for source in sources]
    absent = [student for student in roster if student not in owner]
    unknown = sorted(set(owner) - set(roster))
    if absent:
        raise UsageError(f"{len(absent)} student(s) of the roster in no results folder: {_few(absent)}")
    if unknown:
        raise UsageError(f"{len(unknown)} student(s) in the results are not on the roster: {_few(unknown)}")
    texts: list[str] = []
    records: list[dict[str, Any]] = []
    unverified: list[str] = []
    for student in roster:
        path = owner[student] / "students" / f"{student}.json"
        try:
            text = path.read_text(encoding="utf-8")
            record = key.opened(RECORD_PURPOSE, json.loads(text))
        except (OSError, ValueError):
            record = None
        if record is None or record.get("student") != student:
            unverified.append(student)
            continue
        texts.append(text)
        records.append(record)
    if unverified:
        raise UsageError(f"{len(unverified)} record(s) missing, or sealed with another key than {key.path}, or "
                         f"edited since: {_few(unverified)}")
    prepare_results(out)
    for student, text in zip(roster, texts):
        write_atomic(out / "students" / f"{student}.json", text)
    write_atomic(out / "summary.json", summary_json(manifest, records))
    write_atomic(out / "grades.csv", grades_csv(manifest, records))
    return len(records)


def _few(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def merge_command(args: argparse.Namespace) -> int:
    """``merge SUBMISSIONS RESULTS... --out MERGED [--key FILE] [--assignment NN]...``."""
    manifest = load_manifest(find_course_root(Path.cwd())).only(getattr(args, "assignment", None))
    sources = read_sources(args.submissions, args.out)
    key = load_key(getattr(args, "key", None), create=False)
    merged = merge_results(manifest, sources, list(args.results), args.out, key)
    print(f"merged {merged} student(s) from {len(args.results)} results folder(s) into {args.out}", file=sys.stderr)
    return 0


def shards_command(args: argparse.Namespace) -> int:
    """``shards ROSTER [--shards N | --per-shard M] [--max-shards X]``: a GitHub Actions matrix on stdout.

    Prints one JSON list, ``[{"shard": "1/4", "slug": "1of4"}, ...]``, for
    ``strategy.matrix.include``; the slug names caches and artifacts.
    """
    sources = read_sources(args.roster, None)
    count = args.shards if args.shards is not None else shard_count(len(sources), per_shard=args.per_shard,
                                                                       most=args.max_shards)
    if count > MAX_SHARDS:
        raise UsageError(f"--shards must be at most {MAX_SHARDS} (a GitHub Actions matrix runs at most that many jobs)")
    print(json.dumps([{"shard": f"{i}/{count}", "slug": f"{i}of{count}"} for i in range(1, count + 1)]))
    print(f"{len(sources)} student(s) in {count} shard(s)", file=sys.stderr)
    return 0
