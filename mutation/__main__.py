"""``python -m mutation [--assignment NN]... [--workers N] [--json FILE] [--survivors-dir DIR] [--mutant ID]... [--list]``.

Run from the course root. Mutates the solution regions of each reference
solution (see mutation/mutator.py for the operators), grades every mutant
with the real grader (public and hidden tests, the grader's limits) in one
grading session, and reports per assignment how many mutants the tests
killed, how many survived and how many mutation/equivalent.toml lists,
in two columns: "equivalent" (behaves like the solution) and "contract
choice" (differs only where the README leaves the choice open); neither
counts in the percentage. Then every survivor with its diff.

A measurement like ``python -m bench``: it exits 0 whatever the numbers are
(2 only for a usage error), and it is never run as a timed test.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import load_manifest
from mutation.run import AssignmentReport, load_equivalents, run_mutation, solution_mutants

ROOT = Path(__file__).resolve().parent.parent
TARGET = 99.0  # percent of unlisted mutants killed, in every assignment (issue 10)
LISTED_AS = {"equivalent": "equivalent", "contract": "contract choice"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__.split("\n\n")[1])
    parser.add_argument("--assignment", action="append", default=[], metavar="NN",
                        help="only this assignment (repeatable; default: all)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="mutants graded at once (default 1; each is one test process)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every mutant's outcome as JSON")
    parser.add_argument("--survivors-dir", type=Path, metavar="DIR",
                        help="write DIR/NN.txt: the survivors of each assignment, one block each")
    parser.add_argument("--mutant", action="append", default=[], metavar="ID",
                        help="only the mutants whose id starts with ID (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants with their diffs; grade nothing")
    return parser


def survivors_text(report: AssignmentReport, module: str) -> str:
    """The survivors of one assignment: id, line, the mutated lines and the original ones."""
    survivors = [o for o in report.outcomes if o.verdict == "survived"]
    head = [f"# assignment {report.assignment}: {len(survivors)} surviving mutant(s) of solutions/{report.assignment}/"
            f"{module}", f"# {summary_line(report)}"]
    if report.baseline:
        head.append(f"# {report.baseline}")
    blocks = [f"{o.mutant.id}\nline {o.mutant.line}\n{o.mutant.diff(module)}\n" for o in survivors]
    return "\n".join(head) + "\n\n" + "\n".join(blocks)


def summary_line(report: AssignmentReport) -> str:
    """``killed/survived/equivalent/contract choice/total`` and the percentage, on one line."""
    percent = report.percent_killed
    shown = "n/a" if percent is None else f"{percent:.1f} %"
    return (f"{report.assignment}: killed {report.count('killed')}, survived {report.count('survived')}, "
            f"equivalent {report.count('equivalent')}, contract choice {report.count('contract')}, "
            f"total {len(report.outcomes)}: {shown} killed")


def _print_report(reports: list[AssignmentReport], modules: dict[str, str]) -> None:
    print(f"{'id':<4}{'killed':>8}{'survived':>10}{'equivalent':>12}{'contract choice':>17}{'total':>7}"
          f"{'killed %':>10}{'seconds':>9}  skipped")
    for r in reports:
        percent = r.percent_killed
        shown = "n/a" if percent is None else f"{percent:.1f}"
        mark = "" if percent is None or percent >= TARGET else "  < target"
        print(f"{r.assignment:<4}{r.count('killed'):>8}{r.count('survived'):>10}{r.count('equivalent'):>12}"
              f"{r.count('contract'):>17}{len(r.outcomes):>7}{shown:>10}{r.seconds:>9.0f}  "
              f"{sum(r.skipped.values())}{mark}")
    killed = sum(r.count("killed") for r in reports)
    judged = killed + sum(r.count("survived") for r in reports)
    if judged:
        print(f"all {killed:>8}{judged - killed:>10}{sum(r.count('equivalent') for r in reports):>12}"
              f"{sum(r.count('contract') for r in reports):>17}{sum(len(r.outcomes) for r in reports):>7}"
              f"{100 * killed / judged:>10.1f}{sum(r.seconds for r in reports):>9.0f}")
    print(f"(killed % = killed / (killed + survived); the mutants mutation/equivalent.toml lists, equivalent or "
          f"contract choice, are excluded; target {TARGET:g} %)")
    for r in reports:
        if r.baseline:
            print(f"\n{r.assignment}: {r.baseline}")
        for i in r.stale_equivalents:
            print(f"\n{r.assignment}: mutation/equivalent.toml lists {i}, which is no longer generated")
        for o in r.wrongly_equivalent:
            print(f"\n{r.assignment}: mutation/equivalent.toml lists {o.mutant.id} as "
                  f"{LISTED_AS[o.listed_kind or 'equivalent']}, "
                  f"but the tests kill it ({', '.join(o.failed[:3])})")
        for o in r.outcomes:
            if o.verdict == "survived":
                print(f"\nsurvived {o.mutant.id}\n{o.mutant.diff(modules[r.assignment])}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 whatever the numbers, 2 for a usage error)."""
    args = _parser().parse_args(argv)
    try:
        manifest = load_manifest(ROOT)
        narrowed = manifest.only(args.assignment)
        equivalents = load_equivalents()
    except (UsageError, ValueError) as error:
        print(f"python -m mutation: {error}", file=sys.stderr)
        return 2
    modules = {a.id: a.module for a in narrowed.assignments}
    if args.list:
        for assignment in narrowed.assignments:
            _, mutants, skipped = solution_mutants(manifest, assignment)
            for m in mutants:
                if not args.mutant or m.id.startswith(tuple(args.mutant)):
                    listed = f"  (listed as {LISTED_AS[equivalents[m.id].kind]})" if m.id in equivalents else ""
                    print(f"{m.id}{listed}\n"
                          f"{m.diff(assignment.module)}\n")
            print(f"# {assignment.id}: {len(mutants)} mutants; skipped: {dict(skipped) or 'none'}\n")
        return 0

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def on_done(report: AssignmentReport) -> None:
        progress(summary_line(report))
        if args.survivors_dir:
            args.survivors_dir.mkdir(parents=True, exist_ok=True)
            (args.survivors_dir / f"{report.assignment}.txt").write_text(
                survivors_text(report, modules[report.assignment]), encoding="utf-8")

    reports = run_mutation(manifest, [a.id for a in narrowed.assignments], workers=args.workers,
                           only=args.mutant, equivalents=equivalents, progress=progress, on_done=on_done)
    _print_report(reports, modules)
    if args.json:
        args.json.write_text(json.dumps({"target_percent": TARGET, "assignments": [r.to_dict() for r in reports]},
                                        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
