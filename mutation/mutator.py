"""The mutator: small, deliberate mistakes in the solution regions of a reference solution.

Only code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is mutated:
that is what a student writes, so that is what the tests must judge. Each
mutant is the original text with one span replaced, so comments, markers and
every other line stay byte for byte as they were. A replacement is accepted
only when the mutated module parses to exactly the intended tree (a
parenthesized form is tried when the bare one would parse differently) and
compiles; anything else is counted as skipped, never graded.
"""
from __future__ import annotations

import ast
import copy
import difflib
import hashlib
from collections import Counter
from dataclasses import dataclass, field

from grader.stubs import _MARKER as MARKER  # the grader's own region syntax, so both always agree

OPERATORS = ("arith", "compare", "boolean", "constant", "statement", "await", "cleanup",
             "return", "loop", "index")

# One replacement per operator, the classic near-miss of each (a boundary, a sign, a negation).
_BINOPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
    ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.BitXor: ast.BitOr,
}
_CMPOPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}
# Calls whose only purpose is to release something: dropping one is a forgotten clean-up.
CLEANUP_CALLS = frozenset({"cancel", "close", "aclose", "wait_closed", "shutdown", "cleanup", "release",
                           "removeHandler", "remove_handler", "unlink", "cancel_all"})


@dataclass(frozen=True)
class Region:
    """Lines ``first``..``last`` (1-based, inclusive) between a pair of solution markers."""

    first: int
    last: int

    def holds(self, node: ast.AST) -> bool:
        """True when every line of ``node`` is inside the region."""
        return self.first <= node.lineno and node.end_lineno is not None and node.end_lineno <= self.last  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Mutant:
    """One mutated module: where it differs from the solution, and its stable id."""

    id: str
    assignment: str
    function: str
    operator: str
    line: int
    original: str  # the original lines the change touches
    mutated: str  # what replaces them
    source: str = field(repr=False)  # the whole mutated module

    def diff(self, name: str = "module.py") -> str:
        """A unified diff of the solution against this mutant (no context lines)."""
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.mutated.splitlines(keepends=True),
                                            f"a/{name}:{self.line}", f"b/{name}:{self.line}", n=0)).rstrip("\n")


@dataclass
class Generated:
    """The mutants of one module, and how many candidate changes were dropped and why."""

    mutants: list[Mutant]
    skipped: Counter[str]


def solution_regions(source: str) -> list[Region]:
    """The solution regions of ``source``: the lines strictly between each BEGIN/END marker pair."""
    regions: list[Region] = []
    begin: int | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.match(line)
        if match is None:
            continue
        if match["kind"] == "BEGIN":
            begin = number
        elif begin is not None:
            if number - 1 > begin:
                regions.append(Region(begin + 1, number - 1))
            begin = None
    return regions


# A candidate: the operator, the node (or statement list slice) replaced, and what replaces it.
@dataclass
class _Candidate:
    operator: str
    function: str
    target: ast.AST  # the (first) node whose source span is replaced
    new: ast.AST | list[ast.stmt]  # its replacement: an expression/statement, or statements
    last: ast.AST | None = None  # the last statement of a run of statements replaced together


class _Finder:
    """Walks the module in source order and proposes candidates inside solution regions."""

    def __init__(self, regions: list[Region]) -> None:
        self.regions = regions
        self.found: list[_Candidate] = []
        # A function's final ``return x`` removed is ``return None``: only the return operator proposes it.
        self.tails: set[int] = set()
        # Exception messages: the contracts name exception types, never their text.
        self.messages: set[int] = set()

    def inside(self, node: ast.AST) -> bool:
        return hasattr(node, "lineno") and any(r.holds(node) for r in self.regions)

    def walk(self, node: ast.AST, scope: tuple[str, ...]) -> None:
        """Propose candidates for ``node`` and everything under it; ``scope`` names the enclosing function."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = (*scope, node.name)
            if not isinstance(node, ast.ClassDef) and node.body:
                self.tails.add(id(node.body[-1]))
            # Decorators, annotations and defaults stay as written; only bodies are student code.
            for child in node.body:
                self.walk(child, scope)
            return
        if isinstance(node, ast.Lambda):
            self.walk(node.body, scope)
            return
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            self.messages.update(id(arg) for arg in node.exc.args
                                 if isinstance(arg, ast.JoinedStr) or isinstance(arg, ast.Constant)
                                 and isinstance(arg.value, str))
        if isinstance(node, ast.JoinedStr):
            # f-string parts carry unreliable positions on 3.11: only the whole string is replaced.
            if (self.inside(node) and id(node) not in self.messages
                    and any(isinstance(v, ast.Constant) and v.value for v in node.values)):
                self.add("constant", scope, node, ast.Constant(""))
            return
        if self.inside(node):
            self.propose(node, scope)
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    self.walk(child, scope)

    def add(self, operator: str, scope: tuple[str, ...], target: ast.AST, new: ast.AST | list[ast.stmt],
            last: ast.AST | None = None) -> None:
        self.found.append(_Candidate(operator, ".".join(scope) or "<module>", target, new, last))

    def propose(self, node: ast.AST, scope: tuple[str, ...]) -> None:
        if isinstance(node, ast.stmt):
            self.propose_statement(node, scope)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self.add("arith", scope, node, ast.BinOp(node.left, _BINOPS[type(node.op)](), node.right))
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMPOPS:
                    ops = [*node.ops[:i], _CMPOPS[type(op)](), *node.ops[i + 1:]]
                    self.add("compare", scope, node, ast.Compare(node.left, ops, node.comparators))
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self.add("boolean", scope, node, ast.BoolOp(other, node.values))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.add("boolean", scope, node, node.operand)
        elif isinstance(node, ast.Constant) and id(node) not in self.messages:
            new = _constant(node.value)
            if new is not None:
                self.add("constant", scope, node, ast.Constant(new))
        elif isinstance(node, ast.Await):
            self.add("await", scope, node, node.value)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            self.propose_index(node, scope)

    def propose_statement(self, node: ast.stmt, scope: tuple[str, ...]) -> None:
        # An assert never fails in a correct solution (here they narrow types), so removing one changes nothing.
        if isinstance(node, (ast.Pass, ast.Global, ast.Nonlocal, ast.Assert)) or _is_docstring(node):
            return
        if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            self.add("return", scope, node, ast.Return(ast.Constant(None)))
        if isinstance(node, ast.Break):
            self.add("loop", scope, node, ast.Continue())
            return
        if isinstance(node, ast.Continue):
            self.add("loop", scope, node, ast.Break())
            return
        if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
            self.add("cleanup", scope, node.finalbody[0], [ast.Pass()], node.finalbody[-1])
        if isinstance(node, ast.With | ast.AsyncWith):
            self.add("cleanup", scope, node, _without_exit(node))
        if isinstance(node, ast.Return) and id(node) in self.tails:
            return
        self.add("cleanup" if _is_cleanup_call(node) else "statement", scope, node, [ast.Pass()])

    def propose_index(self, node: ast.Subscript, scope: tuple[str, ...]) -> None:
        index = node.slice
        if isinstance(index, ast.Slice):
            for bound in ("lower", "upper"):
                value = getattr(index, bound)
                if value is not None:
                    new_slice = copy.copy(index)
                    setattr(new_slice, bound, _off_by_one(value))
                    self.add("index", scope, node, ast.Subscript(node.value, new_slice, ast.Load()))
        elif isinstance(index, ast.BinOp) or (isinstance(index, ast.Constant) and type(index.value) is int):
            self.add("index", scope, node, ast.Subscript(node.value, _off_by_one(index), ast.Load()))


def _off_by_one(value: ast.expr) -> ast.expr:
    """``value`` one further: a literal integer changed in place, anything else ``+ 1``."""
    if isinstance(value, ast.Constant) and type(value.value) is int:
        return ast.Constant(_constant(value.value))
    return ast.BinOp(value, ast.Add(), ast.Constant(1))


def _constant(value: object) -> object | None:
    """The mutated value of a literal, or None to leave it alone."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return {0: 1, 1: 0}.get(value, value + 1)
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str):
        return "" if value else "mutant"
    if isinstance(value, bytes):
        return b"" if value else b"mutant"
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_cleanup_call(node: ast.stmt) -> bool:
    if not isinstance(node, ast.Expr):
        return False
    call = node.value.value if isinstance(node.value, ast.Await) else node.value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr in CLEANUP_CALLS)


def _without_exit(node: ast.With | ast.AsyncWith) -> list[ast.stmt]:
    """The with statement's body run after entering each context manager, which is never exited."""
    enter = "__aenter__" if isinstance(node, ast.AsyncWith) else "__enter__"
    out: list[ast.stmt] = []
    for item in node.items:
        value: ast.expr = ast.Call(ast.Attribute(item.context_expr, enter, ast.Load()), [], [])
        if isinstance(node, ast.AsyncWith):
            value = ast.Await(value)
        if item.optional_vars is None:
            out.append(ast.Expr(value))
        else:
            out.append(ast.Assign([item.optional_vars], value, lineno=0))
    return [*out, *node.body]


class _Source:
    """The module's text, addressed the way ``ast`` positions are (1-based lines, UTF-8 byte columns)."""

    def __init__(self, text: str) -> None:
        self.lines = [line.encode() for line in text.splitlines(keepends=True)]

    def replace(self, node: ast.AST, end: ast.AST, text: str) -> str:
        """The text with the span from the start of ``node`` to the end of ``end`` replaced by ``text``."""
        first, last = node.lineno - 1, end.end_lineno - 1  # type: ignore[attr-defined]
        head = self.lines[first][: node.col_offset]  # type: ignore[attr-defined]
        tail = self.lines[last][end.end_col_offset:]  # type: ignore[attr-defined]
        middle = head + text.encode() + tail
        return b"".join([*self.lines[:first], middle, *self.lines[last + 1:]]).decode()

    def span_lines(self, node: ast.AST, end: ast.AST) -> str:
        """The whole lines from the start of ``node`` to the end of ``end``."""
        return b"".join(self.lines[node.lineno - 1: end.end_lineno]).decode()  # type: ignore[attr-defined]


def _render(new: ast.AST | list[ast.stmt], indent: str) -> list[str]:
    """Candidate texts for a replacement: bare first, then parenthesized for expressions."""
    if isinstance(new, list):
        lines = "\n".join(ast.unparse(stmt) for stmt in new).splitlines()
        return ["\n".join([lines[0], *(indent + line if line else line for line in lines[1:])])]
    text = ast.unparse(new)
    if isinstance(new, ast.stmt):
        return [text.replace("\n", "\n" + indent)]
    return [text, f"({text})"]


def _parents(tree: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    """Every node's parent, the field holding it and its index in that field (None for a single node)."""
    out: dict[int, tuple[ast.AST, str, int | None]] = {}
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for i, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        out[id(child)] = (parent, name, i)
            elif isinstance(value, ast.AST):
                out[id(value)] = (parent, name, None)
    return out


def _top_index(parents: dict[int, tuple[ast.AST, str, int | None]], node: ast.AST) -> int:
    """The index in the module's body of the top-level statement that holds ``node``."""
    parent, _, index = parents[id(node)]
    while not isinstance(parent, ast.Module):
        node = parent
        parent, _, index = parents[id(node)]
    assert index is not None
    return index


def _dump_top(module: ast.Module, top: int, original_length: int) -> str:
    """The dump of what stands where top-level statement ``top`` stood (one statement, or a few)."""
    grown = len(module.body) - original_length
    return "\n".join(ast.dump(stmt) for stmt in module.body[top: top + 1 + grown])


def _intended(tree: ast.Module, parents: dict[int, tuple[ast.AST, str, int | None]],
              target: ast.AST, end: ast.AST, new: ast.AST | list[ast.stmt], top: int) -> str:
    """What ``_dump_top`` gives for ``tree`` with ``target``..``end`` replaced by ``new`` (``tree`` is restored)."""
    length = len(tree.body)
    parent, name, index = parents[id(target)]
    old = getattr(parent, name)
    if index is None:
        setattr(parent, name, new)
    else:
        stop = parents[id(end)][2]
        assert stop is not None
        replacement = new if isinstance(new, list) else [new]
        setattr(parent, name, [*old[:index], *replacement, *old[stop + 1:]])
    try:
        # Only the top-level statement holding the change can differ: the text around it is unchanged.
        return _dump_top(tree, top, length)
    finally:
        setattr(parent, name, old)


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def _normalized(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines())


def mutants_of(source: str, assignment: str, *, name: str = "<module>") -> Generated:
    """Every mutant of the solution regions of ``source``, in source order, duplicates removed.

    A mutant's id is ``assignment:function:operator:index:hash``: the index
    counts that operator's mutants within the function, the hash is over the
    changed lines before and after (whitespace at either end of a line
    ignored), so an id survives edits elsewhere in the module.
    """
    tree = ast.parse(source, filename=name)
    finder = _Finder(solution_regions(source))
    finder.walk(tree, ())
    text = _Source(source)
    parents = _parents(tree)
    skipped: Counter[str] = Counter()
    # By tree, so two spellings of one change count once, and a change that changes nothing not at all.
    seen: set[tuple[int, str]] = {(top, ast.dump(stmt)) for top, stmt in enumerate(tree.body)}
    counters: Counter[tuple[str, str]] = Counter()
    mutants: list[Mutant] = []
    for candidate in finder.found:
        target = candidate.target
        end = candidate.last or target
        top = _top_index(parents, target)
        expected = _intended(tree, parents, target, end, candidate.new, top)
        indent = " " * target.col_offset  # type: ignore[attr-defined]
        mutated: str | None = None
        problem = "not expressible in place"  # every rendering parsed to a different tree
        for rendered in _render(candidate.new, indent):
            attempt = text.replace(target, end, rendered)
            try:
                parsed = ast.parse(attempt, filename=name)
                if _dump_top(parsed, top, len(tree.body)) != expected:
                    continue
                # Parsing does not catch everything: "await" outside an async function is a compile error.
                compile(parsed, name, "exec", dont_inherit=True)
            except SyntaxError:
                problem = "does not compile"
                continue
            mutated = attempt
            break
        if mutated is None:
            skipped[f"{candidate.operator}: {problem}"] += 1
            continue
        if (top, expected) in seen:
            skipped[f"{candidate.operator}: duplicate"] += 1
            continue
        seen.add((top, expected))
        original = text.span_lines(target, end)
        changed = _changed_lines(mutated, target, end, len(text.lines))
        key = (candidate.function, candidate.operator)
        index = counters[key]
        counters[key] += 1
        digest = _short_hash(candidate.function, candidate.operator, _normalized(original), _normalized(changed))
        mutants.append(Mutant(id=f"{assignment}:{candidate.function}:{candidate.operator}:{index}:{digest}",
                              assignment=assignment, function=candidate.function, operator=candidate.operator,
                              line=target.lineno, original=original, mutated=changed,  # type: ignore[attr-defined]
                              source=mutated))
    return Generated(mutants, skipped)


def _changed_lines(mutated: str, target: ast.AST, end: ast.AST, original_count: int) -> str:
    """The lines of ``mutated`` that stand where the target's original lines stood."""
    lines = mutated.splitlines(keepends=True)
    unchanged_after = original_count - end.end_lineno  # type: ignore[attr-defined]
    return "".join(lines[target.lineno - 1: len(lines) - unchanged_after])  # type: ignore[attr-defined]
