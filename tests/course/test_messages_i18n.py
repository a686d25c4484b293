"""The messages students read from the grader and the test kit, in English and Simplified Chinese.

The catalogs (coursekit/locale) are keyed by the English text: these checks
fail when a message in the code has no entry in messages.pot (Babel's
extraction is run here and compared), when an entry of the Chinese catalog is
missing, fuzzy, left in English, or has other placeholders than its English,
and when the grader's scoring writes a message that no template recognises.
Then the two languages end to end: the same stub graded with either gives
the same scores, and the Chinese report and local pytest run read Chinese.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from coursekit import hints, i18n
from grader import score
from grader.catalog import Entry
from grader.manifest import Assignment, Limits
from grader.model import AssignmentResult, GradeResult
from grader.model import TestResult as Result  # not a test class
from grader.report import markdown, text
from grader.run import RunOutput
from repo_support import ROOT, english_left, run_grader

LOCALE = ROOT / "coursekit" / "locale"
POT = LOCALE / "messages.pot"
ZH_PO = LOCALE / "zh_CN" / "LC_MESSAGES" / "messages.po"
# Where messages are marked: the test kit and the grader's report (its renderers and wording).
SOURCES = (ROOT / "coursekit", ROOT / "grader" / "report", ROOT / "grader" / "instructor")

PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
def extracted() -> set[str]:
    """The msgids Babel finds in the sources now (its default keywords: ``_``, ``N_``, ``gettext``, ...)."""
    found = set()
    for folder in SOURCES:
        for _filename, _lineno, message, _comments, _context in extract_from_dir(folder):
            found.add(message)
    return found


def catalog(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) of a .po or .pot, as Babel reads it."""
    with path.open("rb") as f:
        return {m.id: (m.string, m.fuzzy) for m in read_po(f) if m.id}


def test_messages_pot_lists_every_marked_message():
    """The committed template is what Babel extracts from the code now: a new or reworded message is in it."""
    assert set(catalog(POT)) == extracted(), "run the extraction in the README's Languages section"


def test_every_message_marked_at_run_time_is_in_the_template():
    """What the modules mark when imported (N_) is what Babel extracts: nothing is marked by a name it misses."""
    import coursekit.pytest_plugin  # noqa: F401  (marks the section title)

    assert set(i18n.marked()) <= set(catalog(POT))
    assert set(i18n.marked()) >= {m for m in catalog(POT) if m.startswith(("Hint", "Your code", "[{mark}]"))}


def test_chinese_catalog_translates_every_message():
    """Every msgid has a Chinese msgstr, not fuzzy, and no entry is left over from a message that is gone."""
    template, chinese = catalog(POT), catalog(ZH_PO)
    assert set(chinese) == set(template)
    assert [m for m, (s, fuzzy) in chinese.items() if not s or fuzzy] == []


def test_placeholders_are_the_same_in_both_languages():
    """{name} and %s fields: the same ones, as many times, in the English and the Chinese."""
    differ = [(m, s) for m, (s, _) in catalog(ZH_PO).items()
              if sorted(PLACEHOLDER.findall(m)) != sorted(PLACEHOLDER.findall(s))]
    assert differ == []


def test_no_chinese_message_is_left_in_english():
    """Each msgstr is Chinese: it differs from the English, and no English sentence is left in it."""
    left = {m: english_left(s) for m, (s, _) in catalog(ZH_PO).items() if english_left(s)}
    assert left == {}
    same = [m for m, (s, _) in catalog(ZH_PO).items() if s == m and re.search("[A-Za-z]{2,}", PLACEHOLDER.sub("", m))]
    assert same == []


def test_english_left_is_caught():
    """The check above is not blind: a sentence, even half translated, is found; code and names are not."""
    assert english_left("请关闭会话 before it returns")
    assert english_left("do this: 请关闭")
    assert not english_left("请用 `async with aiohttp.ClientSession() as session:` 关闭 aiohttp 会话（\"File too large\"）")


def test_the_runtime_reads_the_catalog_as_babel_does():
    """coursekit.i18n compiles the .po with the standard library alone; it gives what Babel's compiled .mo gives."""
    import gettext

    with ZH_PO.open("rb") as f:
        babel_catalog = read_po(f)
    compiled = io.BytesIO()
    write_mo(compiled, babel_catalog)
    compiled.seek(0)
    babel = gettext.GNUTranslations(compiled)
    ours = i18n.translations("zh_CN")
    for msgid in catalog(POT):
        assert ours.gettext(msgid) == babel.gettext(msgid), msgid


def test_read_po_leaves_out_fuzzy_and_empty_entries():
    """A fuzzy or empty msgstr is no translation: it falls back to English, like a missing one."""
    text = ('msgid "a"\nmsgstr "甲"\n\n#, fuzzy\nmsgid "b"\nmsgstr "乙"\n\nmsgid "c"\nmsgstr ""\n\n'
            'msgid ""\n"long "\n"one"\nmsgstr ""\n"长"\n"的"\n')
    assert i18n.read_po(text) == {"a": "甲", "long one": "长的"}
    assert set(i18n.read_po(text, translated=False)) == {"a", "b", "c", "long one"}


# --- which language ---------------------------------------------------------------

@pytest.mark.parametrize(("flag", "env", "course", "expected"), [
    (None, {}, None, "en"),  # nothing set: English
    (None, {}, "zh_CN", "zh_CN"),  # course.toml's default
    (None, {"LANG": "en_US.UTF-8"}, "zh_CN", "en"),  # the student's LANG over the course
    (None, {"LANG": "zh_CN.UTF-8"}, None, "zh_CN"),
    (None, {"LANG": "C.UTF-8"}, "zh_CN", "zh_CN"),  # C/POSIX names no language (CI runners): not a choice
    (None, {"LANG": "POSIX"}, None, "en"),
    (None, {"COURSE_LANG": "zh_CN", "LANG": "en_US.UTF-8"}, "en", "zh_CN"),  # COURSE_LANG before LANG
    (None, {"COURSE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "zh_CN", "en"),
    ("en", {"COURSE_LANG": "zh_CN"}, "zh_CN", "en"),  # --lang over everything
    ("zh-CN", {"COURSE_LANG": "en"}, None, "zh_CN"),
    (None, {"COURSE_LANG": "fr_FR.UTF-8"}, "zh_CN", "en"),  # a language with no catalog: English
    (None, {"COURSE_LANG": "zh"}, None, "zh_CN"),
    (None, {"COURSE_LANG": "zh_TW"}, None, "en"),  # Traditional Chinese is not Simplified: no catalog yet
])
def test_language_precedence(flag, env, course, expected):
    """--lang, then COURSE_LANG, then LANG (unless C/POSIX), then course.toml, then English."""
    assert i18n.choose(flag=flag, env=env, course=course) == expected


def test_course_toml_language_is_read(tmp_path):
    """``[course] language`` of course.toml; none when unset or unreadable."""
    assert i18n.course_language(tmp_path) is None
    (tmp_path / "course.toml").write_text('[course]\ntitle = "t"\nlanguage = "zh_CN"\n', encoding="utf-8")
    assert i18n.course_language(tmp_path) == "zh_CN"
    assert i18n.course_language(ROOT) in (None, "en", "zh_CN")


def test_a_missing_translation_falls_back_to_english_and_is_counted():
    """A msgid with no Chinese entry is shown in English, and missing() names it."""
    message = "a message no catalog has (test_messages_i18n)"
    with i18n.language("zh_CN"):
        assert i18n._(message) == message
        assert i18n._(hints.SEQUENTIAL) != hints.SEQUENTIAL
    assert i18n.missing().get(("zh_CN", message)) == 1
    assert ("zh_CN", hints.SEQUENTIAL) not in i18n.missing()
    assert i18n.missing_count() >= 1
    with i18n.language("en"):
        assert i18n._(hints.SEQUENTIAL) == hints.SEQUENTIAL


# --- the grader's messages: made in English, shown in the student's language -------

def localized(message: str) -> str:
    with i18n.language("zh_CN"):
        return i18n.localize(message)


def test_localize_rewords_nested_messages_and_leaves_the_rest():
    """A template's values are localized too; a line no template knows (a test's own message) is left as it is."""
    feedback = ("Expected: fetch returns the body.\n"
                "Your code raised BlockingCallError at m.py:3: time.sleep(1) was called inside a coroutine, "
                f"while the event loop was running\nHint: {hints.BLOCKING}")
    lines = localized(feedback).splitlines()
    assert lines == ["预期：fetch returns the body.",
                     "你的代码在 m.py:3 抛出了 BlockingCallError：在事件循环运行期间，协程里调用了 time.sleep(1)",
                     f"提示：{i18n.translations('zh_CN').gettext(hints.BLOCKING)}"]
    assert localized("expected 3, got 4") == "expected 3, got 4"
    assert i18n.localize(feedback) == feedback  # English: nothing changes


LIMITS = Limits()
ASSIGNMENT = Assignment(id="01", slug="s", title="T", module="m.py", article="", topics="")
ENTRIES = [Entry("tests/01/test_m.py::test_a", "test_a", "hidden", 5, "a works.")]


def _run(**changes) -> RunOutput:
    return RunOutput(**{"records": [], "returncode": 1, "killed": False, "duration": 1.0, **changes})


def score_messages() -> list[str]:
    """What grader/score.py writes for each way a run can end and a test can fail (the fixed parts)."""
    ends = [
        score.process_end(_run(), LIMITS, complete=False, stuck="tests/01/test_m.py::test_a"),
        score.process_end(_run(watchdog_fired=True), LIMITS, complete=False),
        score.process_end(_run(killed=True), LIMITS, complete=False),
        score.process_end(_run(output_exceeded=True), LIMITS, complete=False),
        score.process_end(_run(report_exceeded=True), LIMITS, complete=False),
        score.process_end(_run(returncode=-25), LIMITS, complete=False),
        score.process_end(_run(returncode=-9), LIMITS, complete=False),
        score.process_end(_run(returncode=3), LIMITS, complete=False),
        score.process_end(_run(returncode=2), LIMITS, complete=False),
        score.process_end(_run(returncode=7), LIMITS, complete=False),
    ]
    messages = [end.message for end in ends if end is not None]
    assert len(messages) == len(ends)
    phase = {"kind": "phase", "nodeid": ENTRIES[0].nodeid}
    start = {"kind": "start", "nodeid": ENTRIES[0].nodeid}
    runs = [
        [start, {**phase, "when": "call", "outcome": "failed", "type": "NotImplementedError", "message": "",
                 "where": "m.py:3"}],
        [start, {**phase, "when": "call", "outcome": "failed", "type": "AssertionError", "message": ""}],
        [start, {**phase, "when": "call", "outcome": "failed", "type": "Failed", "message": "Timeout (>5.0s)"}],
        [start, {**phase, "when": "call", "outcome": "failed", "type": "OSError", "message": "File too large"}],
        [start, {**phase, "when": "setup", "outcome": "skipped"}],
        [{"kind": "module_error", "type": "SyntaxError", "message": "bad", "where": "m.py:1"}],
        [],
    ]
    for records in runs:
        result = score.grade_run(ASSIGNMENT, ENTRIES, [_run(records=records, returncode=1)], LIMITS)
        messages += [result.message, *(t.feedback for t in result.tests)]
    two = score.grade_run(ASSIGNMENT, ENTRIES, [_run(returncode=-9), _run(returncode=-9), _run(returncode=-9)], LIMITS)
    messages += [two.message, *(t.feedback for t in two.tests)]
    messages += [score.missing(ASSIGNMENT, ENTRIES, None).message,
                 score.tampered(ASSIGNMENT, ENTRIES, ["a.py"]).message]
    return messages


def test_every_message_of_the_scoring_is_recognised():
    """Each message score.py writes is a template's English: shown in Chinese, no English sentence is left.

    This fails when score.py rewords a message and grader/report/wording.py's template is not changed with it.
    """
    import grader.report.wording  # noqa: F401

    left = {}
    for message in score_messages():
        for line in localized(message).splitlines():
            # The test's own docstring stays English for now; the student's exception text is theirs.
            body = line.removeprefix("预期：").replace("OSError: File too large", "")
            if english_left(body) and body != "a works.":
                left[line] = english_left(body)
    assert left == {}


# --- end to end --------------------------------------------------------------------

def _result() -> GradeResult:
    tests = (Result("test_a", "hidden", "failed", 0.0, 5.0, f"Expected: a works.\nHint: {hints.NOT_AWAITED}"),
             Result("test_b", "public", "passed", 5.0, 5.0, "b works."))
    a = AssignmentResult("01", "Why asynchronous?", 5.0, 10.0, "graded", "1/2 tests passed", tests, 90.0)
    return GradeResult((a,), hidden_tests_included=False)


@pytest.mark.parametrize("render", [lambda r: text.render(r, {}), lambda r: markdown.render(r, {})],
                         ids=["text", "markdown"])
def test_reports_words_follow_the_language(render):
    """The text and Markdown reports: headings, statuses, notes and feedback's fixed parts in Chinese."""
    english = render(_result())
    with i18n.language("zh_CN"):
        chinese = render(_result())
    for words in ("tests passed", "Hint:", "Expected:", "hidden", "Public tests only", "Not sandboxed"):
        assert words in english and words not in chinese, words
    for words in ("1/2 个测试通过", "提示：调用 `async def` 函数只会创建一个协程对象", "预期：a works.", "隐藏",
                  "仅公开测试", "未在沙箱中运行"):
        assert words in chinese, words
    # The assignment's title (course.toml) and the test's docstring stay English for now.
    rest = chinese.replace("Why asynchronous?", "").replace("a works.", "").replace("```text", "").replace("```", "")
    assert english_left(rest) == []


def test_text_table_pads_by_display_width():
    """Chinese characters take two columns: the table's columns still line up on a terminal."""
    with i18n.language("zh_CN"):
        lines = text.render(_result(), {}).splitlines()[:5]
    starts = {text.width(line[:line.index("状态" if i == 0 else "已评分")]) for i, line in enumerate(lines[:3])
              if i != 1}
    assert len(starts) == 1, lines


def test_text_wraps_chinese_by_display_width():
    """A Chinese line wraps between characters, each line within the terminal's width."""
    with i18n.language("zh_CN"):
        out = text.render(_result(), {}, text.Style(width=40))
    prose = out.split("\n\n", 1)[1]  # the table is never wrapped
    assert all(text.width(line) <= 40 for line in prose.splitlines()), out
    assert len(prose.splitlines()) > 10, out
    assert "仅公开测试：" in out


STUB = ("grade", "--submission", "assignments", "--assignment", "01")


def test_a_stub_graded_in_chinese_reads_chinese():
    """A stub graded with COURSE_LANG=zh_CN: its text report's fixed parts are Chinese. The test's own
    "Expected" text (its docstring) and the assignment's title stay English for now."""
    done = run_grader(*STUB, env={"COURSE_LANG": "zh_CN"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "0/22 个测试通过" in out and "[失败]" in out and "总计" in out and "已评分" in out, out
    assert f"提示：{i18n.translations('zh_CN').gettext(hints.NOT_IMPLEMENTED)}" in out
    assert re.search(r"你的代码在 why_async\.py:\d+ in \w+ 抛出了 NotImplementedError", out)
    for english_words in ("tests passed", "Hint:", "Expected:", "Your code raised", "total", "graded"):
        assert english_words not in out, english_words


@pytest.mark.slow
def test_a_stub_scores_the_same_in_both_languages(tmp_path):
    """The same stub graded in English and in Chinese: the same JSON result (scores, outcomes, and the stored
    feedback, which stays English), and ``report --lang`` shows a saved result in either language."""
    english = run_grader(*STUB, "--format", "json", env={"COURSE_LANG": "en"})
    chinese = run_grader(*STUB, "--format", "json", "--output", str(tmp_path / "zh.json"),
                         env={"COURSE_LANG": "zh_CN"})
    assert english.returncode == chinese.returncode == 0, english.stderr + chinese.stderr
    assert json.loads(english.stdout) == json.loads((tmp_path / "zh.json").read_text(encoding="utf-8"))
    shown = {lang: run_grader("report", str(tmp_path / "zh.json"), "--lang", lang).stdout for lang in ("en", "zh_CN")}
    assert "0/22 tests passed" in shown["en"] and "Hint: This function still raises" in shown["en"]
    assert "0/22 个测试通过" in shown["zh_CN"] and "Hint:" not in shown["zh_CN"]


def test_an_unknown_lang_option_is_a_usage_error():
    """--lang with no catalog: exit 2 and one line, before anything is graded."""
    done = run_grader("grade", "--lang", "fr", "--assignment", "01")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: --lang fr: no such language (known: en, zh_CN)"]


def test_local_pytest_run_shows_the_hint_in_chinese():
    """``pytest assignments/01`` with COURSE_LANG=zh_CN: the Hint section is titled and worded in Chinese."""
    done = subprocess.run([sys.executable, "-m", "pytest", "assignments/01", "-q", "-x", "-p", "no:randomly"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_LANG": "zh_CN"})
    assert re.search(r"-+ 提示 -+", done.stdout), done.stdout
    assert i18n.translations("zh_CN").gettext(hints.NOT_IMPLEMENTED) in done.stdout
    assert "This function still raises" not in done.stdout


def test_blocking_call_guard_speaks_chinese(tmp_path):
    """The blocking-call guard's error and hint follow COURSE_LANG in a local run."""
    (tmp_path / "test_case.py").write_text(textwrap.dedent("""
        import time

        async def test_sleeps():
            time.sleep(0.01)
    """))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n"
                                         "asyncio_default_fixture_loop_scope = function\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "coursekit.pytest_plugin", "-p", "no:randomly",
                           "-p", "no:cacheprovider", "-q", "test_case.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COURSE_LANG": "zh_CN"})
    out = done.stdout
    assert "BlockingCallError: 在事件循环运行期间，协程里调用了 time.sleep(0.01)。" in out, out
    assert i18n.translations("zh_CN").gettext(hints.BLOCKING) in out.replace("\n", ""), out


def test_the_graders_child_records_in_english(tmp_path):
    """The child process the grader runs keeps English whatever the grader's environment: the records, and so
    the stored results, stay English, and the grader re-words them in the student's language when it shows them."""
    from grader.run import child_env

    env = child_env(tmp_path)
    assert i18n.choose(env=env, course="zh_CN") == "en"


def test_the_judges_own_failures_read_in_chinese():
    """What the judge says when the student process ends a call, times it out, stops answering or finds a
    replacement, and how the worker ended: made in English, each re-worded by its template."""
    from coursekit import judge

    exited = judge.EXITED.format(how=judge.EXITED_WITH.format(code=3))
    assert localized(exited) == "你的代码结束了运行它的进程：它提前退出，退出状态为 3：你的代码是否调用了 sys.exit 或 os._exit？"
    assert localized(judge.EXITED.format(how=judge.KILLED_BY.format(signal=9))).startswith(
        "你的代码结束了运行它的进程：它被信号 9 终止：")
    timed_out = localized(judge._timed_out(4.0))
    assert timed_out.startswith("超时：你的代码在真实时间 4 秒后仍在运行，因此被终止。")
    assert timed_out.endswith(i18n.translations("zh_CN").gettext(hints.TIMED_OUT))
    assert localized(judge.GONE.format(why="the connection closed")) == (
        "学生进程不再应答（the connection closed）；之后的测试无法再调用你的代码")
    replaced = judge.REPLACED[3].format(names="coursekit.probes.kit.within")
    assert localized(f"{replaced}: the tests need the real ones, so none of their results count").startswith(
        "在运行它的进程中，你的代码替换了 coursekit.probes.kit.within：")
    # The scoring shows them as sentences, not as "CallExited: ..." (the class names are the course's own).
    phase = {"kind": "phase", "nodeid": ENTRIES[0].nodeid, "when": "call", "outcome": "failed"}
    records = [{"kind": "start", "nodeid": ENTRIES[0].nodeid}, {**phase, "type": "CallExited", "message": exited}]
    [test] = score.grade_run(ASSIGNMENT, ENTRIES, [_run(records=records, returncode=1)], LIMITS).tests
    assert exited in test.feedback and "CallExited" not in test.feedback
