"""The student-facing language: which one, and the translation of the course's fixed messages.

Messages are keyed by their English text (the msgid): a message and its
translation live in ``coursekit/locale/<lang>/LC_MESSAGES/messages.po`` and
cannot drift apart unnoticed, since a changed English text is a new msgid with
no translation (tests/course/test_messages_i18n.py fails on it). Babel
extracts and checks the catalogs during development; at run time only the
standard library's ``gettext`` reads them: the ``.po`` is compiled into a
``.mo`` in memory the first time a language is used (a few milliseconds), so a
student's clone, the grader's sandboxed child and the published bundles need
no build step and carry no binary file.

Everything the grader records stays English: the results' JSON, the child's
records, the dashboard's data. Only what a person reads is translated, when it
is shown: ``_`` for the renderers' own words, and ``localize`` for a message
made elsewhere from an ``N_`` template (``"Your code raised {kind} at
{where}"``), recognised by that same template and re-worded in the active
language with the same values.

The language (``choose``): ``--lang``, else ``COURSE_LANG``, else ``LANG``,
else course.toml's ``[course] language``, else English. ``LANG`` values that
name no language (``C``, ``POSIX``, ``C.UTF-8``: the default of CI runners and
containers) are skipped. A language with no catalog falls back to English.
"""
from __future__ import annotations

import array
import ast
import functools
import gettext as _gettext
import io
import re
import struct
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# LANG values that describe an encoding, not a language.
_NO_LANGUAGE = {"c", "posix"}

_active = DEFAULT
_missing: Counter[tuple[str, str]] = Counter()
# Folders of the tests' own catalogs (coursekit.test_texts: ``tests.pot`` and ``<lang>.po``), in use besides ours.
_test_catalogs: list[Path] = []
# Every message marked with N_, in the order marked: exact messages, and templates with {placeholders}.
_marked: dict[str, None] = {}


def available() -> tuple[str, ...]:
    """The languages students can choose: English and every language with a catalog."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT, *found)


def normalize(tag: str | None) -> str | None:
    """A language tag as the catalogs name it: ``zh_CN.UTF-8``, ``zh-cn`` and ``zh`` give ``zh_CN``, ``en_US``
    gives ``en``; None for an empty tag or one that names no language (``C``, ``POSIX``, ``C.UTF-8``).

    A language with no catalog is returned as given (``fr_FR``), so the caller can tell it from "not set".
    """
    if not tag:
        return None
    base = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if not base or base.lower() in _NO_LANGUAGE:
        return None
    language, _, region = base.partition("_")
    language = language.lower()
    if language == "en":
        return DEFAULT
    known = [lang for lang in available() if lang.split("_")[0].lower() == language]
    exact = [lang for lang in known if lang.lower() == f"{language}_{region}".lower()]
    if exact:
        return exact[0]
    # Only one catalog per language so far: zh and zh_SG read the Simplified Chinese one.
    if known and (not region or language == "zh" and region.upper() in {"CN", "SG", "HANS"}):
        return known[0]
    return f"{language}_{region.upper()}" if region else language


def course_language(root: Path) -> str | None:
    """``[course] language`` of ``root/course.toml``, or None when it is not set (or the file is unreadable)."""
    try:
        data = tomllib.loads((root / "course.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    value = data.get("course", {}).get("language")
    return value if isinstance(value, str) else None


def choose(*, flag: str | None = None, env: Mapping[str, str] | None = None, course: str | None = None) -> str:
    """The language to show: ``flag`` (``--lang``), else ``COURSE_LANG``, else ``LANG``, else ``course``
    (course.toml), else English; the first one set decides, and a language with no catalog gives English."""
    env = {} if env is None else env
    for candidate in (flag, env.get("COURSE_LANG"), env.get("LANG"), course):
        lang = normalize(candidate)
        if lang is not None:
            return lang if lang in available() else DEFAULT
    return DEFAULT


def active() -> str:
    """The language ``_`` and ``localize`` translate into."""
    return _active


def activate(lang: str) -> str:
    """Translate into ``lang`` from now on (English when it has no catalog); returns the language it replaces."""
    global _active
    previous, _active = _active, (lang if lang in available() else DEFAULT)
    return previous


@contextmanager
def language(lang: str) -> Iterator[None]:
    """Translate into ``lang`` inside the block, then restore the language before it."""
    previous = activate(lang)
    try:
        yield
    finally:
        activate(previous)


class _Fallback(_gettext.NullTranslations):
    """The end of a catalog's chain: the English msgid itself, counted as a missing translation."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def gettext(self, message: str) -> str:
        _missing[(self.lang, message)] += 1
        return message


def read_po(text: str, *, translated: bool = True) -> dict[str, str]:
    """The translated messages of a ``.po`` file: msgid to msgstr, the header under ``""``.

    Entries left untranslated (empty msgstr) or marked fuzzy are left out, so
    they fall back to English like a missing one; with ``translated=False``
    every msgid is kept (a ``.pot``). Only what the course's catalogs use is
    read: no contexts, no plural forms.
    """
    messages: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal fields, fuzzy, current
        if "msgid" in fields and "msgstr" in fields and (not fuzzy or not translated):
            msgid, msgstr = "".join(fields["msgid"]), "".join(fields["msgstr"])
            if msgstr or not translated:
                messages[msgid] = msgstr
        fields, fuzzy, current = {}, False, None

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            if "msgstr" in fields:
                flush()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        if not line:
            flush()
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgid", "msgstr"):
            if keyword == "msgid" and "msgstr" in fields:
                flush()
            current = fields.setdefault(keyword, [])
            line = rest.strip()
        elif not line.startswith('"') or current is None:
            raise ValueError(f"line {number}: {raw!r} is not a .po line this reader understands")
        current.append(_unquote(line, number))
    flush()
    return messages


def _unquote(line: str, number: int) -> str:
    if not (len(line) >= 2 and line[0] == line[-1] == '"'):
        raise ValueError(f"line {number}: {line!r} is not a quoted string")
    # .po strings use C's escapes (\n, \t, \", \\), which a Python string literal reads the same way.
    value = ast.literal_eval(line)
    assert isinstance(value, str)
    return value


def compile_mo(messages: Mapping[str, str]) -> bytes:
    """A GNU ``.mo`` file of ``messages`` (as msgfmt writes it, without the optional hash table)."""
    keys = sorted(messages, key=lambda k: k.encode("utf-8"))
    ids = strs = b""
    spans = []
    for key in keys:
        key_bytes, value_bytes = key.encode("utf-8"), messages[key].encode("utf-8")
        spans.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for id_offset, id_length, str_offset, str_length in spans:
        key_table += [id_length, id_offset + key_start]
        value_table += [str_length, str_offset + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0)
    return header + array.array("i", key_table + value_table).tobytes() + ids + strs


def use_test_catalogs(folders: Iterable[Path]) -> None:
    """Translate the tests' own texts too, with the catalogs in these ``locale`` folders (coursekit.test_texts):
    their ``tests.pot`` msgids are recognised by ``localize``, their ``<lang>.po`` translates them."""
    added = [folder for folder in folders if folder.is_dir() and folder not in _test_catalogs]
    if added:
        _test_catalogs.extend(added)
        translations.cache_clear()
        _catalogued.cache_clear()
        _fragments.cache_clear()


def used_test_catalogs() -> tuple[Path, ...]:
    """The tests' catalog folders in use (``use_test_catalogs``), in the order added."""
    return tuple(_test_catalogs)


def restore_test_catalogs(folders: Iterable[Path]) -> None:
    """Use exactly these tests' catalog folders again (the course's own test suite, between its tests)."""
    wanted = list(folders)
    if wanted != _test_catalogs:
        _test_catalogs[:] = wanted
        translations.cache_clear()
        _catalogued.cache_clear()
        _fragments.cache_clear()


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang``, read with the standard library's gettext; English (and a language with no
    catalog) translates nothing, since the msgids are English. The tests' catalogs in use add their messages;
    the course kit's own translation of a msgid wins."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT or not path.is_file():
        return _gettext.NullTranslations()
    messages = read_po(path.read_text(encoding="utf-8"))
    for folder in _test_catalogs:
        try:
            for msgid, msgstr in read_po((folder / f"{lang}.po").read_text(encoding="utf-8")).items():
                messages.setdefault(msgid, msgstr)
        except OSError:
            continue  # no translation of these tests into this language yet: English, counted as missing
    messages.setdefault("", "Content-Type: text/plain; charset=UTF-8\n")
    catalog = _gettext.GNUTranslations(io.BytesIO(compile_mo(messages)))
    catalog.add_fallback(_Fallback(lang))
    return catalog


def _(message: str) -> str:
    """``message`` (its English text) in the active language; English when it has no translation (counted)."""
    if not message or _active == DEFAULT:
        return message
    return translations(_active).gettext(message)


def N_(message: str) -> str:  # noqa: N802  (gettext's conventional name, which Babel extracts by default)
    """Mark ``message`` for translation and return it unchanged (English, to store or to format).

    A message with ``{placeholders}`` is a template: format it in English where
    it is made, and ``localize`` re-words the result when it is shown.
    """
    _marked.setdefault(message)
    return message


def marked() -> tuple[str, ...]:
    """Every message marked with ``N_`` so far (by the modules imported)."""
    return tuple(_marked)


def missing() -> dict[tuple[str, str], int]:
    """Each (language, msgid) that was shown in English for want of a translation, and how many times."""
    return dict(_missing)


def missing_count() -> int:
    """How many different messages were shown in English for want of a translation."""
    return len(_missing)


# A placeholder, or a doubled brace: "{{" and "}}" are a literal brace, as in str.format (a test's f-string that
# shows "/users/{id}" is the msgid "/users/{{id}}"), never a placeholder.
_FIELD = re.compile(r"\{\{|\}\}|\{(\w+)(?:[:!][^{}]*)?\}")


def _has_field(message: str) -> bool:
    return any(match.group(1) for match in _FIELD.finditer(message))


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its placeholders replaced by ``values`` (a missing one kept) and doubled braces undone."""
    def one(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        return values.get(match.group(1), match.group(0))
    return _FIELD.sub(one, template)


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    parts, seen, last = [], set(), 0
    for match in _FIELD.finditer(template):
        parts.append(re.escape(template[last:match.start()]))
        name = match.group(1)
        if name is None:  # a doubled brace: the one brace it stands for
            parts.append(re.escape(match.group(0)[0]))
            last = match.end()
            continue
        # A value may be empty: a sum's optional part (`"..." + ("" if ok else " that differ")`).
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        last = match.end()
    tail = template[last:]
    # describe() drops a message's final period, so a sentence may arrive without it.
    parts.append(re.escape(tail[:-1]) + r"(?P<_period>\.?)" if tail.endswith(".") else re.escape(tail))
    return re.compile("".join(parts), re.DOTALL)


@functools.cache
def _catalogued() -> tuple[str, ...]:
    """The msgids of messages.pot (every marked message, whether or not the module marking it was imported) and
    of the tests' catalogs in use."""
    found: list[str] = []
    for pot in (LOCALE_DIR / f"{DOMAIN}.pot", *(folder / "tests.pot" for folder in _test_catalogs)):
        try:
            found += [m for m in read_po(pot.read_text(encoding="utf-8"), translated=False) if m]
        except OSError:
            continue
    return tuple(found)


LIST_SEPARATOR = N_("; ")  # between the clauses of a list a message holds ("；" in Chinese)
FRAGMENT = "#. fragment"  # a tests.pot entry that is part of a message (a what= label), never a whole line


@functools.cache
def _fragments() -> frozenset[str]:
    """The msgids the tests' catalogs in use mark as fragments: recognised inside another message only.

    "get_json on a {status}" names a call inside "{what} should raise {kind}; ...": read as a whole line, its
    placeholder would swallow the sentence around it.
    """
    found: set[str] = set()
    for folder in _test_catalogs:
        try:
            entries = (folder / "tests.pot").read_text(encoding="utf-8").split("\n\n")
        except OSError:
            continue
        for entry in entries:
            if FRAGMENT in entry.splitlines():
                found.update(m for m in read_po(entry, translated=False) if m)
    return frozenset(found)


@functools.lru_cache(maxsize=4)
def _known_of(catalogued: tuple[str, ...], marked: int) -> tuple[dict[str, None], list[tuple[str, str, str]]]:
    """The known msgids and the templates among them, rebuilt only when a catalog is added or a message is
    marked (``marked`` counts them)."""
    known = dict.fromkeys([*catalogued, *list(_marked)[:marked]])
    # A message is often another one's placeholder ("Your code raised {kind} at {where}: {message}", the message
    # the guard's template): a template that starts with its own words is tried before one that starts with a
    # placeholder, which would otherwise swallow the outer message. Then the most literal text first:
    # "{a}/{b} tests passed; {detail}" before "{a}/{b} tests passed".
    ordered = sorted((m for m in known if _has_field(m) and _says_enough(m)),
                     key=lambda m: (m.startswith("{") and not m.startswith("{{"), -len(_FIELD.sub("", m))))
    # Each comes with the literal text it starts with and its longest literal piece: a line that does not start
    # with the one or does not hold the other cannot match, and most lines are told so without a regex.
    templates = [(m, _fill(_pieces(m)[0], {}),
                  max((_fill(piece, {}) for piece in _pieces(m)), key=len).removesuffix(".")) for m in ordered]
    return known, templates


def _says_enough(template: str) -> bool:
    """Whether a template says enough of its own to be recognised in any text: a few words ("{n} days", "{cut} of
    {bytes}", the dashboard's) would re-word pieces of unrelated sentences. Those are only shown through ``_``."""
    letters = len(re.findall(r"[A-Za-z]", "".join(_pieces(template))))
    starts_open = template.startswith("{") and not template.startswith("{{")
    return letters >= 3 and (letters >= 8 or not starts_open)


def _pieces(template: str) -> list[str]:
    """The literal pieces of a template between its placeholders (doubled braces kept for ``_fill``)."""
    pieces, last = [], 0
    for match in _FIELD.finditer(template):
        if match.group(1) is not None:
            pieces.append(template[last:match.start()])
            last = match.end()
    pieces.append(template[last:])
    return pieces


def localize(text: str) -> str:
    """``text``, made in English from ``N_`` messages, in the active language: each line that is a marked
    message, or a template's English filled in, is re-worded with the same values (themselves localized).

    Lines that match nothing (a test's own message, the student's exception text) stay as they are.
    """
    if _active == DEFAULT or not text:
        return text
    known, templates = _known_of(_catalogued(), len(_marked))
    return "\n".join(_localize(line, known, templates, 0) for line in text.split("\n"))


def _localize(text: str, known: dict[str, None], templates: list[tuple[str, str, str]], depth: int) -> str:
    body = text.strip()
    if not body or depth > 3:
        return text
    lead, trail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
    if body in known and not _has_field(body):
        return lead + _(body) + trail
    for template, prefix, piece in templates:
        if not body.startswith(prefix) or piece not in body or (depth == 0 and template in _fragments()):
            continue
        match = _pattern(template).fullmatch(body)
        if match is None:
            continue
        values = {k: _localize(v, known, templates, depth + 1) for k, v in match.groupdict().items() if k != "_period"}
        translated = _fill(_(template), values)
        if template.endswith(".") and not match.group("_period"):
            translated = translated.removesuffix(".").removesuffix("。")
        return lead + translated + trail
    if depth > 0 and "; " in body:  # a value that lists clauses ("job 0: never started; job 2: ..."): each one
        parts = [_localize(part, known, templates, depth) for part in body.split("; ")]
        if parts != body.split("; "):
            return lead + _(LIST_SEPARATOR).join(parts) + trail
    return text


