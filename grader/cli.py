"""The command line: ``python -m grader <command>``.

Exit status: 0 when the command did its job (whatever the score), 2 for bad
usage or unusable input (one line on stderr), 1 for an internal fault.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import find_course_root, load_manifest


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as the contract says
        raise UsageError(message)


def _cmd_stubs(args: argparse.Namespace) -> int:
    from grader import stubs

    manifest = load_manifest(find_course_root(Path.cwd()))
    manifest = manifest.only(args.assignment)
    if args.check:
        stale = stubs.stale_stubs(manifest)
        for path in stale:
            print(f"stale stub: {path.relative_to(manifest.root)}")
        if stale:
            print("run `python -m grader stubs` to regenerate them", file=sys.stderr)
            return 1
        print(f"all {len(manifest.assignments)} stubs match their solutions")
        return 0
    changed = stubs.write_stubs(manifest)
    for path in changed:
        print(f"wrote {path.relative_to(manifest.root)}")
    print(f"{len(changed)} stub(s) regenerated")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(prog="python -m grader", description="Grade the asyncio course.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    stubs = commands.add_parser("stubs", help="regenerate the stubs from the solutions")
    stubs.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    stubs.add_argument("--assignment", action="append", metavar="NN", help="only this assignment (repeatable)")
    stubs.set_defaults(run=_cmd_stubs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    try:
        args = build_parser().parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
