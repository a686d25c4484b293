"""The Simplified Chinese READMEs state the same contract as the English ones.

Each assignment has ``README.md`` and ``README.zh-CN.md``, linked to each
other; the top-level ``README.zh-CN.md`` carries the course map and the student
guide. A translation drifts silently (a renamed parameter, a changed number, a
dropped row), so the checks here compare what must not change between the two
languages: every inline code span, every code block (comments aside: they are
prose and are translated), every number in the prose, every link target, and
the headings. They also look for English prose left untranslated.
"""
from __future__ import annotations

import io
import re
import tokenize
from collections import Counter
from pathlib import Path

import pytest
from repo_support import ROOT
from grader.instructor import publish
from grader.manifest import load_manifest

MANIFEST = load_manifest(ROOT)
IDS = [a.id for a in MANIFEST.assignments]

EN, ZH = "README.md", "README.zh-CN.md"
TO_ZH, TO_EN = f"[简体中文]({EN.replace('.md', '.zh-CN.md')})", f"[English]({EN})"

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
SPAN = re.compile(r"`([^`]+)`")  # a span may wrap onto the next line
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Digits not glued to an ASCII identifier (IPv6, utf8) or to a dotted number's tail;
# the look-behind is ASCII-only so that "第3" still counts.
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:\.\d+)*")
LIST_MARKER = re.compile(r"^(\s*)\d+\.\s", re.M)
HEADING = re.compile(r"^(#{1,6})\s", re.M)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"[A-Za-z]{2,}")
QUOTED = re.compile(r'"[^"\n]*"')
# A Chinese sentence ends at 。；：！？ (or the ASCII forms, which English uses).
SENTENCE_END = re.compile(r"[。；：！？]|[.;:!?](?=\s|$|[\u3400-\u9fff])")
ENGLISH_WORDS = 6  # a sentence with this many English words and no Chinese is untranslated prose


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _block(info: str, body: str) -> str:
    """A code block without its comments, which are prose and get translated."""
    if info.strip() == "python":
        try:
            tokens = tokenize.generate_tokens(io.StringIO(body).readline)
            skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                    tokenize.ENDMARKER}
            return " ".join(tok.string for tok in tokens if tok.type not in skip)
        except (tokenize.TokenError, SyntaxError):
            pass
    lines = (re.sub(r"\s+#\s.*$", "", line).rstrip() for line in body.splitlines())
    return "\n".join(line for line in lines if line)


def _prose(text: str) -> str:
    """The text outside code blocks and code spans, list markers removed."""
    text = FENCE.sub("", text)
    text = SPAN.sub(" ", text)
    return LIST_MARKER.sub(r"\1", text)


def contract(text: str) -> Counter[tuple[str, str]]:
    """What both languages must say alike: code spans, code blocks, numbers and link targets.

    The language links (``[English](README.md)`` and ``[简体中文](README.zh-CN.md)``) are
    left out, and a link to a README counts as a link to that README in either language.
    """
    text = text.replace(TO_ZH, "").replace(TO_EN, "")
    found: Counter[tuple[str, str]] = Counter()
    found.update(("block", _block(info, body)) for info, body in FENCE.findall(text))
    outside = FENCE.sub("", text)
    found.update(("code", " ".join(span.split())) for span in SPAN.findall(outside))
    prose = _prose(text)
    found.update(("link", target.replace(ZH, EN)) for target in LINK.findall(prose))
    prose = LINK.sub("]", prose)  # a URL's digits are the link's, not the prose's
    found.update(("number", number) for number in NUMBER.findall(prose))
    return found


def differences(english: str, chinese: str) -> list[str]:
    """Each item of the contract that one language has more often than the other."""
    en, zh = contract(english), contract(chinese)
    out = [f"only in English ({n}x): {kind} {item!r}" for (kind, item), n in (en - zh).items()]
    out += [f"only in Chinese ({n}x): {kind} {item!r}" for (kind, item), n in (zh - en).items()]
    return sorted(out)


def headings(text: str) -> list[int]:
    """The level of every heading, in order (``#`` inside code blocks is no heading)."""
    return [len(level) for level in HEADING.findall(FENCE.sub("", text))]


def english_sentences(text: str) -> list[str]:
    """Sentences of untranslated prose: many English words and not one Chinese character.

    Code, link targets and quoted program output (``"Task exception was never
    retrieved"``) are no prose: they stay as they are in both languages.
    """
    prose = QUOTED.sub(" ", LINK.sub("]", _prose(text)))
    found = []
    for line in prose.splitlines():
        for sentence in SENTENCE_END.split(line):
            if not CJK.search(sentence) and len(WORD.findall(sentence)) >= ENGLISH_WORDS:
                found.append(sentence.strip())
    return found


def sections(text: str, titles: tuple[str, ...]) -> str:
    """The ``## `` sections of ``text`` with these titles, each up to the next ``## `` heading."""
    parts = re.split(r"^(?=## )", text, flags=re.M)
    return "".join(part for part in parts if part.split("\n", 1)[0][3:].strip() in titles)


def pair(nn: str) -> tuple[str, str]:
    """Assignment ``nn``'s English and Chinese READMEs."""
    folder = ROOT / "assignments" / nn
    return _read(folder / EN), _read(folder / ZH)


# --- each assignment ------------------------------------------------------


@pytest.mark.parametrize("nn", IDS)
def test_assignment_readmes_link_each_other(nn):
    """Both READMEs exist; each links to the other near its top, under the title."""
    english, chinese = pair(nn)
    assert TO_ZH in english.split("\n## ", 1)[0], f"assignments/{nn}/{EN} has no link to {ZH} before its first section"
    assert TO_EN in chinese.split("\n## ", 1)[0], f"assignments/{nn}/{ZH} has no link to {EN} before its first section"


@pytest.mark.parametrize("nn", IDS)
def test_assignment_readmes_state_the_same_contract(nn):
    """Same code spans, code blocks, numbers and links, each as many times, in both languages."""
    english, chinese = pair(nn)
    assert differences(english, chinese) == []


@pytest.mark.parametrize("nn", IDS)
def test_assignment_readmes_have_the_same_headings(nn):
    """As many headings, of the same levels in the same order: no section dropped or split."""
    english, chinese = pair(nn)
    assert headings(chinese) == headings(english)


@pytest.mark.parametrize("nn", IDS)
def test_chinese_readme_is_all_chinese(nn):
    """No sentence of the Chinese README is left in English (code and quoted output aside)."""
    _, chinese = pair(nn)
    assert english_sentences(chinese) == []


# --- the top-level README: course map and student guide -------------------

EN_SECTIONS = ("Course map", "Student guide")
ZH_SECTIONS = ("课程地图", "学生指南")
# Said to students in the English guide for the instructor's repository only; the
# Chinese README is also the template's, which carries nothing of the instructor's.
INSTRUCTOR_ONLY = Counter({("code", "python3 dev.py test"): 1})
# The Chinese guide also names the Chinese README of an assignment.
CHINESE_ONLY = Counter({("code", "assignments/NN/README.zh-CN.md"): 1})


def top_pair() -> tuple[str, str]:
    """The top-level English and Chinese READMEs."""
    return _read(ROOT / EN), _read(ROOT / ZH)


def test_top_readmes_link_each_other():
    """The course README links to the Chinese one under its title, and back (the template's README
    takes its introduction, link included, from the course README)."""
    english, chinese = top_pair()
    assert TO_ZH in english.split("\n## ", 1)[0], f"{EN} has no link to {ZH} before its first section"
    assert TO_EN in chinese.split("\n## ", 1)[0], f"{ZH} has no link to {EN} before its first section"


def test_chinese_course_map_links_every_chinese_readme():
    """One row per assignment, in course order, linking that assignment's Chinese README, which exists."""
    chinese = sections(top_pair()[1], ZH_SECTIONS[:1])
    rows = re.findall(r"^\| (\d\d) \| \[[^\]]+\]\((assignments/\d\d/[^)]+)\)", chinese, re.M)
    assert [nn for nn, _ in rows] == IDS
    for nn, target in rows:
        assert target == f"assignments/{nn}/{ZH}"
        assert (ROOT / target).is_file(), target


def test_top_readmes_state_the_same_guide():
    """The course map and student guide say the same in both languages (links compared by README)."""
    english, chinese = top_pair()
    en, zh = contract(sections(english, EN_SECTIONS)), contract(sections(chinese, ZH_SECTIONS))
    assert en - INSTRUCTOR_ONLY - zh == Counter()
    assert zh - CHINESE_ONLY - (en - INSTRUCTOR_ONLY) == Counter()
    assert headings(sections(chinese, ZH_SECTIONS)) == headings(sections(english, EN_SECTIONS))


def test_top_chinese_readme_is_all_chinese_and_for_students():
    """No English prose left, and nothing the template must not carry (it is copied there as it is)."""
    chinese = top_pair()[1]
    assert english_sentences(chinese) == []
    # The template's students get this file as it is (see grader/instructor/publish.py).
    for instructor_only in ("solutions/", "dev.py", "--against", "grader check", "publish", "tests/"):
        assert instructor_only not in chinese, instructor_only


# --- the checks themselves catch drift ------------------------------------


def test_a_dropped_function_name_is_caught():
    """A table row that loses its signature's backticks no longer states the contract."""
    english, chinese = pair("01")
    assert "`run_sync(jobs)`" in chinese
    assert any("run_sync(jobs)" in d for d in differences(english, chinese.replace("`run_sync(jobs)`", "run_sync")))


def test_a_changed_number_is_caught():
    """A number changed in the prose shows up as one number only in each language."""
    english, chinese = pair("01")
    assert "1、2、3 秒" in chinese
    changed = chinese.replace("1、2、3 秒", "1、2、4 秒")
    assert differences(english, changed) == ["only in Chinese (1x): number '4'", "only in English (1x): number '3'"]


def test_a_changed_signature_or_code_block_is_caught():
    """A default value or a line of example code that differs is caught; a rewritten comment is not."""
    english, chinese = pair("02")
    changed = chinese.replace("`async greet(name, delay=0.0)`", "`async greet(name, delay=0)`")
    assert any("greet(name, delay=0)" in d for d in differences(english, changed))
    code = chinese.replace("return 2 * x", "return 3 * x")
    assert any(d.startswith("only in Chinese (1x): block") for d in differences(english, code))
    comment = chinese.replace("# 在这里暂停", "# 在这里暂停（注释可以随意改写）")
    assert differences(english, comment) == []


def test_a_dropped_heading_and_english_prose_are_caught():
    """A missing section, an English paragraph, and an English sentence after Chinese ones."""
    english, chinese = pair("01")
    assert headings(chinese.replace("## 常见错误\n", "")) != headings(english)
    left = chinese + "\nRun the public tests with the command above, then read the hints.\n"
    assert english_sentences(left) == ["Run the public tests with the command above, then read the hints"]
    mixed = chinese.replace("用 `pytest assignments/01` 运行公开测试。",
                            "用 `pytest assignments/01` 运行公开测试。The graded run adds hidden tests here.")
    assert english_sentences(mixed) == ["The graded run adds hidden tests here"]


# --- the published template carries both languages -------------------------


@pytest.mark.parametrize("classroom50", [False, True], ids=["template", "template-classroom50"])
def test_template_has_the_chinese_readmes(tmp_path, classroom50):
    """Every README in Chinese reaches the student template, and every link in them resolves there."""
    dest = tmp_path / "template"
    publish.write_template(MANIFEST, dest, classroom50=classroom50)
    for nn in IDS:
        assert (dest / "assignments" / nn / ZH).read_text(encoding="utf-8") == pair(nn)[1]
    chinese = _read(dest / ZH)
    for target in LINK.findall(chinese):
        if "://" not in target:
            assert (dest / target).is_file(), target
    assert TO_ZH in _read(dest / EN), f"the template's {EN} does not link to {ZH}"
    grading = sections(chinese, ZH_SECTIONS[1:])
    if classroom50:  # no workflow in this template: Classroom 50 grades, and runs the hidden tests too
        assert "Autograding" not in grading and "hidden)" not in grading
        assert "`gh student submit`" in grading and "Classroom 50" in grading
        assert chinese.replace(grading, "") == top_pair()[1].replace(sections(top_pair()[1], ZH_SECTIONS[1:]), "")
    else:
        assert chinese == top_pair()[1]
