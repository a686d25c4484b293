"""The command line: ``python -m grader <command>``.

Exit status: 0 when the command did its job (whatever the score), 2 for bad
usage or unusable input (one line on stderr), 1 for an internal fault,
including an environment the grader cannot grade in (one line on stderr:
nothing is graded, so nothing is recorded), 128 + N when signal N (SIGINT,
SIGTERM) interrupted a batch.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from coursekit import i18n
from coursekit.hints import describe
from coursekit.test_texts import locale_folders
from grader import sandbox
from grader.catalog import CourseError
from grader.environment import require_usable
from grader.errors import EnvironmentFault, Interrupted, UsageError
from grader.manifest import Manifest, find_course_root, load_manifest
from grader.pytest_options import require_shuffle_support

if TYPE_CHECKING:
    from grader.model import GradeResult


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as the contract says
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


FORMAT_NAMES = ("text", "json", "markdown", "classroom", "classroom50", "gradescope")


def _cmd_grade(args: argparse.Namespace) -> int:
    from grader.pipeline import course_tests, grade
    from grader.report import markdown, render

    root = find_course_root(Path.cwd())
    manifest = load_manifest(root).only(args.assignment)
    lang = language_option(args.lang, root)
    if args.tests is not None and not args.tests.is_dir():
        raise UsageError(f"hidden-test folder {args.tests} does not exist")
    submission = args.submission if args.submission is not None else root
    if args.seed is not None:
        require_shuffle_support()
    if args.student is not None and args.record is None:
        raise UsageError("--student names whose grading --record adds to the gradebook: give --record URL too")
    tests = course_tests(manifest, args.tests)
    # The tests' own texts (docstrings, messages) in the student's language: the public and hidden catalogs.
    i18n.use_test_catalogs(locale_folders(root, tests.hidden_root))
    result = grade(manifest, submission, tests, shuffle_seed=args.seed, sandboxed=args.sandboxed)
    if args.record is not None:  # the instructor's: this grading goes into the gradebook's history too
        from grader.instructor.gradebook import record_grade

        print(record_grade(args.record, args.student, submission, result, manifest=manifest, tests=tests),
              file=sys.stderr)
    if args.output is None:
        with i18n.language(lang):
            sys.stdout.write(_for_stdout(result, args.format))
        return 0
    with i18n.language(lang):
        text = render(result, args.format, os.environ)
        release_body = markdown.render(result, os.environ) if args.format == "classroom50" else None
    _write(args.output, text)
    if release_body is not None:
        _write(args.output.with_name("release-body.md"), release_body)
    print(f"score {result.score_text()}; wrote {args.output}", file=sys.stderr)
    return 0


def language_option(flag: str | None, root: Path | None, env: Mapping[str, str] = os.environ) -> str:
    """The language of what the student reads (coursekit.i18n.choose): ``--lang``, else COURSE_LANG, else LANG
    (of ``env``), else course.toml's ``[course] language``, else English. A ``--lang`` with no catalog is a usage
    error (a typo must not pass for English); the environment's and course.toml's fall back to English."""
    if flag is not None and i18n.normalize(flag) not in i18n.available():
        raise UsageError(f"--lang {flag}: no such language (known: {', '.join(i18n.available())})")
    return i18n.choose(flag=flag, env=env, course=i18n.course_language(root) if root else None)


def _for_stdout(result: GradeResult, fmt: str) -> str:
    """The result in ``fmt`` for standard output: the text format in colour and wrapped on a terminal."""
    from grader.report import render, text

    if fmt != "text":
        return render(result, fmt, os.environ)
    style = text.terminal_style(os.environ, isatty=sys.stdout.isatty(), columns=shutil.get_terminal_size().columns)
    return text.render(result, os.environ, style)


def _write(path: Path, text: str) -> None:
    """Write atomically, so a reader never sees half a result."""
    try:
        from grader.files import write_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from grader.model import GradeResult
    from grader.report import render

    try:
        data = json.loads(args.results.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "student" in data and "result" in data:
            data = data["result"]  # a student file of batch's: the record around the result
        result = GradeResult.from_dict(data)
    except OSError as exc:
        raise UsageError(f"cannot read {args.results}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{args.results} is not a grader JSON result nor a student file of batch "
                         f"({describe(exc)})") from None
    try:
        root: Path | None = find_course_root(Path.cwd())
    except UsageError:  # a saved result can be shown anywhere: then the course's language is not known
        root = None
    if root is not None:  # the tests' own texts, public and (where the course has them) hidden
        i18n.use_test_catalogs(locale_folders(root, root / "tests"))
    with i18n.language(language_option(args.lang, root)):
        text = _for_stdout(result, args.format) if args.output is None else render(result, args.format, os.environ)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write(args.output, text)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from grader.check import check_course

    manifest = load_manifest(find_course_root(Path.cwd())).only(args.assignment)
    if args.repeat > 1:
        require_shuffle_support()
    problems = check_course(manifest, hidden_root=args.tests, repeat=args.repeat, sandboxed=args.sandboxed)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    ids = ", ".join(a.id for a in manifest.assignments)
    print(f"course check passed for {ids}: solutions full marks ({args.repeat} run(s)), stubs zero, stubs in sync, "
          "every text a student reads translated")
    return 0


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    """A command implemented by ``grader.<module>.command(args)``, imported only when used."""
    return _delegate_to(module, "command")


def _delegate_to(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A command implemented by ``grader.<module>.<function>(args)``, imported only when used."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        command: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(f"grader.{module}"), function)
        return command(args)

    return run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return value


def _shard(text: str) -> object:
    """``K/N`` for ``--shard`` (grader.instructor.shards.parse_shard), its reason on one line otherwise."""
    from grader.instructor.shards import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


GRADING_COMMANDS = ("grade", "check", "batch")  # the commands that run graded code: they need the environment


def _add_sandbox_options(parser: argparse.ArgumentParser, default: str) -> None:
    """``--sandbox {auto,required,off}`` and ``--no-sandbox`` (the spelling of ``off``) on a grading command."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--sandbox", choices=sandbox.MODES,
                        help="run the graded code inside bubblewrap: required (refuse to grade where it cannot), "
                             f"auto (where it can), off (default: {default})")
    choice.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                        help="the same as --sandbox off: grade without the OS sandbox (every output says so)")


def sandbox_mode(args: argparse.Namespace, course_root: Path) -> sandbox.Mode:
    """The sandbox mode of a grading command: its option, else "required" for batch (the grade of record),
    else course.toml's ``[grading] sandbox``."""
    if args.sandbox is not None:
        mode: sandbox.Mode = args.sandbox
        return mode
    if args.command == "batch":
        return sandbox.RECORD_MODE
    return sandbox.course_mode(course_root)


def _decide_sandbox(args: argparse.Namespace, mode: sandbox.Mode) -> None:
    """Set ``args.sandboxed``; where "auto" finds no sandbox, say so on one line (the outputs say it too)."""
    args.sandboxed, why_not = sandbox.decide(mode)
    if why_not is not None:
        print(f"note: grading without the OS sandbox ({why_not}); the results say they were not sandboxed",
              file=sys.stderr)


def assignment_id(manifest: Manifest, name: str) -> str:
    """The id of the assignment ``name`` means: its id (``01``), its number (``1``), or its slug (``tasks``, any
    case); a UsageError listing the valid names, on one line, otherwise."""
    wanted = name.strip()
    for assignment in manifest.assignments:
        if wanted == assignment.id or wanted.lower() == assignment.slug.lower():
            return assignment.id
        if wanted.isdigit() and assignment.id.isdigit() and int(wanted) == int(assignment.id):
            return assignment.id
    known = ", ".join(f"{a.id} ({a.slug})" for a in manifest.assignments)
    raise UsageError(f"unknown assignment {name!r}: give a number or a name: {known}")


STUDENT_COMMANDS = ("grade", "report")  # listed first by --help; every other command is the instructor's


def _command_list(commands: argparse._SubParsersAction[_Parser]) -> str:
    """The commands by audience, for ``--help``: a student's two first, then the instructor's, as added."""
    helps = {action.dest: action.help or "" for action in commands._choices_actions}
    width = max(map(len, helps)) + 2

    def lines(names: list[str]) -> list[str]:
        return [f"  {name.ljust(width)}{helps[name]}" for name in names]

    students = [name for name in STUDENT_COMMANDS if name in helps]
    instructors = [name for name in helps if name not in STUDENT_COMMANDS]
    return "\n".join(["commands for students:", *lines(students), "",
                      "commands for instructors (in the course's private repository):", *lines(instructors), "",
                      "A command's options: python -m grader <command> --help",
                      "Run the grader with the course's environment: .venv/bin/python -m grader ...",
                      "(or python -m grader ... in an activated virtual environment)."])


def _add_lang_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lang", metavar="LANG",
                         help="the language of the report's words and the grader's messages: en or zh_CN (default: "
                              "COURSE_LANG, else LANG, else course.toml's [course] language, else en)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(prog="python -m grader", description="Grade the asyncio course.",
                     usage="python -m grader <command> [options]", formatter_class=argparse.RawDescriptionHelpFormatter)
    # The commands are listed by audience in the epilog (argparse has no groups of subcommands).
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="<command>",
                                     help=argparse.SUPPRESS)

    stubs = commands.add_parser("stubs", help="regenerate the stubs from the solutions")
    stubs.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    stubs.add_argument("--assignment", action="append", metavar="NN",
                       help="only this assignment: 1, 01 or its name (why-async); repeatable")
    stubs.set_defaults(run=_cmd_stubs)

    grade = commands.add_parser("grade", help="grade your assignments (or a submission folder) and show the score")
    grade.add_argument("--submission", type=Path, help="a student-repository-shaped folder (default: this repository)")
    grade.add_argument("--assignment", action="append", metavar="NN",
                       help="only this assignment: 1, 01 or its name (why-async); repeatable")
    grade.add_argument("--tests", type=Path, help="the hidden-test folder (default: this repository's tests/)")
    grade.add_argument("--format", choices=FORMAT_NAMES, default="text")
    grade.add_argument("--output", type=Path, help="write the report here instead of standard output")
    grade.add_argument("--seed", type=int, help="run the tests in a random order from this seed")
    grade.add_argument("--record", metavar="URL",
                       help="also add this grading to the gradebook database at URL (sqlite:///PATH, a file path, "
                            "or postgresql://USER@HOST/DB), as batch does")
    grade.add_argument("--student", metavar="NAME",
                       help="with --record: whose grading it is (default: the submission folder's name)")
    _add_sandbox_options(grade, "course.toml's [grading] sandbox, else auto")
    _add_lang_option(grade)
    grade.set_defaults(run=_cmd_grade)

    report = commands.add_parser("report", help="render a saved result in another format (also batch's student files)")
    report.add_argument("results", type=Path,
                        help="a file written by grade --format json, or RESULTS/students/<student>.json from batch")
    report.add_argument("--format", choices=FORMAT_NAMES, default="text")
    report.add_argument("--output", type=Path, help="write the report here instead of standard output")
    _add_lang_option(report)
    report.set_defaults(run=_cmd_report)

    check = commands.add_parser("check", help="prove the course sound: solutions full marks, stubs zero")
    check.add_argument("--assignment", action="append", metavar="NN",
                       help="only this assignment: 1, 01 or its name (why-async); repeatable")
    check.add_argument("--tests", type=Path, help="the hidden-test folder (default: this repository's tests/)")
    check.add_argument("--repeat", type=_positive, default=1, help="grade the solutions N times in random order")
    _add_sandbox_options(check, "course.toml's [grading] sandbox, else auto")
    check.set_defaults(run=_cmd_check)

    publish = commands.add_parser("publish", help="write the student template, hidden-test bundle and platform autograders")
    publish.add_argument("--out", type=Path, required=True, help="an empty or new folder")
    publish.set_defaults(run=_delegate("instructor.publish"))

    batch = commands.add_parser("batch", help="grade a whole class in parallel")
    batch.add_argument("submissions", type=Path, help="a folder of student checkouts, or a roster file of git URLs")
    batch.add_argument("--out", type=Path, required=True, help="the results folder (one JSON file per student)")
    batch.add_argument("--workers", type=_positive, help="submissions graded at once (default: one per core)")
    batch.add_argument("--force", action="store_true", help="regrade submissions that did not change")
    batch.add_argument("--no-reuse", action="store_true",
                       help="run every file, even one identical to a file already graded in this batch")
    batch.add_argument("--tests", type=Path, help="the hidden-test folder (default: this repository's tests/)")
    batch.add_argument("--assignment", action="append", metavar="NN",
                       help="only this assignment: 1, 01 or its name (why-async); repeatable")
    batch.add_argument("--key", type=Path, metavar="FILE",
                       help="the key that seals results (default: $GRADER_KEY_FILE, else "
                            "$XDG_STATE_HOME/asyncio-course-grader/results.key); created on first use")
    batch.add_argument("--student-budget", type=_seconds, metavar="SECONDS",
                       help="real time one student's submission may take in all (default: course.toml's "
                            "[batch] student_budget, else 300); assignments past it are recorded as not graded")
    _add_sandbox_options(batch, "required: the grade of record")
    batch.add_argument("--cloned", action="store_true",
                       help="grade the roster's repositories as `clone` left them in OUT/checkouts; fetch nothing")
    batch.add_argument("--shard", type=_shard, metavar="K/N",
                       help="grade only slice K of N of the class (by a hash of each name); `merge` joins the slices")
    batch.add_argument("--previous", type=Path, metavar="RESULTS",
                       help="another results folder (e.g. the last merged one) whose sealed, unchanged results are "
                            "kept too, copied into OUT")
    batch.add_argument("--gradebook", metavar="URL",
                       help="the gradebook database every grading is added to (history): sqlite:///PATH, a file "
                            "path, or postgresql://USER@HOST/DB (default: course.toml's [gradebook] url, else "
                            "OUT/gradebook.sqlite)")
    batch.add_argument("--as-of", metavar="MOMENT",
                       help="grade each student's last commit the grader first saw by MOMENT, an ISO date and time "
                            "with time zone (2026-10-05T23:59:00+08:00); needs a roster and the gradebook")
    batch.add_argument("--extensions", type=Path, metavar="FILE",
                       help="per-student extensions, a CSV with header student,assignment,due,extra_days (one of "
                            "due and extra_days per row); course.toml's [deadlines] gives the due times")
    batch.set_defaults(run=_delegate("instructor.batch"))

    clone = commands.add_parser("clone", help="clone or update a roster's repositories (for batch --cloned)")
    clone.add_argument("roster", type=Path, help="a roster file of git URLs")
    clone.add_argument("--out", type=Path, required=True, help="the results folder: clones go to OUT/checkouts")
    clone.add_argument("--shard", type=_shard, metavar="K/N", help="only slice K of N of the roster (as batch --shard)")
    clone.set_defaults(run=_delegate_to("instructor.batch", "clone_command"))

    merge = commands.add_parser("merge", help="join the results of a class graded in slices (batch --shard)")
    merge.add_argument("submissions", type=Path, help="the roster (or folder) the slices were graded from")
    merge.add_argument("results", type=Path, nargs="+", help="the results folders of the slices")
    merge.add_argument("--out", type=Path, required=True, help="an empty or new folder for the merged results")
    merge.add_argument("--assignment", action="append", metavar="NN",
                       help="only this assignment: 1, 01 or its name (why-async); repeatable")
    merge.add_argument("--key", type=Path, metavar="FILE",
                       help="the key the slices sealed their records with (default: as batch); never created")
    merge.set_defaults(run=_delegate_to("instructor.shards", "merge_command"))

    shards = commands.add_parser("shards", help="plan a sharded batch: a GitHub Actions matrix of K/N slices")
    shards.add_argument("roster", type=Path, help="the roster (or folder) to grade")
    count = shards.add_mutually_exclusive_group()
    count.add_argument("--shards", type=_positive, help="this many slices")
    count.add_argument("--per-shard", type=_positive, default=150,
                       help="else one slice per this many students (default: 150)")
    shards.add_argument("--max-shards", type=_positive, default=20,
                        help="at most this many slices (default: 20, the jobs a free GitHub plan runs at once)")
    shards.set_defaults(run=_delegate_to("instructor.shards", "shards_command"))

    dashboard = commands.add_parser("dashboard", help="build the instructor's static dashboard from batch results")
    dashboard.add_argument("results", type=Path, help="a folder written by batch")
    dashboard.add_argument("--out", type=Path, required=True, help="the site folder")
    dashboard.add_argument("--nbgrader-db", type=Path, help="also write the grades into this nbgrader gradebook")
    dashboard.add_argument("--key", type=Path, metavar="FILE",
                           help="the key batch sealed the results with, to verify them (default: $GRADER_KEY_FILE, "
                                "else $XDG_STATE_HOME/asyncio-course-grader/results.key)")
    dashboard.add_argument("--gradebook", metavar="URL",
                           help="the gradebook database each student's history is read from: sqlite:///PATH, a file "
                                "path, or postgresql://USER@HOST/DB (default: course.toml's [gradebook] url, else "
                                "RESULTS/gradebook.sqlite; without one the pages say there is no history)")
    dashboard.add_argument("--lang", metavar="LANG",
                           help="the language of the students' pages: en or zh_CN (default: course.toml's [course] "
                                "language, else en); the class and assignment pages are in English")
    dashboard.set_defaults(run=_delegate("instructor.dashboard"))

    similarity = commands.add_parser("similarity", help="find pairs of submissions whose code is unusually alike")
    similarity.add_argument("submissions", type=Path,
                            help="a folder of student checkouts, or the results folder of a roster's batch")
    similarity.add_argument("--out", type=Path, required=True, help="the report folder (HTML pages and JSON)")
    similarity.add_argument("--assignment", action="append", metavar="NN",
                            help="only this assignment: 1, 01 or its name (why-async); repeatable")
    similarity.add_argument("--top", type=_positive, default=20, help="pairs reported per assignment (default: 20)")
    similarity.set_defaults(run=_delegate("instructor.similarity"))
    parser.epilog = _command_list(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    try:
        args = build_parser().parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        if getattr(args, "assignment", None):  # 1, 01 and why-async alike: every command then sees the id
            manifest = load_manifest(find_course_root(Path.cwd()))
            args.assignment = [assignment_id(manifest, name) for name in args.assignment]
        if args.command in GRADING_COMMANDS:
            # Before anything is graded: a grader that cannot run the tests would score everyone 0,
            # and one that cannot sandbox them when asked to produces no grade of record.
            root = find_course_root(Path.cwd())
            mode = sandbox_mode(args, root)
            require_usable(root, sandbox=mode)
            _decide_sandbox(args, mode)
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EnvironmentFault as exc:
        print(f"environment error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        return 128 + exc.signum  # batch has said what it left ungraded
    except CourseError as exc:
        print(f"course error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
