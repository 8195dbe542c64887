"""Every regular expression in bot/ and model/ runs in linear time, whatever the text.

A pattern passes when it is
* RE2 (``google-re2``): linear by construction; or
* Python ``re`` without unbounded repetition (no ``*``, ``+``, ``{n,}``): each start position
  tries a number of paths fixed by the pattern, so the work is linear in the text; or
* Python ``re`` with unbounded repetition in a module listed in ``REVIEWED`` (text that is not
  a chat message, or an anchored pattern whose repeated classes are disjoint), and in which the
  ReDoS checker ``regexploit`` finds nothing.

The patterns are found by reading the source (``ast``): every call of ``re.<function>`` or
``re2.<function>``. A literal pattern (or an f-string whose only parts are ``re.escape(...)``)
is checked as written; one built from module constants is checked as compiled, by importing
the module and collecting the compiled patterns it holds. Anything else fails: a pattern this
test cannot see is not proven linear.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import re2
from regexploit.ast.sre import SreOpParser
from regexploit.redos import find

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "model")
FUNCTIONS = {"compile", "search", "match", "fullmatch", "sub", "subn", "split", "findall",
             "finditer"}
FLAG_POSITION = {"compile": 1, "search": 2, "match": 2, "fullmatch": 2, "findall": 2,
                 "finditer": 2, "split": 3, "sub": 4, "subn": 4}
# Python re with unbounded repetition is allowed only here, each with the reason it is safe.
REVIEWED = {
    "bot.services.commands": "anchored command word; the classes repeated are disjoint",
    "bot.services.snapshot": "anchored command word; the classes repeated are disjoint",
    "bot.services.schedule": "an admin's interval argument, anchored at both ends",
    "bot.services.retrain": "the trainer's own log lines",
    "model.evaluate": "offline evaluation of model outputs",
}
OFFLINE = "model.data."  # corpus extraction: downloaded documentation, never a chat message


@dataclass(frozen=True)
class Found:
    where: str  # module:line or module.name
    module: str
    engine: str  # "re" | "re2"
    pattern: str | None
    flags: int = 0


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(p for p in parts if p != "__init__"), path


def _regex_call(node: ast.AST) -> tuple[str, str] | None:
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("re", "re2")
            and node.func.attr in FUNCTIONS):
        return node.func.value.id, node.func.attr
    return None


def _literal(node: ast.expr | None) -> str | None:
    """The pattern of a literal, or of an f-string of literals and ``re.escape(...)`` (any
    escaped text is a literal: checked as the literal ``x``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif (isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Call)
                  and ast.unparse(value.value.func) == "re.escape"):
                parts.append("x")
            else:
                return None
        return "".join(parts)
    return None


def _flags(call: ast.Call, function: str) -> int:
    node = next((k.value for k in call.keywords if k.arg == "flags"), None)
    if node is None and len(call.args) > FLAG_POSITION[function]:
        node = call.args[FLAG_POSITION[function]]
    if node is None:
        return 0
    value = eval(compile(ast.Expression(node), "<flags>", "eval"), {"re": re})
    return int(value)


def _collected(value: object, seen: set[int]) -> Iterator[object]:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern | re2._Regexp):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _collected(item, seen)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _collected(item, seen)


def find_patterns() -> tuple[list[Found], list[str]]:
    """Every pattern in bot/ and model/, and the calls whose pattern cannot be checked."""
    found: list[Found] = []
    unseen: list[str] = []
    for module, path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_level: set[str] = set()  # names assigned at module level from a regex call
        for statement in tree.body:
            in_function = isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef
                                     | ast.ClassDef)
            for node in ast.walk(statement):
                if not (call := _regex_call(node)):
                    continue
                assert isinstance(node, ast.Call)
                engine, function = call
                where = f"{module}:{node.lineno}"
                pattern = _literal(node.args[0] if node.args else None)
                if engine == "re2":
                    found.append(Found(where, module, engine, pattern))
                elif pattern is not None:
                    found.append(Found(where, module, engine, pattern, _flags(node, function)))
                elif not in_function and isinstance(statement, ast.Assign | ast.AnnAssign):
                    targets = (statement.targets if isinstance(statement, ast.Assign)
                               else [statement.target])
                    module_level.update(t.id for t in targets if isinstance(t, ast.Name))
                else:
                    unseen.append(f"{where}: {ast.unparse(node)[:100]}")
        if module_level:  # patterns built from module constants: check them as compiled
            namespace = vars(importlib.import_module(module))
            seen: set[int] = set()
            for name in sorted(module_level):
                for compiled in _collected(namespace[name], seen):
                    if isinstance(compiled, re.Pattern):
                        found.append(Found(f"{module}.{name}", module, "re", compiled.pattern,
                                           compiled.flags))
                    else:
                        found.append(Found(f"{module}.{name}", module, "re2", None))
    return found, unseen


def _unbounded(parsed: object) -> bool:
    """Whether a parsed pattern has a repetition without an upper bound."""
    for op, av in parsed:  # type: ignore[attr-defined]
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT,
                  sre_constants.POSSESSIVE_REPEAT):
            if av[1] == sre_constants.MAXREPEAT or _unbounded(av[2]):
                return True
        elif op in (sre_constants.SUBPATTERN, sre_constants.ATOMIC_GROUP):
            if _unbounded(av[-1]):
                return True
        elif op == sre_constants.BRANCH:
            if any(_unbounded(branch) for branch in av[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if _unbounded(av[1]):
                return True
        elif op == sre_constants.GROUPREF_EXISTS and any(
                branch is not None and _unbounded(branch) for branch in av[1:]):
            return True
    return False


def redos(pattern: str, flags: int = 0) -> list[str]:
    """What regexploit finds in a pattern (polynomial or exponential backtracking)."""
    parsed = SreOpParser().parse_sre(pattern, flags)
    return [f"starriness {r.starriness}: {r.example()}" for r in find(parsed)]


def verdict(item: Found) -> str | None:
    """None when the pattern is proven linear; else why not."""
    if item.engine == "re2":
        return None
    assert item.pattern is not None
    if not _unbounded(sre_parse.parse(item.pattern, item.flags)):
        return None
    if not (item.module.startswith(OFFLINE) or item.module in REVIEWED):
        return "unbounded repetition on possible chat text: use RE2 (re2.compile)"
    problems = redos(item.pattern, item.flags)
    return "; ".join(problems) if problems else None


def test_every_pattern_is_linear() -> None:
    found, unseen = find_patterns()
    assert not unseen, f"patterns this test cannot check: {unseen}"
    failures = {f"{item.where} {item.pattern!r}": why for item in found
                if (why := verdict(item)) is not None}
    assert not failures, failures
    # the modules that read every chat message use RE2 only
    for module in ("model.routing_rules", "model.tokenizer"):
        assert {item.engine for item in found if item.module == module} == {"re2"}, module
    assert len([item for item in found if item.module == "model.routing_rules"]) >= 20


def test_the_checks_reject_the_old_patterns() -> None:
    """The cubic routing rule and the quadratic printf pattern of issue 13 would fail."""
    old_rule = (r"^\s*(?:please\s+)?translate\s+(?P<text>.+?)\s+(?:in)?to\s+"
                r"(?P<lang>english|chinese)\s*[.!]?\s*$")
    old_printf = r"%(?:\d+\$)?[-+#0]*\d*(?:\.\d+)?[hlLqjzt]*[sdifuxXeEgGcpo]"
    for pattern in (old_rule, old_printf):
        item = Found("bot.services.routing:1", "bot.services.routing", "re", pattern,
                     re.I | re.S)
        assert verdict(item) is not None
    assert redos(old_rule, re.I | re.S)  # regexploit itself sees the cubic one
    assert verdict(Found("m:1", "m", "re", r"@x\b", re.I)) is None  # no repetition: linear
