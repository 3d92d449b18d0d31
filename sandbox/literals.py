"""The test grammar: what a test is, and how a returned value is compared with its expectation.

One module for both sides: the host validates every test with it before a run (the evidence
rule, ``nodes/support/evidence.py``), and the in-sandbox harness (shipped next to it as
``_literals.py``) parses and compares with it. Standard library only.

A function test is data::

    call:     <function_name>(<literal>, ..., <keyword>=<literal>, ...)
    expected: <literal>

A literal is ``None``, ``True``/``False``, an int, a float (``float('inf')``, ``float('nan')``
and ``float('-inf')`` included), a complex (``1+2j``), a string, bytes, or a list, tuple,
set, frozenset or dict of literals (``set()``, ``frozenset({...})``, ``tuple()``, ``list()``,
``dict()`` for the empty and frozen ones). A leading ``-``/``+`` on a number is allowed; no
other operator, name, attribute, subscript, comparison or call. Sizes are bounded so that
parsing can never exhaust the host (``MAX_TEXT``, ``MAX_DEPTH``, ``MAX_ITEMS``,
``MAX_INT_DIGITS``).

Values travel as *canonical trees* (JSON), never as live objects::

    ["none"] ["bool", b] ["int", "<digits>"] ["float", "<repr>"] ["complex", "<re>", "<im>"]
    ["str", s] ["bytes", "<hex>"] ["list"|"tuple"|"set"|"frozenset", [trees]]
    ["dict", [[key, value], ...]] ["opaque", "<type name>", "<repr excerpt>"]

Comparison (``equal``) is type-strict: ``True`` is not ``1``, ``1.0`` is not ``1``, a tuple is
not a list, a set is not a frozenset, and an opaque value (an object the harness cannot rebuild)
equals nothing. Floats compare within ``rel_tol`` 1e-9 (rounding noise) or, when the test
states one, an absolute ``tolerance``; NaN equals only NaN. Set elements and dict keys compare
exactly, by their canonical form.
"""

from __future__ import annotations

import ast
import json
import math
import re

MAX_TEXT = 20_000  # characters of a call or an expected value
MAX_DEPTH = 24  # nesting of containers (and of brackets in the text)
MAX_ITEMS = 20_000  # values in one literal, all levels together
MAX_INT_DIGITS = 4_000  # below Python's int<->str conversion limit (4,300)
REL_TOL = 1e-9
_INT = re.compile(rf"-?\d{{1,{MAX_INT_DIGITS}}}")
_SPECIAL_FLOATS = {"inf", "-inf", "+inf", "nan", "infinity", "-infinity", "+infinity"}
_CONTAINERS = ("list", "tuple", "set", "frozenset")
_EMPTY_CONSTRUCTORS = {"set": set, "tuple": tuple, "list": list, "dict": dict,
                       "frozenset": frozenset}  # fmt: skip


class GrammarError(ValueError):
    """The text is not a test in the grammar; the message says why, for the test's author."""


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _parse(text: str, what: str) -> ast.expr:
    if not isinstance(text, str):
        raise GrammarError(f"{what} must be text")
    if len(text) > MAX_TEXT:
        raise GrammarError(f"{what} is {len(text):,} characters long (at most {MAX_TEXT:,})")
    if _bracket_depth(text) > MAX_DEPTH:
        raise GrammarError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise GrammarError(f"{what} is not valid Python: {type(exc).__name__}") from None


class _Budget:
    def __init__(self) -> None:
        self.items = 0

    def take(self) -> None:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise GrammarError(f"the value has more than {MAX_ITEMS:,} elements")


def _number(value: object) -> bool:
    return type(value) in (int, float, complex)


def _literal(node: ast.expr, budget: _Budget, depth: int = 0) -> object:
    budget.take()
    if depth > MAX_DEPTH:
        raise GrammarError(f"the value is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        value = node.value
        if value is Ellipsis:
            raise GrammarError("... is not a value")
        if type(value) is int and len(str(abs(value))) > MAX_INT_DIGITS:
            raise GrammarError(f"an integer has more than {MAX_INT_DIGITS:,} digits")
        return value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(item, budget, depth + 1) for item in node.elts]
        try:
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        except TypeError as exc:  # unhashable set element
            raise GrammarError(f"not a valid set: {exc}") from None
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise GrammarError("a dict literal cannot unpack another (**)")
        pairs = [(_literal(k, budget, depth + 1), _literal(v, budget, depth + 1))
                 for k, v in zip(node.keys, node.values, strict=True)]  # fmt: skip
        try:
            return dict(pairs)
        except TypeError as exc:
            raise GrammarError(f"not a valid dict: {exc}") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, budget, depth + 1)
        if not _number(value):
            raise GrammarError("a sign applies to numbers only")
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        # only a complex number written as real +/- imaginary, e.g. 1+2j
        left = _literal(node.left, budget, depth + 1)
        right = _literal(node.right, budget, depth + 1)
        if type(left) in (int, float) and type(right) is complex and right.real == 0:
            return left + right if isinstance(node.op, ast.Add) else left - right
        raise GrammarError("no arithmetic: write the value itself (e.g. 15, not 10 + 5)")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _constructor(node, budget, depth)
    raise GrammarError(f"not a literal value ({type(node).__name__}): write the value itself")


def _constructor(node: ast.Call, budget: _Budget, depth: int) -> object:
    name = node.func.id  # type: ignore[attr-defined]
    args = node.args
    if name == "float" and len(args) == 1 and isinstance(args[0], ast.Constant):
        text = args[0].value
        if isinstance(text, str) and text.strip().lower() in _SPECIAL_FLOATS:
            return float(text)
    if name in _EMPTY_CONSTRUCTORS and not args:
        return _EMPTY_CONSTRUCTORS[name]()
    if name == "frozenset" and len(args) == 1 and isinstance(args[0], (ast.Set, ast.List,
                                                                       ast.Tuple)):  # fmt: skip
        items = _literal(args[0], budget, depth + 1)
        try:
            return frozenset(items)  # type: ignore[arg-type]
        except TypeError as exc:
            raise GrammarError(f"not a valid frozenset: {exc}") from None
    raise GrammarError(
        f"{name}(...) is a call: only float('inf'|'-inf'|'nan'), set(), frozenset({{...}}) and "
        "empty tuple()/list()/dict() are allowed in a literal"
    )


def parse_literal(text: str, what: str = "the value") -> object:
    """The Python value a literal denotes; ``GrammarError`` (saying why) for anything else."""
    return _literal(_parse(text, what), _Budget())


def parse_call(text: str, function_name: str) -> tuple[list[object], dict[str, object]]:
    """``(args, kwargs)`` of ``function_name(<literals>, <kw>=<literals>)``; ``GrammarError``
    for anything else (another function, an expression around the call, a comparison...)."""
    node = _parse(text, "the call")
    shape = f"the call must be {function_name}(<literal arguments>) and nothing else"
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise GrammarError(f"{shape}; got {type(node).__name__}")
    if node.func.id != function_name:
        raise GrammarError(f"{shape}; it calls {node.func.id}()")
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
        keyword.arg is None for keyword in node.keywords
    ):
        raise GrammarError(f"{shape}; no * or ** unpacking")
    budget = _Budget()
    try:
        args = [_literal(arg, budget) for arg in node.args]
        kwargs = {keyword.arg: _literal(keyword.value, budget) for keyword in node.keywords}
    except GrammarError as exc:
        raise GrammarError(f"{shape}: an argument is not a literal ({exc})") from None
    return args, kwargs  # type: ignore[return-value]


# ---- canonical trees ----------------------------------------------------------------------


def canonical(value: object, depth: int = 0) -> list:
    """The canonical tree of a value built by ``parse_literal`` (host or harness side)."""
    if depth > MAX_DEPTH + 2:
        raise GrammarError("the value is nested too deeply")
    kind = type(value)
    if value is None:
        return ["none"]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return ["int", str(value)]
    if kind is float:
        return ["float", repr(value)]
    if kind is complex:
        return ["complex", repr(value.real), repr(value.imag)]  # type: ignore[union-attr]
    if kind is str:
        return ["str", value]
    if kind is bytes:
        return ["bytes", value.hex()]  # type: ignore[union-attr]
    if kind in (list, tuple):
        return [kind.__name__, [canonical(item, depth + 1) for item in value]]  # type: ignore[attr-defined]
    if kind in (set, frozenset):
        items = [canonical(item, depth + 1) for item in value]  # type: ignore[attr-defined]
        return [kind.__name__, sorted(items, key=_key)]
    if kind is dict:
        pairs = [[canonical(k, depth + 1), canonical(v, depth + 1)]
                 for k, v in value.items()]  # type: ignore[attr-defined]  # fmt: skip
        return ["dict", sorted(pairs, key=lambda pair: _key(pair[0]))]
    raise GrammarError(f"{kind.__name__} is not a literal type")


def _key(tree: list) -> str:
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=True)


def _float_text(text: object) -> str:
    if not isinstance(text, str) or len(text) > 40:
        raise GrammarError("malformed float")
    try:
        return repr(float(text))
    except ValueError:
        raise GrammarError("malformed float") from None


def checked(tree: object, budget: _Budget | None = None, depth: int = 0) -> list:
    """``tree`` re-built from untrusted JSON (what the program's worker reported): only the
    shapes above, within the size bounds, with floats and sets in canonical form."""
    budget = budget or _Budget()
    budget.take()
    if depth > MAX_DEPTH + 2:
        raise GrammarError("the answer is nested too deeply")
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise GrammarError("malformed answer")
    kind, rest = tree[0], tree[1:]
    if kind == "none" and not rest:
        return ["none"]
    if kind == "bool" and len(rest) == 1 and type(rest[0]) is bool:
        return ["bool", rest[0]]
    if kind == "int" and len(rest) == 1 and isinstance(rest[0], str) and _INT.fullmatch(rest[0]):
        return ["int", str(int(rest[0]))]
    if kind == "float" and len(rest) == 1:
        return ["float", _float_text(rest[0])]
    if kind == "complex" and len(rest) == 2:
        return ["complex", _float_text(rest[0]), _float_text(rest[1])]
    if kind == "str" and len(rest) == 1 and isinstance(rest[0], str):
        return ["str", rest[0]]
    if kind == "bytes" and len(rest) == 1 and isinstance(rest[0], str):
        try:
            return ["bytes", bytes.fromhex(rest[0]).hex()]
        except ValueError:
            raise GrammarError("malformed bytes") from None
    if kind in _CONTAINERS and len(rest) == 1 and isinstance(rest[0], list):
        items = [checked(item, budget, depth + 1) for item in rest[0]]
        return [kind, sorted(items, key=_key) if kind in ("set", "frozenset") else items]
    if kind == "dict" and len(rest) == 1 and isinstance(rest[0], list):
        pairs = []
        for pair in rest[0]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise GrammarError("malformed dict")
            pairs.append([checked(pair[0], budget, depth + 1), checked(pair[1], budget, depth + 1)])
        return ["dict", sorted(pairs, key=lambda pair: _key(pair[0]))]
    if kind == "opaque" and len(rest) == 2 and all(isinstance(r, str) for r in rest):
        return ["opaque", rest[0][:100], rest[1][:500]]
    raise GrammarError(f"malformed answer ({kind[:20]!r})")


def _floats_equal(actual: str, expected: str, tolerance: float | None) -> bool:
    a, e = float(actual), float(expected)
    if math.isnan(a) or math.isnan(e):
        return math.isnan(a) and math.isnan(e)
    if math.isinf(a) or math.isinf(e):
        return a == e
    if tolerance is not None:
        return abs(a - e) <= tolerance
    return math.isclose(a, e, rel_tol=REL_TOL, abs_tol=0.0)


def equal(actual: list, expected: list, tolerance: float | None = None) -> bool:
    """Type-strict equality of two canonical trees (see the module docstring)."""
    kind = expected[0]
    if actual[0] != kind or kind == "opaque":
        return False
    if kind == "float":
        return _floats_equal(actual[1], expected[1], tolerance)
    if kind == "complex":
        return _floats_equal(actual[1], expected[1], tolerance) and _floats_equal(
            actual[2], expected[2], tolerance
        )
    if kind in ("list", "tuple"):
        return len(actual[1]) == len(expected[1]) and all(
            equal(a, e, tolerance) for a, e in zip(actual[1], expected[1], strict=True)
        )
    if kind in ("set", "frozenset"):
        return [_key(a) for a in actual[1]] == [_key(e) for e in expected[1]]
    if kind == "dict":
        if [_key(k) for k, _ in actual[1]] != [_key(k) for k, _ in expected[1]]:
            return False
        return all(
            equal(a, e, tolerance) for (_, a), (_, e) in zip(actual[1], expected[1], strict=True)
        )
    return actual == expected


def render(tree: list, limit: int = 2000) -> str:
    """A Python-like text of a canonical tree, for feedback (bounded)."""
    parts: list[str] = []
    _render(tree, parts, [0], limit)
    text = "".join(parts)
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def _render(tree: list, out: list[str], size: list[int], limit: int) -> None:
    if size[0] > limit:
        return
    kind = tree[0]
    if kind == "none":
        text = "None"
    elif kind in ("bool", "str"):
        text = repr(tree[1])
    elif kind == "int":
        text = tree[1]
    elif kind == "float":
        value = float(tree[1])
        text = f"float({tree[1]!r})" if math.isinf(value) or math.isnan(value) else tree[1]
    elif kind == "complex":
        text = repr(complex(float(tree[1]), float(tree[2])))
    elif kind == "bytes":
        text = repr(bytes.fromhex(tree[1]))
    elif kind == "opaque":
        text = tree[2]
    else:
        _render_container(tree, out, size, limit)
        return
    out.append(text)
    size[0] += len(text)


def _render_container(tree: list, out: list[str], size: list[int], limit: int) -> None:
    kind, items = tree
    if kind == "dict":
        out.append("{")
        for index, (key, value) in enumerate(items):
            out.append(", " if index else "")
            _render(key, out, size, limit)
            out.append(": ")
            _render(value, out, size, limit)
        out.append("}")
        return
    if kind in ("set", "frozenset") and not items:
        out.append(f"{kind}()")
        return
    opening, closing = {"list": ("[", "]"), "tuple": ("(", ")"), "set": ("{", "}"),
                        "frozenset": ("frozenset({", "})")}[kind]  # fmt: skip
    out.append(opening)
    for index, item in enumerate(items):
        out.append(", " if index else "")
        _render(item, out, size, limit)
    out.append("," + closing if kind == "tuple" and len(items) == 1 else closing)


def type_name(tree: list) -> str:
    return tree[1] if tree[0] == "opaque" else tree[0]


# ---- standard input / output -----------------------------------------------------------------

_TRAILING = " \t\r\f\v"


def normalise_stdout(text: str) -> str:
    """The one normalisation of program output before it is compared: trailing spaces and
    tabs (and a carriage return) on each line, and trailing empty lines, are ignored. Lines are
    split on newline characters only; leading whitespace and everything else is exact."""
    lines = [line.rstrip(_TRAILING) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
