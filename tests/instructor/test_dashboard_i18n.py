"""The dashboard's student pages in the course's language; the class page stays the instructor's English.

A student's page (students/<name>.html) follows course.toml's ``[course]
language``, or ``dashboard --lang``: its headings, labels, table heads and
status words, and the grader's messages, feedback and titles; names, code and
the student's own text stay as they are.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from repo_support import english_left
from test_dashboard import run_dashboard, write_results

from coursekit import i18n
from grader.instructor import dashboard
from grader.records import Key, load_key

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    """The results key of these tests (outside every results folder), as batch creates it."""
    return load_key(tmp_path_factory.mktemp("state") / "results.key")


class _Text(HTMLParser):
    """The text a reader sees, without code and without the feedback (its fixture texts are no real templates)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "pre", "script", "style"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "pre", "script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, key: Key) -> dict[str, Path]:
    """The known class's dashboard built with --lang zh_CN and without (the course's language: English)."""
    base = tmp_path_factory.mktemp("dashboard-i18n")
    results = write_results(base / "results", key)
    built = {}
    for name, extra in (("zh", ("--lang", "zh_CN")), ("en", ())):
        done = run_dashboard(results, base / name, key, *extra)
        assert done.returncode == 0, done.stderr
        built[name] = base / name
    return built


# The student's own text on the page: their name and source, the record's messages written by batch.
STUDENT_TEXT = ("alice", "bob", "carol", "dave", "example.org", "0" * 40, "2026-10-01")


def test_a_student_page_reads_chinese(sites: dict[str, Path]) -> None:
    html = (sites["zh"] / "students" / "bob.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    for words in ("← 全班仪表板", "总分", "状态", "作业", "得分", "通过的测试", "已评分", "个测试通过", "失败",
                  "隐藏", "出错", "为什么要异步？", "未提交"):
        assert words in html, words
    left = [(text, english_left(text)) for text in visible(html)
            if english_left(text) and not any(s in text for s in STUDENT_TEXT)]
    assert not left, left
    # Feedback made from the grader's templates is re-worded: carol's timeout.
    carol = (sites["zh"] / "students" / "carol.html").read_text(encoding="utf-8")
    feedback = re.findall(r'<pre class="feedback">(.*?)</pre>', carol, re.S)
    assert any(CJK.search(f) and "5" in f for f in feedback), feedback


def test_an_unverified_student_page_reads_chinese(tmp_path: Path, sites: dict[str, Path]) -> None:
    student = dashboard.Student(name="eve", page="eve.html", source="", key="", graded_at="",
                                status=dashboard.UNVERIFIED, message=dashboard.UNVERIFIED_MESSAGE,
                                result=dashboard.GradeResult((), True), file="eve.json")
    with i18n.language("zh_CN"):
        html = dashboard.render_student(student, [])
    assert "未验证" in html and "封印无法用结果密钥验证" in html and '<html lang="zh-CN">' in html
    assert not [t for t in visible(html) if english_left(t)]


def test_the_class_and_assignment_pages_stay_english(sites: dict[str, Path]) -> None:
    for page in ("index.html", "assignments/01.html"):
        zh = (sites["zh"] / page)
        if not zh.exists():
            continue
        html = zh.read_text(encoding="utf-8")
        assert '<html lang="en">' in html
        assert not CJK.search(html.replace("为什么要异步", "")), page
    english = (sites["en"] / "students" / "bob.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and "← Class dashboard" in english and not CJK.search(english)


def test_course_language_decides_and_lang_overrides(tmp_path: Path) -> None:
    (tmp_path / "course.toml").write_text('[course]\nlanguage = "zh_CN"\n', encoding="utf-8")
    assert dashboard.page_language(None, tmp_path) == "zh_CN"
    assert dashboard.page_language("en", tmp_path) == "en"
    assert dashboard.page_language(None, tmp_path / "nowhere") == "en"


def test_an_unknown_lang_is_a_one_line_usage_error(tmp_path: Path, key: Key) -> None:
    results = write_results(tmp_path / "results", key)
    done = run_dashboard(results, tmp_path / "site", key, "--lang", "xx")
    assert done.returncode == 2
    assert "--lang xx" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "site").exists()
