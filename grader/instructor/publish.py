"""``python -m grader publish --out DIR``: everything that leaves the instructor's repository.

- ``DIR/template/``: the student template repository (course.toml, the
  assignments' READMEs, stubs and public tests, the test kit, the grader, the
  grading workflow, a student README (and the course's README.zh-CN.md, the
  same in Simplified Chinese), pyproject.toml, .gitignore). No
  solutions, no hidden tests, no instructor-only files.
- ``DIR/template-classroom50/``: the same template for Classroom 50, without
  the grading workflow (Classroom 50 adds its own to every student
  repository, and a second one would grade every push twice).
- ``DIR/hidden-tests/``: ``tests/NN/test_hidden_*.py`` for a private
  repository, which the students' grading workflow fetches.
- ``DIR/classroom50/autograders/<slug>/``: one Classroom 50 autograder per
  assignment.
- ``DIR/gradescope/``: Gradescope autograder zips, one for the whole course
  and one per assignment.

Nothing is published from a course whose stubs are stale, and when a leak
check fails nothing is left behind.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader import stubs
from grader.catalog import CourseError
from grader.errors import UsageError
from grader.manifest import MANIFEST_NAME, Manifest, find_course_root, load_manifest
from grader.platforms import bundle, leaks, student_files
from grader.report.gradescope import hidden_visibility

PLATFORMS = Path(__file__).resolve().parent.parent / "platforms"
WORKFLOW = Path(".github") / "workflows" / "classroom.yml"
CLASSROOM50_TEMPLATE = "template-classroom50"
CHINESE_README = "README.zh-CN.md"  # the student README in Simplified Chinese, copied into the template
# Step 5 of its student guide (pushing, the Autograding workflow), up to step 6.
CHINESE_GRADING_STEP = re.compile(r"^5\. .*?(?=^6\. )", re.S | re.M)
CHINESE_CLASSROOM50_STEP = """\
5. 提交（`gh student submit`；如果你的课程对每次推送都评分，推送即可）。Classroom 50 为这次提交评分：
   运行公开测试，以及你的课程的隐藏测试，并把你的分数和反馈发布为这次提交的 release。
   对于隐藏测试，你能看到它的名字、它期望什么，以及你的代码抛出了什么，但永远看不到它的源代码。
"""
# Course folders that publishing reads: the output must not be inside one.
SOURCES = ("assignments", "coursekit", "grader", "solutions", "tests", ".github")
# Files that are the instructor's alone, wherever they are.
INSTRUCTOR_ONLY = ("conftest.py", "dev.py")
GRADESCOPE_FILES = {  # bundle name -> file in grader/platforms
    "setup.sh": "gradescope_setup.sh",
    "run_autograder": "gradescope_run_autograder.sh",
    "gradescope_autograder.py": "gradescope_autograder.py",
}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same course always gives the same zip


def command(args: argparse.Namespace) -> int:
    """Publish the course into ``args.out``, an empty or new folder."""
    out: Path = args.out
    manifest = load_manifest(find_course_root(Path.cwd()))
    _require_empty(out, manifest.root)
    _require_publishable(manifest)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        lines = publish(manifest, out)
    except OSError as exc:
        _discard(out, created)
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(out, created)
        raise
    for line in lines:
        print(line)
    return 0


def _require_empty(out: Path, root: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"--out {out} is not empty: publish writes into an empty or new folder")
    target = out.resolve()
    for name in SOURCES:
        if target.is_relative_to(root / name):
            raise UsageError(f"--out {out} is inside the course's {name}/: choose a folder outside it")


def _require_publishable(manifest: Manifest) -> None:
    stale = stubs.stale_stubs(manifest)
    if stale:
        names = ", ".join(str(p.relative_to(manifest.root)) for p in stale)
        raise CourseError(f"stale stubs ({names}): run `python -m grader stubs` before publishing")
    for a in manifest.assignments:
        if not list((manifest.root / "tests" / a.id).glob("test_*.py")):
            print(f"warning: {a.id} has no hidden tests; its autograders grade the public tests only",
                  file=sys.stderr)


def _discard(out: Path, created: bool) -> None:
    """Remove what this run wrote (the folder was empty before it)."""
    if not out.is_dir():
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if created:
        out.rmdir()


def publish(manifest: Manifest, out: Path) -> list[str]:
    """Write every published part into the empty folder ``out``; one line per part, for the user."""
    secrets = leaks.Secrets.of(manifest)
    requirements = _requirements(manifest.root)
    write_template(manifest, out / "template")
    _check(out / "template", secrets.template, allow_tests=False)
    write_template(manifest, out / CLASSROOM50_TEMPLATE, classroom50=True)
    _check(out / CLASSROOM50_TEMPLATE, secrets.template, allow_tests=False)
    hidden = write_hidden_tests(manifest, out / "hidden-tests")
    slugs = write_classroom50(manifest, out / "classroom50", requirements, secrets.bundles)
    zips = write_gradescope(manifest, out / "gradescope", requirements, secrets.bundles)
    (out / "README.md").write_text(_index(manifest), encoding="utf-8")
    return [
        f"wrote {out / 'template'}: the student template ({len(manifest.assignments)} assignments)",
        f"wrote {out / CLASSROOM50_TEMPLATE}: the student template for Classroom 50 (no grading workflow)",
        f"wrote {out / 'hidden-tests'}: {hidden} hidden test files, for a private repository",
        f"wrote {out / 'classroom50' / 'autograders'}: {len(slugs)} Classroom 50 autograders ({', '.join(slugs)})",
        f"wrote {out / 'gradescope'}: {len(zips)} Gradescope autograder zips",
        f"what goes where: {out / 'README.md'}",
    ]


def _requirements(root: Path) -> list[str]:
    """The course's pinned runtime dependencies, from its pyproject.toml."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        return [str(item) for item in data["project"]["dependencies"]]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise CourseError(f"cannot read the dependencies of {root / 'pyproject.toml'}: {exc}") from None


def _check(folder: Path, secret_lines: frozenset[str], *, allow_tests: bool) -> None:
    """Refuse to publish ``folder`` if it holds a secret line, a solution marker or an instructor-only file."""
    problems = leaks.find_leaks(folder, secret_lines)
    problems += [f"{p.relative_to(folder)}: instructor-only file" for p in folder.rglob("*") if p.name in INSTRUCTOR_ONLY]
    problems += [f"{name}/: instructor-only folder" for name in ("solutions", *(() if allow_tests else ("tests",)))
                 if (folder / name).exists()]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CourseError(f"refusing to publish {folder.name}: {problems[0]}{more}")


def write_template(manifest: Manifest, dest: Path, *, classroom50: bool = False) -> None:
    """The student template repository; for Classroom 50 (``classroom50``), without the grading workflow."""
    root = manifest.root
    dest.mkdir()
    shutil.copyfile(root / MANIFEST_NAME, dest / MANIFEST_NAME)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", *INSTRUCTOR_ONLY)
    for a in manifest.assignments:
        shutil.copytree(root / "assignments" / a.id, dest / "assignments" / a.id, ignore=skip)
    for package in bundle.RUNTIME_PACKAGES:
        bundle.copy_package(bundle.RUNTIME_ROOT / package, dest / package)
    if not classroom50:
        (dest / WORKFLOW).parent.mkdir(parents=True)
        shutil.copyfile(root / WORKFLOW, dest / WORKFLOW)
    packages = sorted(".".join(p.parent.relative_to(dest).parts) for p in dest.rglob("__init__.py"))
    files = {
        "pyproject.toml": student_files.student_pyproject(root / "pyproject.toml", packages),
        "README.md": student_files.readme(manifest, root / "README.md", classroom50=classroom50),
        ".gitignore": student_files.gitignore(),
    }
    chinese = root / CHINESE_README
    if chinese.is_file():
        files[CHINESE_README] = _chinese_readme(chinese.read_text(encoding="utf-8"), classroom50=classroom50)
    for name, text in files.items():
        (dest / name).write_text(text, encoding="utf-8")


def _chinese_readme(text: str, *, classroom50: bool) -> str:
    """The course's Chinese student README for a template: as it is, except for Classroom 50,
    where step 5 of the guide says how Classroom 50 grades (the template has no workflow)."""
    if not classroom50:
        return text
    step, count = CHINESE_GRADING_STEP.subn(lambda _: CHINESE_CLASSROOM50_STEP, text)
    if count != 1:
        raise CourseError(f"{CHINESE_README}: the student guide has no step 5 to adapt for Classroom 50")
    return step


def write_hidden_tests(manifest: Manifest, dest: Path) -> int:
    """The hidden-test repository: ``tests/NN/test_*.py`` and a README; the number of test files."""
    count = 0
    for a in manifest.assignments:
        for path in sorted((manifest.root / "tests" / a.id).glob("test_*.py")):
            (dest / "tests" / a.id).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / "tests" / a.id / path.name)
            count += 1
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "README.md").write_text(HIDDEN_README.format(title=manifest.title), encoding="utf-8")
    return count


def write_classroom50(manifest: Manifest, dest: Path, requirements: list[str],
                      solution_lines: frozenset[str]) -> list[str]:
    """One Classroom 50 autograder folder per assignment; their slugs."""
    for a in manifest.assignments:
        folder = dest / "autograders" / a.slug
        bundle.write_bundle(folder, manifest, [a.id], requirements)
        _install(PLATFORMS / "classroom50_autograder.py", folder / "autograder.py")
        _check(folder, solution_lines, allow_tests=True)
    (dest / "README.md").write_text(CLASSROOM50_README.format(title=manifest.title), encoding="utf-8")
    return [a.slug for a in manifest.assignments]


def write_gradescope(manifest: Manifest, dest: Path, requirements: list[str],
                     solution_lines: frozenset[str]) -> list[Path]:
    """Gradescope's autograder.zip for the whole course, and one per assignment; the zips."""
    hidden_visibility(manifest.root)  # refuse a course.toml setting Gradescope would not accept, before zipping
    plan: list[tuple[list[str] | None, Path]] = [(None, dest / "autograder.zip")]
    plan += [([a.id], dest / a.slug / "autograder.zip") for a in manifest.assignments]
    with tempfile.TemporaryDirectory(prefix="publish-gradescope-") as tmp:
        for grades, target in plan:
            folder = Path(tmp) / target.parent.name
            bundle.write_bundle(folder, manifest, grades, requirements)
            for name, source in GRADESCOPE_FILES.items():
                _install(PLATFORMS / source, folder / name)
            _check(folder, solution_lines, allow_tests=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            _zip(folder, target)
    (dest / "README.md").write_text(GRADESCOPE_README.format(title=manifest.title), encoding="utf-8")
    return [target for _, target in plan]


def _install(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    target.chmod(0o755)


def _zip(folder: Path, target: Path) -> None:
    """A reproducible zip of ``folder``'s contents (at the zip's root), keeping the executable bits."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = (0o100755 if path.stat().st_mode & 0o100 else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _index(manifest: Manifest) -> str:
    return INDEX_README.format(title=manifest.title)


INDEX_README = """\
# {title}: what `python -m grader publish` wrote

| folder | what it is | where it goes |
|---|---|---|
| `template/` | the student template: assignments (instructions, stubs, public tests), the test kit, the grader, the *Autograding* workflow, a student README and packaging | a template repository students get their copy from |
| `template-classroom50/` | the same template without the *Autograding* workflow: Classroom 50 adds its own grading workflow to each student repository | the template repository of a Classroom 50 assignment |
| `hidden-tests/` | the hidden tests, for grading in students' repositories | a **private** repository, named in the students' `HIDDEN_TESTS_REPO` variable |
| `classroom50/autograders/<slug>/` | one Classroom 50 autograder per assignment | the classroom's config repository, as `<classroom>/autograders/<slug>/` |
| `gradescope/autograder.zip`, `gradescope/<slug>/autograder.zip` | Gradescope autograders: the whole course, or one assignment | a Gradescope programming assignment's autograder |

Each folder's README says how to set it up. Anything students can read (their
repository, a workflow's checkout, Classroom 50's bundles) deters rather than
hides: grade centrally (`python -m grader batch`) for the grade of record.
"""

HIDDEN_README = """\
# {title}: hidden tests

`tests/NN/test_hidden_*.py`: the hidden tests of each assignment, for grading in
students' repositories. **Keep this in a private repository**: whoever can read
it can read the tests.

The students' *Autograding* workflow (`.github/workflows/classroom.yml`) checks
this repository out as `.hidden-tests` and grades with `--tests .hidden-tests/tests`
when the students' repositories (or their organisation) have:

- the variable `HIDDEN_TESTS_REPO`: this repository's `owner/name`;
- the secret `HIDDEN_TESTS_TOKEN`: a read-only token for it (fine-grained, contents: read).

A workflow in a student's repository can read what it fetches, so a determined
student can read these tests too: in-repository grading is instant feedback,
and the grade of record comes from grading centrally.
"""

CLASSROOM50_README = """\
# {title}: Classroom 50 autograders

`autograders/<slug>/`: one autograder per assignment, named by the assignment's
slug in course.toml. Copy each folder into the classroom's config repository
as `<classroom>/autograders/<slug>/`. The folder's name must be the Classroom 50
assignment's slug: rename it if yours differs (`bundle.json`, not the name,
says which assignment it grades). Make the assignment's template repository
from `template-classroom50/` (beside this folder): it has no grading workflow
of its own, since Classroom 50 adds one to every student repository.

Classroom 50 runs `python3 autograder.py` with the student's checkout as the
working directory and the folder in `CLASSROOM50_BUNDLE_DIR`. The autograder
grades the checkout's `assignments/NN/<module>.py` with the folder's own grader,
test kit, course.toml, public and hidden tests: nothing else of the checkout
is read, so a changed test, a `conftest.py` or an edited grader in it changes
nothing. It writes `result.json` (valid against Classroom 50's result-v1
schema: public and hidden tests, their points and feedback, never a hidden
test's source), `release-body.md`, and the commit status with a summary of at
most 140 characters. It always exits 0; when grading itself fails, the status
is `error`, the summary says why in one line, and result.json has no score.

**Python and packages.** Classroom 50's runtime installs no Python packages,
so the autograder provisions its own: when the Python that runs it lacks the
course's pinned packages (each folder's `requirements.txt`), it builds a
virtual environment with them from PyPI (about 15 s), kept in
`~/.cache/asyncio-course` (a self-hosted runner reuses it; a GitHub-hosted one
starts afresh each job), and grades there. The course runs on Python 3.11 to
3.13: set the assignment's runtime `python` to `"3.13"` in `assignments.json`.
Left at Classroom 50's default (3.14), the autograder builds its environment
with a Python 3.11-3.13 the runner also has (Ubuntu 24.04 runners have
`/usr/bin/python3.12`), and fails with one line saying to set `"3.13"` when
there is none.

**Trade-off.** Students can read Classroom 50's bundles, hidden tests included:
like any grading in the student's repository, this deters rather than hides,
and it runs without the operating-system sandbox (every result says so).
"""

GRADESCOPE_README = """\
# {title}: Gradescope autograders

- `<slug>/autograder.zip` grades one assignment: use one per Gradescope
  assignment. Students may upload their whole repository (from GitHub or as a
  zip) or just the assignment's `<module>.py`.
- `autograder.zip` grades every assignment the upload holds (all of them, as
  missing, when it holds none): for one Gradescope assignment that covers the
  course, or uploads of loose module files.

Upload the zip as the autograder of a Gradescope programming assignment, on an
Ubuntu base image. `setup.sh` makes a Python 3.11 to 3.13 environment in
`/autograder/venv` (from the deadsnakes archive when the image's Python is
older) with the course's pinned `requirements.txt`. `run_autograder` grades
`/autograder/submission` with the zip's own course copy, hidden tests included,
and writes `/autograder/results/results.json` (Markdown feedback; per
assignment, public tests first, numbered `NN.k`). Public tests are visible at
once; hidden ones are released `after_due_date` (their names and feedback,
never their source). For `after_published`, or `hidden` (never shown, which
also hides the total score from students), set `[gradescope]
hidden_visibility` in course.toml before publishing. When grading itself
fails, the autograder writes no results.json: Gradescope shows "The
autograder failed to execute correctly" and no score, and the instructor sees
the reason in the autograder output.

To try it locally: unzip into `ROOT/source`, put an upload in `ROOT/submission`,
and run `AUTOGRADER_ROOT=ROOT AUTOGRADER_PYTHON=$(which python3) ROOT/source/run_autograder`
with a Python that has the requirements.
"""
