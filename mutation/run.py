"""Grading mutants with the real grader, in one grading session, and summing up what the tests caught."""
from __future__ import annotations

import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.manifest import Assignment, Manifest
from grader.model import AssignmentResult
from grader.pipeline import Session, course_tests
from mutation.mutator import Mutant, mutants_of

EQUIVALENT_FILE = Path(__file__).resolve().parent / "equivalent.toml"
Kind = Literal["equivalent", "contract"]
KINDS: tuple[Kind, ...] = ("equivalent", "contract")
# A listed mutant that survives gets its kind as verdict; neither kind counts in the percentage.
Verdict = Literal["killed", "survived", "equivalent", "contract"]


@dataclass(frozen=True)
class Equivalent:
    """A mutant listed in equivalent.toml: ``kind`` says why no fair test may kill it.

    ``"equivalent"``: it behaves like the solution on every input the contract
    allows. ``"contract"``: it differs only where the assignment's README says
    the contract leaves the choice open.
    """

    id: str
    why: str
    kind: Kind = "equivalent"


@dataclass(frozen=True)
class Outcome:
    """What the grader made of one mutant."""

    mutant: Mutant
    verdict: Verdict
    score: float
    max_score: float
    failed: tuple[str, ...]  # the tests that caught it
    why_equivalent: str | None = None  # set when equivalent.toml lists it (even if it was killed)
    listed_kind: Kind | None = None  # its kind in equivalent.toml, when listed


@dataclass
class AssignmentReport:
    """Every mutant of one assignment and what became of it."""

    assignment: str
    baseline: str | None = None  # why the mutants were not graded (the solution itself lost points)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    stale_equivalents: list[str] = field(default_factory=list)  # listed in equivalent.toml, no such mutant
    seconds: float = 0.0  # wall time spent grading this assignment's mutants (information, not a limit)

    @property
    def wrongly_equivalent(self) -> list[Outcome]:
        """Mutants listed as equivalent that the tests killed: the listing is wrong."""
        return [o for o in self.outcomes if o.verdict == "killed" and o.why_equivalent]

    def count(self, verdict: Verdict) -> int:
        """Mutants with that verdict."""
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    @property
    def percent_killed(self) -> float | None:
        """Killed out of killed + survived (listed mutants of both kinds excluded); None when there is none."""
        judged = self.count("killed") + self.count("survived")
        return 100.0 * self.count("killed") / judged if judged else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``--json``."""
        return {
            "assignment": self.assignment,
            "baseline_problem": self.baseline,
            "killed": self.count("killed"),
            "survived": self.count("survived"),
            "equivalent": self.count("equivalent"),
            "contract": self.count("contract"),
            "total": len(self.outcomes),
            "percent_killed": self.percent_killed,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 1),
            "stale_equivalents": self.stale_equivalents,
            "wrongly_equivalent": [o.mutant.id for o in self.wrongly_equivalent],
            "mutants": [
                {"id": o.mutant.id, "verdict": o.verdict, "line": o.mutant.line, "function": o.mutant.function,
                 "operator": o.mutant.operator, "score": o.score, "max_score": o.max_score,
                 "caught_by": list(o.failed), "original": o.mutant.original, "mutated": o.mutant.mutated,
                 **({"why_equivalent": o.why_equivalent, "listed_kind": o.listed_kind} if o.why_equivalent else {})}
                for o in self.outcomes
            ],
        }


def load_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, Equivalent]:
    """The listed mutants, by id; every entry needs an ``id``, a ``why`` and a ``kind`` from KINDS, once each."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Equivalent] = {}
    for entry in data.get("equivalent", []):
        if not entry.get("id") or not str(entry.get("why", "")).strip():
            raise ValueError(f"{path}: every [[equivalent]] needs an id and a why: {entry!r}")
        if entry.get("kind") not in KINDS:
            raise ValueError(f"{path}: {entry['id']} needs kind = \"equivalent\" or \"contract\", "
                             f"not {entry.get('kind')!r}")
        if entry["id"] in out:
            raise ValueError(f"{path}: {entry['id']} is listed twice")
        out[entry["id"]] = Equivalent(entry["id"], entry["why"].strip(), entry["kind"])
    return out


def solution_mutants(manifest: Manifest, assignment: Assignment) -> tuple[str, list[Mutant], Counter[str]]:
    """The solution's source and its mutants."""
    path = manifest.root / "solutions" / assignment.id / assignment.module
    source = path.read_text(encoding="utf-8")
    generated = mutants_of(source, assignment.id, name=str(path))
    return source, generated.mutants, generated.skipped


def _grade_source(session: Session, assignment: Assignment, source: str, scratch: Path) -> AssignmentResult:
    """Grade ``source`` as a submission holding only this assignment's module."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    target = folder / assignment.id / assignment.module
    target.parent.mkdir(parents=True)
    target.write_text(source, encoding="utf-8")
    result = session.grade(folder, workers=1)
    return next(a for a in result.assignments if a.id == assignment.id)


def grade_mutants(session: Session, assignment: Assignment, mutants: list[Mutant], *, pool: Executor,
                  scratch: Path, equivalents: dict[str, Equivalent]) -> Iterator[Outcome]:
    """Grade each mutant in ``session`` (``pool`` runs them), yielding outcomes in the mutants' order.

    Killed: less than full marks. Survived: full marks. Equivalent or
    contract: full marks and listed in ``equivalents`` with that kind; a listed mutant that is killed is
    still reported as killed (with its ``why_equivalent``), so a wrong listing
    shows instead of hiding a change the tests catch.
    """
    def grade(mutant: Mutant) -> Outcome:
        result = _grade_source(session, assignment, mutant.source, scratch)
        failed = tuple(t.name for t in result.tests if t.outcome != "passed")
        listed = equivalents.get(mutant.id)
        verdict: Verdict = "killed" if result.score < result.max_score else listed.kind if listed else "survived"
        return Outcome(mutant, verdict, result.score, result.max_score, failed,
                       listed.why if listed else None, listed.kind if listed else None)

    return pool.map(grade, mutants)


def run_mutation(manifest: Manifest, ids: list[str], *, workers: int = 1, only: Iterable[str] = (),
                 equivalents: dict[str, Equivalent] | None = None,
                 progress: Callable[[str], None] = lambda line: None,
                 on_done: Callable[[AssignmentReport], None] = lambda report: None) -> list[AssignmentReport]:
    """Grade every mutant of the assignments ``ids`` (public and hidden tests) in one grading session.

    ``only``: id prefixes; when given, only the mutants whose id starts with
    one of them are graded. The unmutated solution is graded first; if it
    does not earn full marks, its mutants are not graded (every one would
    count as killed). ``on_done`` gets each assignment's report as soon as it
    is complete.
    """
    equivalents = load_equivalents() if equivalents is None else equivalents
    only = tuple(only)
    narrowed = manifest.only(ids)
    reports: list[AssignmentReport] = []
    with Session(narrowed, course_tests(narrowed, None)) as session, \
            tempfile.TemporaryDirectory(prefix="mutation-") as tmp, \
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        scratch = Path(tmp)
        for assignment in narrowed.assignments:
            source, mutants, skipped = solution_mutants(manifest, assignment)
            report = AssignmentReport(assignment.id, skipped=skipped)
            known = {m.id for m in mutants}
            report.stale_equivalents = sorted(i for i in equivalents if i.startswith(f"{assignment.id}:")
                                              and i not in known)
            started = time.monotonic()
            baseline = _grade_source(session, assignment, source, scratch)
            if baseline.score < baseline.max_score:
                report.baseline = (f"the reference solution itself earns {baseline.score:g}/{baseline.max_score:g} "
                                   f"({baseline.status}: {baseline.message}); its mutants were not graded")
                progress(f"{assignment.id}: {report.baseline}")
                reports.append(report)
                on_done(report)
                continue
            chosen = [m for m in mutants if not only or m.id.startswith(only)]
            progress(f"{assignment.id}: grading {len(chosen)} mutants")
            outcomes = grade_mutants(session, assignment, chosen, pool=pool, scratch=scratch, equivalents=equivalents)
            for done, outcome in enumerate(outcomes, start=1):
                report.outcomes.append(outcome)
                if outcome.verdict == "survived":
                    progress(f"  survived {outcome.mutant.id} (line {outcome.mutant.line})")
                if done % 25 == 0 or done == len(chosen):
                    progress(f"{assignment.id}: {done}/{len(chosen)} graded, {report.count('survived')} survived")
            report.seconds = time.monotonic() - started
            reports.append(report)
            on_done(report)
    return reports
