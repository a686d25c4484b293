"""The tests' own texts in Chinese: catalogs that follow the tests, translated in full, and read where shown.

coursekit.test_texts extracts what each test tells a student (its docstring,
its assertion and helper messages) into ``assignments/NN/locale`` (public)
and ``tests/NN/locale`` (hidden). These tests fail when a test's text changes
and its catalog does not (``python3 dev.py texts``), when a text has no
Chinese, other placeholders or an English sentence left, and when a graded or
local run in Chinese still shows a test's English.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
from repo_support import ROOT, english_left, run_grader

from coursekit import i18n
from coursekit.i18n import read_po
from coursekit.test_texts import (
    LOCALE, POT_NAME, catalog_folders, catalog_problems, catalog_texts, locale_of, pot_text, template,
)

FOLDERS = catalog_folders(ROOT)
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\w+\}")


def test_every_test_folder_has_its_catalogs() -> None:
    assert sorted(FOLDERS) == sorted([f"{kind}/{i:02d}" for kind in ("assignments", "tests") for i in range(1, 10)]
                                     + ["coursekit"])
    for name, folder in FOLDERS.items():
        assert (locale_of(folder) / POT_NAME).is_file() and (locale_of(folder) / "zh_CN.po").is_file(), name


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_catalogs_follow_the_tests(name: str) -> None:
    """tests.pot is what the test modules say now, and zh_CN.po has exactly its msgids, in its order."""
    folder = FOLDERS[name]
    texts = catalog_texts(ROOT, folder)
    assert (locale_of(folder) / POT_NAME).read_text(encoding="utf-8") == pot_text(texts), (
        f"{name}: a test's text changed; run `python3 dev.py texts`, then translate what it reports")
    chinese = read_po((locale_of(folder) / "zh_CN.po").read_text(encoding="utf-8"), translated=False)
    assert [m for m in chinese if m] == [t.msgid for t in texts]


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_every_text_has_its_chinese(name: str) -> None:
    """Each msgid is translated, with the same placeholders, and no English sentence is left in it."""
    every = read_po((locale_of(FOLDERS[name]) / "zh_CN.po").read_text(encoding="utf-8"), translated=False)
    done = read_po((locale_of(FOLDERS[name]) / "zh_CN.po").read_text(encoding="utf-8"))
    problems = {}
    for msgid in filter(None, every):
        msgstr = done.get(msgid, "")
        if not msgstr:
            problems[msgid] = "untranslated"
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
            problems[msgid] = f"placeholders {PLACEHOLDER.findall(msgstr)}"
        elif english_left(msgstr):
            problems[msgid] = f"English left: {english_left(msgstr)}"
    assert problems == {}


def test_hidden_texts_are_not_in_the_public_catalogs() -> None:
    """What only a hidden test says stays out of assignments/NN/locale, which is published with the template."""
    for number in range(1, 10):
        public = FOLDERS[f"assignments/{number:02d}"] / LOCALE
        hidden = read_po((FOLDERS[f"tests/{number:02d}"] / LOCALE / POT_NAME).read_text(encoding="utf-8"),
                         translated=False)
        published = public.joinpath(POT_NAME).read_text(encoding="utf-8") + \
            public.joinpath("zh_CN.po").read_text(encoding="utf-8")
        own = {t.msgid for t in catalog_texts(ROOT, FOLDERS[f"assignments/{number:02d}"])}
        leaked = [m for m in hidden if m and m not in own and f'"{m}"' in published]
        assert leaked == [], number


@pytest.mark.parametrize(("source", "msgid"), [
    ('f"schedule should return after {delay:g} s, returned at {took!r} s"',
     "schedule should return after {delay} s, returned at {took} s"),
    ('f"expected {result.value!r}, got {values[0]}"', "expected {value}, got {values}"),
    ('f"now is {now:%H:%M} at UTC{now:%z}"', "now is {now} at UTC{now2}"),  # one value shown two ways: two names
    ('f"GET /users/{{id}} once per id, got {paths}"', "GET /users/{{id}} once per id, got {paths}"),
    ('"expected at most 3, saw " + str(peak) + (" Never more." if peak else "")', "expected at most 3, saw {str}{value}"),
    ('"returned {got}, expected a list"', "returned {got}, expected a list"),  # a str.format template
    ('f"fetch_sync({label!r}, {delay})"', None),  # code, shown as it is
    ('"ok"', None),
])
def test_a_message_becomes_its_template(source: str, msgid: str | None) -> None:
    assert template(ast.parse(source, mode="eval").body) == msgid


def test_a_template_is_recognised_in_the_english_and_reworded(tmp_path) -> None:
    """localize finds a test's message by its template, literal braces included, and fills in the same values."""
    locale = tmp_path / LOCALE
    locale.mkdir()
    texts = ["GET /users/{{id}} once per id, got {paths}", "Twelve names come back in order."]
    (locale / POT_NAME).write_text("".join(f'msgid "{t}"\nmsgstr ""\n\n' for t in texts), encoding="utf-8")
    (locale / "zh_CN.po").write_text('msgid "GET /users/{{id}} once per id, got {paths}"\n'
                                     'msgstr "每个 id 应 GET /users/{{id}} 一次，实际为 {paths}"\n\n'
                                     'msgid "Twelve names come back in order."\nmsgstr "十二个名字按顺序返回。"\n',
                                     encoding="utf-8")
    i18n.use_test_catalogs([locale])
    with i18n.language("zh_CN"):
        shown = i18n.localize("Expected: Twelve names come back in order.\nGET /users/{id} once per id, got ['/users/1']")
    assert shown == "预期：十二个名字按顺序返回。\n每个 id 应 GET /users/{id} 一次，实际为 ['/users/1']"


@pytest.mark.slow
def test_every_stub_graded_in_chinese_reads_chinese() -> None:
    """Every assignment's stub graded with COURSE_LANG=zh_CN: each failing test's feedback (its expectation, its
    message, the hint) reads Chinese; what stays Latin is code, identifiers and the student's own exception."""
    done = run_grader("grade", "--no-sandbox", env={"COURSE_LANG": "zh_CN"})
    assert done.returncode == 0, done.stderr
    left = {}
    for line in done.stdout.splitlines():
        # The student's own exception, and where their code raised it ("why_async.py:16 in fetch_sync").
        body = re.sub(r"NotImplementedError(: .*)?|[\w/]+\.py:\d+ in \w+", "", line)
        if english_left(body):
            left[line] = english_left(body)
    assert left == {}, f"{len(left)} lines with English"


def test_a_local_run_in_chinese_says_what_the_test_expected() -> None:
    """``pytest assignments/01`` with COURSE_LANG=zh_CN: a failing test's expectation in Chinese, in its own
    section under pytest's report."""
    done = subprocess.run([sys.executable, "-m", "pytest", "assignments/01", "-q", "-x", "-p", "no:randomly"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_LANG": "zh_CN"})
    section = re.search(r"-+ 测试的说明 -+\n(.*?)\n-+ 提示", done.stdout, re.DOTALL)
    assert section, done.stdout[-3000:]
    assert section.group(1).startswith("预期：") and not english_left(section.group(1)), section.group(1)


def test_a_fragment_is_read_only_inside_a_message(tmp_path) -> None:
    """A what= label ("get_json on a {status}") is recognised as the value of another message's placeholder,
    never as a whole line, where its own placeholder would swallow the sentence around it."""
    locale = tmp_path / LOCALE
    locale.mkdir()
    label, sentence = "get_json on a {status}", "{what} should raise {kind}; it raised {other}"
    (locale / POT_NAME).write_text(f'#. fragment\nmsgid "{label}"\nmsgstr ""\n\nmsgid "{sentence}"\nmsgstr ""\n',
                                   encoding="utf-8")
    (locale / "zh_CN.po").write_text(f'msgid "{label}"\nmsgstr "遇到 {{status}} 的 get_json 调用"\n\n'
                                     f'msgid "{sentence}"\nmsgstr "{{what}}应抛出 {{kind}}；它却抛出了 {{other}}"\n',
                                     encoding="utf-8")
    i18n.use_test_catalogs([locale])
    with i18n.language("zh_CN"):
        shown = i18n.localize("get_json on a 400 should raise ApiError; it raised KeyError")
    assert shown == "遇到 400 的 get_json 调用应抛出 ApiError；它却抛出了 KeyError"


def test_what_labels_and_conditional_phrases_are_fragments() -> None:
    """The extractor marks what a message is built from, and only that, as a fragment."""
    texts = {t.msgid: t.fragment for t in catalog_texts(ROOT, FOLDERS["tests/08"])}
    assert texts["no name"] is True  # N_-marked, inserted as {why}
    assert any(fragment for fragment in texts.values()) and not all(texts.values())
    docstrings = [m for m in texts if m.startswith("POST /items answers 400 when name is missing")]
    assert docstrings and texts[docstrings[0]] is False


def test_a_failure_is_reworded_where_pytest_shows_it() -> None:
    """In a local run in Chinese, the test's own message is reworded in the exception itself, before pytest
    renders its "E  AssertionError: ..." line; pytest's explanation (code) after it stays as it is."""
    from coursekit.pytest_plugin import _reword

    i18n.use_test_catalogs([FOLDERS["assignments/02"] / LOCALE])
    english = "greet('Ada', 2) should be 'Hello, Ada!', got 'Hi, Ada!'"
    error = AssertionError(english + "\nassert 'Hi, Ada!' == 'Hello, Ada!'")
    failed = pytest.fail.Exception(english)
    with i18n.language("zh_CN"):
        _reword(error)
        _reword(failed)
    assert error.args[0].endswith("\nassert 'Hi, Ada!' == 'Hello, Ada!'")
    for shown in (error.args[0].split("\n")[0], failed.msg):
        assert shown != english and "应当是" in shown and not english_left(re.sub(r"'[^']*'", "", shown)), shown
    with i18n.language("en"):
        untouched = AssertionError(english)
        _reword(untouched)
    assert untouched.args == (english,)


def test_the_check_command_finds_what_the_tests_find(tmp_path) -> None:
    """``grader check`` runs the same check: nothing to report in the course, and in a copy whose test changed
    its docstring, the stale catalog and the text with no Chinese."""
    import shutil

    assert catalog_problems(ROOT) == []
    (tmp_path / "coursekit").mkdir()
    shutil.copytree(ROOT / "coursekit" / LOCALE, tmp_path / "coursekit" / LOCALE)
    shutil.copy(ROOT / "course.toml", tmp_path / "course.toml")
    shutil.copytree(ROOT / "assignments" / "01", tmp_path / "assignments" / "01",
                    ignore=shutil.ignore_patterns("__pycache__"))
    test = next((tmp_path / "assignments" / "01").glob("test_*.py"))
    source = test.read_text(encoding="utf-8")
    doc = ast.get_docstring(next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)
                                 and n.name.startswith("test_")))
    test.write_text(source.replace(doc, doc + " Reworded."), encoding="utf-8")
    problems = catalog_problems(tmp_path)
    assert any("assignments/01/locale/tests.pot: not what the tests say now" in p for p in problems), problems
