"""``python -m grader similarity``: pairs of submissions whose code is unusually alike.

The class is made of real code: the reference solutions, disguised copies of
them (every local name renamed, comments and docstrings rewritten, top-level
functions in reverse order; a second copy also padded with a junk statement
every few lines; a third without docstrings or comments and laid out anew by
``ast.unparse``), and the 31 independent solutions of
``tests/course/alternatives/``, which were written separately from the
reference. The copies must rank first, the independent ones clearly lower,
and what came with the stub must never count.
"""
from __future__ import annotations

import ast
import base64
import functools
import hashlib
import io
import json
import re
import statistics
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest
from repo_support import ROOT, run_grader, solution_source

from coursekit.testing import assert_same
from grader.instructor import similarity
from grader.manifest import Assignment, load_manifest
from grader.stubs import BEGIN, END, make_stub

MANIFEST = load_manifest(ROOT)
ALTERNATIVES = ROOT / "tests" / "course" / "alternatives"
HOSTILE = '</script><script>window.hacked=1</script><img src=x onerror="window.hacked=2">'
# Not independent of each other: one author wrote both and kept the same helpers (normalize_url, the link
# parser, to_sitemap, main) word for word; only crawl() differs. The tool is right to point at them.
SAME_AUTHOR = {("09", "variant_c", "variant_d")}


# --- disguises a copier would use --------------------------------------------------------------------------


def disguise(source: str) -> str:
    """``source`` with every parameter, local variable and private name renamed, every comment and docstring
    rewritten, and the top-level functions in reverse order: the same code, not the same text."""
    tree = ast.parse(source)
    public = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    bound = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
              and n.name.startswith("_")}
    renames = {name: f"q{i}_{name.strip('_')[::-1]}" for i, name in enumerate(sorted(bound - public - {"self", "cls"}))}
    docstrings = {(n.body[0].lineno, n.body[0].col_offset) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
                  and isinstance(n.body[0].value.value, str)}
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in renames:
            token = token._replace(string=renames[token.string])
        elif token.type == tokenize.COMMENT:
            token = token._replace(string="# my own note")
        elif token.type == tokenize.STRING and token.start in docstrings:
            token = token._replace(string='"""In my own words."""')
        tokens.append(token)
    renamed = tokenize.untokenize(tokens)
    lines = renamed.splitlines(keepends=True)
    functions = [(min([n.lineno, *(d.lineno for d in n.decorator_list)]) - 1, n.end_lineno)
                 for n in ast.parse(renamed).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    texts = ["".join(lines[start:end]) for start, end in functions]
    pieces, cursor = [], 0
    for (start, end), text in zip(functions, reversed(texts)):
        pieces += ["".join(lines[cursor:start]), text]
        cursor = end
    return "".join(pieces) + "".join(lines[cursor:])


def pad(source: str, every: int = 3) -> str:
    """``source`` with a do-nothing ``print(end='')`` after every ``every``-th one-line statement of a function."""
    tree = ast.parse(source)
    after = []
    simple = [s for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for s in f.body
              if isinstance(s, (ast.Assign, ast.AugAssign, ast.Expr)) and s.lineno == s.end_lineno
              and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    for number, statement in enumerate(simple, start=1):
        if number % every == 0:
            after.append((statement.end_lineno, statement.col_offset))
    lines = source.splitlines(keepends=True)
    for line, column in sorted(after, reverse=True):
        lines.insert(line, " " * column + "print(end='')\n")
    return "".join(lines)


def reformat(source: str) -> str:
    """``source`` without its docstrings and comments, laid out anew (``ast.unparse``, as a formatter would)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and len(body) > 1 and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            del body[0]
    return ast.unparse(tree)


def test_the_disguises_change_the_text_not_the_code() -> None:
    """The copies are real disguises: other names, comments, docstrings and order, and still valid Python."""
    source = solution_source("04")
    copy = disguise(source)
    assert copy != source and ast.dump(ast.parse(copy)) != ast.dump(ast.parse(source))
    order = [n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert [n.name for n in ast.parse(copy).body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] == order[::-1]
    assert "# my own note" in copy and "In my own words." in copy and re.search(r"\bq\d+_", copy)
    padded = pad(copy)
    assert padded.count("print(end='')") >= 3
    ast.parse(padded)
    assert '"""' not in reformat(source) and "#" not in reformat(source)


# --- the class -----------------------------------------------------------------------------------------------


def alternatives(assignment: Assignment) -> dict[str, bytes]:
    """The independent solutions of ``assignment``, by student (the file's name without ``.py``)."""
    return {path.stem: path.read_bytes() for path in sorted((ALTERNATIVES / assignment.id).glob("*.py"))}


def stub(assignment: Assignment) -> str:
    return similarity.stub_source(MANIFEST, assignment)


def class_report(assignment: Assignment) -> similarity.AssignmentReport:
    """The reference, its two disguised copies and the independent solutions, compared."""
    reference = solution_source(assignment.id)
    modules: dict[str, bytes | None] = {"reference": reference.encode(), "copy": disguise(reference).encode(),
                                        "padded": pad(disguise(reference)).encode(),
                                        "formatted": reformat(disguise(reference)).encode(), **alternatives(assignment)}
    return similarity.compare(assignment, stub(assignment), modules)


IDS = [a.id for a in MANIFEST.assignments]


@functools.cache
def report_of(assignment_id: str) -> similarity.AssignmentReport:
    """``class_report`` of one assignment, computed once for the module's tests."""
    return class_report(MANIFEST.get(assignment_id))


def pairs(report: similarity.AssignmentReport) -> dict[frozenset[str], float]:
    return {frozenset((p.a.student, p.b.student)): p.score for p in report.pairs}


@pytest.mark.parametrize("assignment_id", IDS)
def test_disguised_copies_rank_at_the_top(assignment_id: str) -> None:
    """The six pairs among the reference and its three disguised copies are the six most alike."""
    report = report_of(assignment_id)
    copies = {"reference", "copy", "padded", "formatted"}
    top = [{p.a.student, p.b.student} for p in report.pairs[:6]]
    assert all(pair <= copies for pair in top), [(p.a.student, p.b.student, p.score) for p in report.pairs[:8]]
    scores = pairs(report)
    assert scores[frozenset({"reference", "copy"})] == 100.0  # renaming, rewording and reordering change nothing
    assert scores[frozenset({"reference", "padded"})] >= similarity.FLAG_SCORE
    assert scores[frozenset({"reference", "formatted"})] >= similarity.FLAG_SCORE + 10  # nor a formatter


@pytest.mark.parametrize("assignment_id", IDS)
def test_the_reference_against_itself_scores_100(assignment_id: str) -> None:
    assignment = MANIFEST.get(assignment_id)
    source = solution_source(assignment_id).encode()
    report = similarity.compare(assignment, stub(assignment), {"a": source, "b": source})
    assert [(p.a.student, p.b.student) for p in report.pairs] == [("a", "b")]
    assert_same(report.pairs[0].score, 100.0, what="score")
    assert report.pairs[0].percent(report.pairs[0].a) == report.pairs[0].percent(report.pairs[0].b) == 100.0


def independent_scores() -> list[tuple[float, str, str, str]]:
    """(score, assignment, student, student) of every pair of solutions written independently."""
    found = []
    for assignment_id in IDS:
        for p in report_of(assignment_id).pairs:
            names = sorted((p.a.student, p.b.student))
            if {"copy", "padded", "formatted"} & set(names) or (assignment_id, *names) in SAME_AUTHOR:
                continue
            found.append((p.score, assignment_id, *names))
    return found


def test_independent_solutions_score_clearly_lower() -> None:
    """Separately written solutions of one exercise share idioms, not code: none reaches the flag, and the
    typical one is far below the exact copies' 100."""
    scores = independent_scores()
    assert len(scores) >= 31 + 9  # every alternative against the reference at least
    highest = max(scores)
    assert highest[0] < similarity.FLAG_SCORE, highest
    assert statistics.median(s[0] for s in scores) < 20
    lowest_copy = min(pairs(report_of(i))[frozenset({"reference", "copy"})] for i in IDS)
    assert lowest_copy - highest[0] >= 30


def test_shared_helpers_of_one_author_are_found() -> None:
    """09's variants c and d share their helpers word for word (one author; only crawl() differs): they score
    above every independent pair of the course, and the shared blocks hold normalize_url's body on both sides."""
    pair = next(p for p in report_of("09").pairs if {p.a.student, p.b.student} == {"variant_c", "variant_d"})
    assert pair.score > max(independent_scores())[0] + 10
    for side, blocks in ((pair.a, [b[0] for b in pair.blocks()]), (pair.b, [b[1] for b in pair.blocks()])):
        lines = side.source.splitlines()
        shared = {number for first, last in blocks for number in range(first, last + 1)}
        assert any('parts.netloc.rpartition("@")' in lines[n - 1] for n in shared), side.student


# --- what came with the stub never counts ------------------------------------------------------------------


def partial(source: str, keep: set[int]) -> str:
    """The stub of ``source`` with only its solution regions numbered in ``keep`` filled in."""
    out, region = [], -1
    for line in source.splitlines(keepends=True):
        if line.strip() == BEGIN:
            region += 1
            if region in keep:
                continue
        if line.strip() == END and region in keep:
            continue
        out.append(line)
    return make_stub("".join(out))


def test_an_untouched_stub_pair_is_not_reported() -> None:
    """Two students who have not started (the stub byte for byte) are listed as such and never paired."""
    assignment = MANIFEST.get("04")
    text = stub(assignment)
    report = similarity.compare(assignment, text, {"ann": text.encode(), "ben": text.encode(),
                                                   "cat": solution_source("04").encode(), "dan": None})
    assert report.not_started == ["ann", "ben"]
    assert report.missing == ["dan"]
    assert report.pairs == [] and report.scores == []


@pytest.mark.parametrize("assignment_id", IDS)
def test_a_tidied_stub_has_nothing_of_its_own(assignment_id: str) -> None:
    """A stub no longer byte for byte the one given (parameters renamed, comments rewritten, functions
    reordered; or rewritten by a formatter, which joins and splits lines) has no fingerprint of its own: too
    small to compare, never alike anyone."""
    assignment = MANIFEST.get(assignment_id)
    text = stub(assignment)
    tidied, formatted = disguise(text), ast.unparse(ast.parse(text))
    assert text not in (tidied, formatted)
    report = similarity.compare(assignment, text, {"ann": tidied.encode(), "ben": formatted.encode(),
                                                   "cat": disguise(formatted).encode()})
    assert report.too_small == ["ann", "ben", "cat"], [len(s.own) for s in report.compared]


def test_what_most_of_a_large_class_shares_is_an_idiom_not_a_copy() -> None:
    """Thirteen submissions that each paste the same helper (from a lecture, say) beside code of their own are
    not alike for it; a disguised copy among them still is."""
    own = [path for assignment_id in IDS if assignment_id != "09"
           for path in sorted((ALTERNATIVES / assignment_id).glob("*.py"))[:2]][:12]
    crawler = (ALTERNATIVES / "09" / "variant_c.py").read_text(encoding="utf-8")
    helper = next(n for n in ast.parse(crawler).body if isinstance(n, ast.FunctionDef) and n.name == "normalize_url")
    snippet = ast.get_source_segment(crawler, helper)
    assert snippet is not None
    modules: dict[str, bytes | None] = {f"s{i:02d}": f"{path.read_text(encoding='utf-8')}\n\n{snippet}\n".encode()
                                        for i, path in enumerate(own)}
    modules["s00-copy"] = disguise(f"{own[0].read_text(encoding='utf-8')}\n\n{snippet}\n").encode()
    assignment = MANIFEST.get("04")
    report = similarity.compare(assignment, stub(assignment), modules)
    assert report.common > 0
    assert [(p.a.student, p.b.student, p.score) for p in report.pairs[:1]] == [("s00", "s00-copy", 100.0)]
    assert report.pairs[1].score < 30, [(p.a.student, p.b.student, p.score) for p in report.pairs[:4]]


def test_the_stub_shared_by_two_partial_submissions_does_not_count() -> None:
    """Two students who each filled in different functions share only the stub: they are not alike. Without
    removing the stub's lines they share every signature and given line of it."""
    assignment = MANIFEST.get("09")
    source = solution_source("09")
    regions = source.count(BEGIN)
    evens, odds = set(range(0, regions, 2)), set(range(1, regions, 2))
    report = similarity.compare(assignment, stub(assignment), {"ann": partial(source, evens).encode(),
                                                               "ben": partial(source, odds).encode(),
                                                               "cat": partial(source, evens).encode()})
    scores = pairs(report)
    assert scores[frozenset({"ann", "cat"})] == 100.0  # the same half: alike, as they should be
    assert scores[frozenset({"ann", "ben"})] < 10, scores


def test_winnowing_keeps_the_rightmost_smallest_of_every_window() -> None:
    """The worked example of Schleimer, Wilkerson and Aiken (2003), windows of 4: fingerprints 17 17 8 39 17."""
    hashes = [77, 74, 42, 17, 98, 50, 17, 98, 8, 88, 67, 39, 77, 74, 42, 17, 98]
    kept = similarity.winnow(hashes, window=4)
    assert kept == [3, 6, 8, 11, 15]
    assert [hashes[i] for i in kept] == [17, 17, 8, 39, 17]
    assert similarity.winnow([77, 74, 42], window=4) == [2]  # shorter than a window: its smallest
    assert similarity.winnow([]) == []


# --- the command ---------------------------------------------------------------------------------------------


def write_class(root: Path, modules: dict[str, dict[str, str]]) -> Path:
    """A folder of checkouts: ``modules`` maps a student to {assignment id: module source}."""
    for student, files in modules.items():
        for assignment_id, text in files.items():
            path = root / student / "assignments" / assignment_id / MANIFEST.get(assignment_id).module
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five students on 01 and 04: a copier of the reference, the reference with a hostile line, two who have
    not started, and one independent solution."""
    root = tmp_path_factory.mktemp("class")
    modules: dict[str, dict[str, str]] = {}
    for assignment_id in ("01", "04"):
        assignment = MANIFEST.get(assignment_id)
        reference = solution_source(assignment_id)
        hostile = reference + f"\n\nMARK = {HOSTILE!r}  # {HOSTILE}\n"
        for student, text in (("alice", hostile), ("bob", disguise(reference)), ("dave", stub(assignment)),
                              ("erin", stub(assignment)),
                              ("frank", (ALTERNATIVES / assignment_id / "variant_b.py").read_text(encoding="utf-8"))):
            modules.setdefault(student, {})[assignment_id] = text
    return write_class(root, modules)


def test_the_command_writes_json_and_pages(class_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = run_grader("similarity", str(class_folder), "--out", str(out), "--top", "2")
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    assert [a["id"] for a in data["assignments"]] == [a.id for a in MANIFEST.assignments]
    for entry in (a for a in data["assignments"] if a["id"] in ("01", "04")):
        assert entry["not_started"] == ["dave", "erin"]
        assert entry["compared"] == ["alice", "bob", "frank"]
        assert entry["pairs_compared"] == 3 and len(entry["pairs"]) == 2
        first = entry["pairs"][0]
        assert (first["a"], first["b"], first["score"], first["flagged"]) == ("alice", "bob", 100.0, True)
        assert entry["pairs"][1]["score"] < similarity.FLAG_SCORE and not entry["pairs"][1]["flagged"]
        assert all((out / p["page"]).is_file() for p in entry["pairs"])
    untouched = next(a for a in data["assignments"] if a["id"] == "02")
    assert untouched["missing"] == ["alice", "bob", "dave", "erin", "frank"] and untouched["pairs"] == []
    assert sorted(p.name for p in (out / "pairs").iterdir()) == ["01-001.html", "01-002.html", "04-001.html",
                                                                 "04-002.html"]
    # A second run into the same folder replaces its pages: a pair no longer reported leaves no page behind.
    again = run_grader("similarity", str(class_folder), "--out", str(out), "--top", "1", "--assignment", "4")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (out / "pairs").iterdir()) == ["04-001.html"]


def test_a_report_inside_the_class_folder_is_no_student(tmp_path: Path) -> None:
    """Neither the report being written nor an earlier one, inside the folder of checkouts, is taken for one."""
    root = write_class(tmp_path / "class", {"ann": {"01": solution_source("01")}, "ben": {"01": "x = 1\n"}})
    for out in (root / "report", root / "other"):
        done = run_grader("similarity", str(root), "--out", str(out), "--assignment", "01")
        assert done.returncode == 0, done.stderr
        entry = json.loads((out / "similarity.json").read_text(encoding="utf-8"))["assignments"][0]
        assert (entry["compared"], entry["too_small"], entry["missing"]) == (["ann"], ["ben"], [])


def test_a_batch_results_folder_is_read_through_its_checkouts(class_folder: Path, tmp_path: Path) -> None:
    """A roster's batch keeps its clones in RESULTS/checkouts: the results folder itself may be given."""
    results = tmp_path / "results"
    (results / "students").mkdir(parents=True)
    (results / "summary.json").write_text("{}", encoding="utf-8")
    (results / "checkouts").symlink_to(class_folder, target_is_directory=True)
    out = tmp_path / "report"
    done = run_grader("similarity", str(results), "--out", str(out), "--assignment", "01")
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "similarity.json").read_text(encoding="utf-8"))
    assert data["assignments"][0]["compared"] == ["alice", "bob", "frank"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.style = ""
        self.policy = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        found = dict(attrs)
        if tag == "meta" and found.get("http-equiv") == "Content-Security-Policy":
            self.policy = found.get("content") or ""

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def test_pages_escape_hostile_code_and_allow_only_their_own_style(class_folder: Path, tmp_path: Path) -> None:
    """A submission holding ``</script>`` and an ``<img onerror>`` shows them as text; no page has a script, an
    image or anything from elsewhere, and the policy allows exactly the page's own style by its hash."""
    out = tmp_path / "report"
    assert run_grader("similarity", str(class_folder), "--out", str(out)).returncode == 0
    pages = [out / "index.html", *sorted((out / "pairs").glob("*.html"))]
    hostile_shown = False
    for page in pages:
        parsed = _Tags()
        parsed.feed(page.read_text(encoding="utf-8"))
        assert not {"script", "img", "iframe", "object", "link"} & set(parsed.tags), page.name
        digest = base64.b64encode(hashlib.sha256(parsed.style.encode()).digest()).decode()
        assert parsed.policy == (f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
                                 "form-action 'none'")
        hostile_shown |= HOSTILE in "".join(parsed.text)
    assert hostile_shown  # the hostile line is there, as text, on alice's side


@pytest.mark.parametrize("args, reason", [
    (["/nonexistent/class"], "do not exist"),
    (["{file}"], "is not a folder"),
    (["{one}"], "looks like one submission"),
    (["{class}", "--top", "0"], "expected a number >= 1"),
    (["{class}", "--assignment", "99"], "unknown assignment"),
    (["{class}", "--out", "{foreign}"], "was not written by `similarity`"),
    (["{results}"], "a results folder without checkouts/"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], reason: str, class_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "roster.txt").write_text("https://example.org/a.git\n", encoding="utf-8")
    (tmp_path / "one" / "assignments").mkdir(parents=True)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "results" / "students").mkdir(parents=True)
    (tmp_path / "results" / "summary.json").write_text("{}", encoding="utf-8")
    places = {"{results}": str(tmp_path / "results"), "{file}": str(tmp_path / "roster.txt"), "{one}": str(tmp_path / "one"), "{class}": str(class_folder),
              "{foreign}": str(tmp_path / "foreign")}
    given = [places.get(arg, arg) for arg in args]
    if "--out" not in given:
        given += ["--out", str(tmp_path / "report")]
    done = run_grader("similarity", *given)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and reason in done.stderr, done.stderr
    assert (tmp_path / "foreign" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_unparsable_and_unreadable_modules_are_listed_not_fatal() -> None:
    assignment = MANIFEST.get("01")
    reference = solution_source("01")
    report = similarity.compare(assignment, stub(assignment), {
        "ann": reference.encode(), "ben": reference.encode(), "cat": b"def broken(:\n", "dan": b"\xff\xfe\x00",
    }, problems={"eve": "why_async.py is reached through a symbolic link; submit regular files"})
    assert [p.score for p in report.pairs] == [100.0]
    assert report.unreadable == [("cat", "not valid Python (line 1): not compared"), ("dan", "not UTF-8 text"),
                                 ("eve", "why_async.py is reached through a symbolic link; submit regular files")]
