"""Class-scale measurement, run in a process of its own by ``python -m bench``.

``python -m bench.class_scale --students N --json FILE [--seed S] [--sandbox on|off]`` generates N
synthetic submissions (all nine assignments each) into a temporary folder,
grades them with ``grader.instructor.batch.run_batch`` (default workers), and writes what
it measured to FILE: wall seconds, CPU seconds (per submission too) and peak
memory. It runs in a fresh process so that ``getrusage(RUSAGE_CHILDREN)``
covers only the batch's children (every grading process, the sandbox's
included: this process is their orphans' subreaper, ``bench/timing.py``), and
``getrusage(RUSAGE_SELF)`` only the batch's own threads.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import timing

ROOT = Path(__file__).resolve().parent.parent

# What a synthetic student hands in for one assignment, and how often.
KINDS = ("solution", "stub", "not_implemented", "slow")
WEIGHTS = (0.45, 0.15, 0.30, 0.10)
SLEEP = 0.05  # real seconds of time.sleep inserted by the "slow" variant


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions and methods of top-level classes, in source order."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            found += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return found


def _keep_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return [first]
    return []


def variant(solution: str, kind: str, rng: random.Random) -> tuple[str, str]:
    """The source of one variant of a reference solution, and which function was changed."""
    if kind == "solution":
        return solution, ""
    tree = ast.parse(solution)
    functions = _functions(tree)
    if not functions:
        return solution, ""
    target = rng.choice(functions)
    docstring = _keep_docstring(target.body)
    if kind == "not_implemented":
        target.body = [*docstring, ast.parse("raise NotImplementedError()").body[0]]
    elif kind == "slow":
        sleep = ast.parse(f"__import__('time').sleep({SLEEP})").body[0]
        target.body = [*docstring, sleep, *target.body[len(docstring):]]
    else:
        raise ValueError(kind)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n", target.name


def generate(folder: Path, students: int, seed: int) -> Counter[str]:
    """``folder/student-NNN/assignments/NN/<module>.py`` for every student; the count of each kind."""
    from grader.manifest import load_manifest

    manifest = load_manifest(ROOT)
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    solutions = {a.id: (ROOT / "solutions" / a.id / a.module).read_text(encoding="utf-8")
                 for a in manifest.assignments}
    stubs = {a.id: (ROOT / "assignments" / a.id / a.module).read_text(encoding="utf-8")
             for a in manifest.assignments}
    for number in range(students):
        for assignment in manifest.assignments:
            kind = rng.choices(KINDS, WEIGHTS)[0]
            if kind == "stub":
                text = stubs[assignment.id]
            else:
                text, _ = variant(solutions[assignment.id], kind, rng)
            path = folder / f"student-{number:03d}" / "assignments" / assignment.id / assignment.module
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            counts[kind] += 1
    return counts


def _maxrss_mb(who: int) -> float:
    value = resource.getrusage(who).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def measure(students: int, seed: int, workers: int | None = None, reuse: bool = True,
            sandboxed: bool = False) -> dict[str, object]:
    from grader.instructor.batch import default_workers, run_batch
    from grader.instructor.roster import read_sources
    from grader.manifest import load_manifest
    from grader.pipeline import course_tests

    subreaper = timing.become_subreaper()
    manifest = load_manifest(ROOT)
    tests = course_tests(manifest, None)
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "results"
        started = time.perf_counter()
        counts = generate(submissions, students, seed)
        generation = time.perf_counter() - started
        sources = read_sources(submissions, out)
        timing.reap()
        children_before, self_before = timing.children_cpu(), timing.self_cpu()
        started = time.perf_counter()
        summary = run_batch(manifest, sources, out, tests=tests, stream=io.StringIO(), workers=workers,
                            reuse_identical=reuse, sandboxed=sandboxed)
        wall = time.perf_counter() - started
        # The batch's threads are done: what is left to reap are orphans (bubblewrap's), whose CPU counts too.
        orphans = timing.reap(timing.STRAGGLERS_TIMEOUT)
        children_cpu = timing.children_cpu() - children_before
        self_cpu = timing.self_cpu() - self_before
    scores = [s.score for s in summary.students]
    return {
        "students": len(summary.students),
        "graded": summary.graded,
        "errors": summary.errors,
        "skipped": summary.skipped,
        "workers": workers or default_workers(),
        "reuse_identical": reuse,
        "sandboxed": sandboxed,
        "seed": seed,
        "mix_per_assignment": dict(counts),
        "generation_seconds": generation,
        "wall_seconds": wall,
        "submissions_per_second": len(summary.students) / wall if wall > 0 else 0.0,
        "seconds_per_submission": wall / len(summary.students),
        "cpu_seconds": children_cpu + self_cpu,
        "cpu_children_seconds": children_cpu,
        "cpu_self_seconds": self_cpu,
        "cpu_seconds_per_submission": (children_cpu + self_cpu) / len(summary.students),
        "cpu_note": ("getrusage: RUSAGE_CHILDREN (every grading process, reaped by the batch or, orphaned, "
                     "by this process as subreaper) + RUSAGE_SELF (the batch's own threads), around run_batch"),
        "subreaper": subreaper,
        "orphans_reaped": orphans,
        "mean_score": sum(scores) / len(scores),
        "max_score": summary.students[0].max_score,
        "peak_rss_children_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
        "peak_rss_self_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "peak_rss_note": ("ru_maxrss: peak resident set of the largest single process, not a sum; "
                          "children = largest waited-for child (a pytest run), self = the batch process"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.class_scale")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None, help="batch workers (default: batch's own default)")
    parser.add_argument("--no-reuse", action="store_true", help="run every file (batch --no-reuse)")
    parser.add_argument("--sandbox", choices=("on", "off"), default="off",
                        help="grade inside bubblewrap (grader/sandbox.py), as batch's grade of record does")
    args = parser.parse_args(argv)
    result = measure(args.students, args.seed, args.workers, reuse=not args.no_reuse, sandboxed=args.sandbox == "on")
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
