"""Parse: `.attn` source text -> `syntax.Module`, or a `SpecError` with a positioned message.

The grammar is grammar/attn.lark (LALR, contextual lexer). Syntax errors are turned into
human messages here: what was found, what was expected (grouped: "a statement", "an
expression", "an operator"), and a hint for the common slips (`=` for `==`, `&&` for `and`,
a reserved word used as a name). After a syntax error the parser skips the broken statement
and goes on, so each broken statement is reported; elaboration runs only on a file that parses.
"""

from __future__ import annotations

import functools
import re

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import syntax as S
from .errors import Diagnostic, SpecError
from ..resources import data_dir

STATEMENT_KEYWORDS = ("param", "input", "let", "mask", "score", "norm", "feature", "decay", "scale", "tile")
RESERVED_WORDS = frozenset(
    STATEMENT_KEYWORDS
    + ("attention", "softmax", "sink", "sum", "none", "learnable", "sorted", "and", "or", "not", "true", "false")
)

_STATEMENT_TERMINALS = {kw.upper() for kw in STATEMENT_KEYWORDS}
_OPERAND_TERMINALS = {"NAME", "NUMBER", "LPAR", "UNARY_OP", "TRUE", "FALSE", "NOT"}
_OPERATOR_TERMINALS = {"ADD_OP", "MUL_OP", "POW", "COMP_OP", "AND", "OR"}
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a "doc string"',
    "$END": "the end of the file",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*', '/', '//' or '%'",
    "UNARY_OP": "'-'",
    "POW": "'**'",
}


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (data_dir("grammar") / "attn.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


MAX_SYNTAX_ERRORS = 20


def parse(source: str, filename: str = "<spec>") -> S.Module:
    """The syntax tree of `source`; raises SpecError listing the syntax errors.

    After a syntax error the statement that holds it is blanked out (positions kept) and the
    rest is parsed again, so one run reports an error per broken statement.
    """
    diagnostics: list[Diagnostic] = []
    text = source
    while True:
        try:
            tree = _lark().parse(text)
            break
        except UnexpectedInput as exc:
            diagnostics.append(_syntax_diagnostic(exc, text))
            recovered = _blank_broken_statement(text, _error_offset(exc, text))
            if recovered is None or len(diagnostics) >= MAX_SYNTAX_ERRORS:
                break
            text = recovered
    if diagnostics:
        raise SpecError(diagnostics, source, filename)
    return _ToSyntax().transform(tree)


# ---------------------------------------------------------------- recovery

_STATEMENT_START = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(STATEMENT_KEYWORDS) + r")(?![A-Za-z0-9_])")
_NOT_CODE = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


def _starts_line(text: str, offset: int) -> bool:
    return text[text.rfind("\n", 0, offset) + 1 : offset].strip() == ""


def _error_offset(exc: UnexpectedInput, text: str) -> int:
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return len(text)
    position = getattr(exc, "pos_in_stream", None)
    if isinstance(exc, UnexpectedToken) and exc.token.start_pos is not None:
        position = exc.token.start_pos
    return len(text) if position is None else position


def _blank_broken_statement(text: str, offset: int):
    """`text` with the statement around `offset` turned into spaces (newlines kept), or None
    when the error is in the header or nothing is left to blank."""
    code = _NOT_CODE.sub(lambda m: " " * len(m.group()), text)
    starts = [m.start() for m in _STATEMENT_START.finditer(code)]
    before = [p for p in starts if p < offset]
    if not before:
        return None
    start = before[-1]
    # The error token itself ends the broken statement only if it starts a line (a statement
    # keyword that follows an unfinished one); elsewhere (`param mask: int`) it is part of it.
    end = next((p for p in starts if p > offset or (p == offset and _starts_line(text, p))), len(text))
    blanked = "".join(ch if ch == "\n" else " " for ch in text[start:end])
    if blanked == text[start:end]:
        return None
    return text[:start] + blanked + text[end:]


# ---------------------------------------------------------------- syntax errors

def _syntax_diagnostic(exc: UnexpectedInput, source: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        if char == '"':
            return Diagnostic(exc.line, exc.column, "unclosed doc string",
                              'close it with " on the same line (write \\n for a line break)')
        return Diagnostic(exc.line, exc.column, f"unexpected character {char!r}", _character_hint(source, exc.pos_in_stream))
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected = _acceptable(exc)
    if token.type == "$END":
        line, col = _end_position(source)
    else:
        line, col = token.line, token.column
    found = _describe_token(token)
    message = f"unexpected {found}; expected {_describe_expected(expected)}"
    hint = _token_hint(token, expected)
    if str(token) in STATEMENT_KEYWORDS and token.start_pos is not None and _starts_line(source, token.start_pos) \
            and not expected & (_STATEMENT_TERMINALS | {"ATTENTION"}):
        hint = "the statement before it is unfinished"
    return Diagnostic(line, col, message, hint)


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The terminals that could really come next (LALR's own set over-approximates)."""
    try:
        return set(exc.interactive_parser.accepts())
    except Exception:  # lark internals: fall back to the table's set
        return set(exc.expected)


def _end_position(source: str) -> tuple[int, int]:
    stripped = source.rstrip()
    lines = stripped.split("\n")  # as the lexer counts lines: at '\n' only
    return len(lines), len(lines[-1]) + 1


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type == "NUMBER":
        return f"number {token}"
    if token.type == "STRING":
        return "doc string"
    if str(token) in RESERVED_WORDS:
        return f"keyword '{token}'"
    return f"'{token}'"


def _describe_expected(expected: set[str]) -> str:
    parts: list[str] = []
    rest = set(expected)
    if len(rest & _STATEMENT_TERMINALS) >= 3:
        parts.append("a statement (" + ", ".join(STATEMENT_KEYWORDS) + ")")
        rest -= _STATEMENT_TERMINALS
    if len(rest & _OPERATOR_TERMINALS) >= 3:
        parts.append("an operator")
        rest -= _OPERATOR_TERMINALS
    if len(rest & _OPERAND_TERMINALS) >= 3:
        parts.append("an expression")
        rest -= _OPERAND_TERMINALS
    for name in sorted(rest):
        parts.append(_terminal_words(name))
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


@functools.lru_cache(maxsize=None)
def _terminal_words(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"
    if name.lower() in RESERVED_WORDS:
        return f"'{name.lower()}'"
    return name.lower()


def _token_hint(token: Token, expected: set[str]) -> str | None:
    text = str(token)
    if "NAME" in expected and text in RESERVED_WORDS:
        return f"'{text}' is a reserved word; choose another name"
    if text == "|" and "VBAR" not in expected:
        return "write 'or' ('|' separates values only in a tile statement)"
    if text == "=" and "COMP_OP" in expected:
        return "to compare, write '=='"
    if token.type == "$END" and "RPAR" in expected:
        return "a '(' is not closed"
    if token.type == "$END" and "RSQB" in expected:
        return "a '[' is not closed"
    if "ATTENTION" in expected:
        return 'a spec starts with: attention NAME "doc string"'
    if text == "attention":
        return "one spec per file: 'attention' may appear only once, first"
    if token.type == "NAME" and expected & _STATEMENT_TERMINALS:
        return "every statement starts with a keyword: " + ", ".join(STATEMENT_KEYWORDS)
    return None


def _character_hint(source: str, pos: int) -> str | None:
    two = source[pos : pos + 2]
    one = source[pos : pos + 1]
    if two == "&&" or one == "&":
        return "write 'and'"
    if two == "||" or one == "|":
        return "write 'or' ('|' separates values only in a tile statement)"
    if one == "!":
        return "write 'not' (or '!=' to compare)"
    if one == "'":
        return 'doc strings use double quotes: "..."'
    if one == "^":
        return "write '**' for a power"
    if one == "?":
        return "write where(cond, a, b)"
    return None


# ---------------------------------------------------------------- tree -> syntax

def _pos(token: Token) -> dict:
    return {"line": token.line, "col": token.column}


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    out, k = [], 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}  # others keep their backslash, as in Python
    while k < len(body):
        ch = body[k]
        if ch == "\\" and k + 1 < len(body):
            out.append(escapes.get(body[k + 1], "\\" + body[k + 1]))
            k += 2
        else:
            out.append(ch)
            k += 1
    return "".join(out)


class _ToSyntax(Transformer):
    """lark parse tree -> syntax nodes. Tokens carry the positions."""

    # ---- expressions
    def number(self, children):
        (tok,) = children
        return S.Number(text=str(tok), **_pos(tok))

    def true(self, children):
        return S.BoolLit(value=True, **_pos(children[0]))

    def false(self, children):
        return S.BoolLit(value=False, **_pos(children[0]))

    def name(self, children):
        (tok,) = children
        return S.Name(id=str(tok), **_pos(tok))

    def call(self, children):
        fn, *args = children
        return S.Call(fn=str(fn), args=tuple(args), **_pos(fn))

    def index(self, children):
        name, *indices = children
        return S.Index(input=str(name), indices=tuple(indices), **_pos(name))

    def unary(self, children):
        op, operand = children
        return S.Unary(op=str(op), operand=operand, **_pos(op))

    def not_(self, children):
        op, operand = children
        return S.Unary(op="not", operand=operand, **_pos(op))

    def binary(self, children):
        left, op, right = children
        return S.Binary(op=str(op), left=left, right=right, **_pos(op))

    def _fold(self, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            node = S.Binary(op=str(op), left=node, right=right, **_pos(op))
        return node

    or_ = _fold
    and_ = _fold

    def compare(self, children):
        operands = tuple(children[0::2])
        ops = children[1::2]
        return S.Compare(
            operands=operands,
            ops=tuple(str(op) for op in ops),
            op_positions=tuple((op.line, op.column) for op in ops),
            **_pos(ops[0]),
        )

    # ---- statements
    def start(self, children):
        header, *statements = children
        return S.Module(header=header, statements=tuple(statements), line=header.line, col=header.col)

    def header(self, children):
        kw, name, *doc = children
        return S.Header(
            name=str(name), doc=_unescape(str(doc[0])) if doc else None,
            name_line=name.line, name_col=name.column, **_pos(kw),
        )

    def param_stmt(self, children):
        kw, name, type_tok, *default = children
        return S.ParamStmt(
            name=str(name), name_col=name.column, type_name=str(type_tok),
            type_line=type_tok.line, type_col=type_tok.column,
            default=default[0] if default else None, **_pos(kw),
        )

    def input_flag(self, children):
        return children[0]

    def input_stmt(self, children):
        kw, name, *rest = children
        dims = tuple(c for c in rest if isinstance(c, S.Node))
        tokens = [c for c in rest if isinstance(c, Token)]
        flags = tuple((str(t), t.line, t.column) for t in tokens if t.type in ("LEARNABLE", "SORTED"))
        dtype_tokens = [t for t in tokens if t.type == "NAME"]
        dtype = dtype_tokens[0] if dtype_tokens else None
        return S.InputStmt(
            name=str(name), name_col=name.column, dims=dims,
            dtype=str(dtype) if dtype else None,
            dtype_line=dtype.line if dtype else 0, dtype_col=dtype.column if dtype else 0,
            flags=flags, **_pos(kw),
        )

    def let_stmt(self, children):
        kw, name, value = children
        return S.LetStmt(name=str(name), name_col=name.column, value=value, **_pos(kw))

    def assign_stmt(self, children):
        kw, value = children
        return S.AssignStmt(target=str(kw), value=value, **_pos(kw))

    def norm_kind(self, children):
        return children

    def norm_stmt(self, children):
        kw, kind = children
        sink = kind[2] if len(kind) == 3 else None
        return S.NormStmt(kind=str(kind[0]), sink=sink, **_pos(kw))

    def tile_value(self, children):
        return children[0]

    def tile_item(self, children):
        name, *values = children
        return S.TileItem(name=str(name), values=tuple((str(v), v.line, v.column) for v in values), **_pos(name))

    def tile_stmt(self, children):
        kw, *items = children
        return S.TileStmt(items=tuple(items), **_pos(kw))
