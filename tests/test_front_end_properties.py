"""Property tests of the front end: whatever the text, the result is a valid spec or a clean SpecError.

(a) random token soups and (b) mutations of valid specs (examples/*.attn plus the specs below,
which between them use every statement) either parse and check, or raise SpecError whose every
diagnostic has a position inside the file and a message, and whose render() works. Never any
other exception. Specs that check are also compiled with the torch and triton backends; each
generated module must compile as Python and import (define its functions and kernels) without
error.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from attncc.checks.generate import render_tests
from attncc.driver import pipeline
from attncc.language.elaborate import elaborate
from attncc.language.errors import SpecError
from attncc.language.parser import RESERVED_WORDS, STATEMENT_KEYWORDS, parse

from conftest import EXAMPLES

VALID_SPECS = {
    "gemma2_local": '''\
# Sliding-window causal attention with tanh soft-capping (Gemma 2 style).
attention gemma2_local "Local layer of Gemma 2: causal window + logit soft-capping."
param window: int = 4096
param cap: float = 50.0
mask  = j <= i and i - j < window
score = cap * tanh(s / cap)
norm  = softmax
tile block_m = 64 | 128, block_n = 32 | 64, warps = 4 | 8, stages = 2 | 3
''',
    "alibi": '''\
attention alibi
input slopes[H]
mask  = j <= i
score = s - slopes[h] * (i - j)
''',
    "natten2d": '''\
attention natten2d "2-D neighbourhood attention with dilation on a width-W image."
param width: int
param radius: int = 3
param dilation: int = 1
let qy = i // width
let qx = i % width
let ky = j // width
let kx = j % width
mask = abs(qy - ky) <= radius * dilation and abs(qx - kx) <= radius * dilation
       and (qy - ky) % dilation == 0 and (qx - kx) % dilation == 0
''',
    "document_causal": '''\
attention document_causal
input doc[B, N]: int32 sorted
mask = doc[b, i] == doc[b, j] and j <= i
''',
    "rpb1d": '''\
attention rpb1d "Local attention with a learnable relative position bias."
param radius: int = 64
input rpb[H, 2 * radius + 1] learnable
mask  = abs(i - j) <= radius
score = s + rpb[h, j - i + radius]
''',
    "sink": '''\
attention sink "Softmax with a learnable per-head sink logit."
input sinks[H] learnable
input flags[H]: bool
mask = j <= i or not flags[h]
norm = softmax(sink = sinks[h] * 0.5 + log1p(exp(-1.0)))
scale = 1 / sqrt(D) * 2 ** -0.5
''',
    "based_linear": '''\
attention based_linear "BASED: Taylor feature map, causal, normalized."
feature = taylor2(x)
mask = j <= i
norm = sum
tile chunk = 64
''',
    "retnet": '''\
attention retnet "Retention: identity features with per-head decay."
param base: float = 2.0
feature = elu(x) + 1
decay = 1 - base ** (-5 - h)
mask = j <= i
norm = none
''',
    "sigmoid_mix": '''\
attention sigmoid_mix "Sigmoid attention; every function once."
param bias: float = -1.5
param on: bool = true
param lo: int = 0
let d = i - j
let near = 0 <= d < 128
mask = near or where(on, d % 2 == 0, false) and d >= max(lo, 0)
score = sigmoid(s - log(M) + bias) * clamp(exp2(-abs(d)), 0.0, 1.0)
      + min(relu(s), softplus(s)) - silu(s) * gelu(s) + sign(s) * erf(s) + sin(s) * cos(s)
      + log2(1 + relu(s)) + floor(s) + ceil(s) + pow(2, -1) + rsqrt(4.0) + inf * 0 + pi
norm = none
''',
}

SEEDS = tuple(VALID_SPECS.values()) + tuple(path.read_text() for path in EXAMPLES)

# ------------------------------------------------------------------------- the invariant


def _lines(source: str) -> list[str]:
    return source.split("\n")


def assert_clean(source: str, compile_code: bool = False) -> str:
    """Run the front end on `source`; 'ok' or 'error', failing the test on anything unclean."""
    try:
        spec = elaborate(parse(source, "prop.attn"), source, "prop.attn")
    except SpecError as exc:
        assert exc.diagnostics, "a SpecError without diagnostics"
        lines = _lines(source)
        for d in exc.diagnostics:
            assert 1 <= d.line <= len(lines), (d, len(lines))
            assert 1 <= d.col <= len(lines[d.line - 1]) + 1, (d, lines[d.line - 1])
            assert isinstance(d.message, str) and d.message.strip(), d
            assert d.hint is None or (isinstance(d.hint, str) and d.hint.strip()), d
            assert d.severity == "error", d
        text = exc.render()
        assert text.startswith(f"prop.attn:{exc.diagnostics[0].line}:{exc.diagnostics[0].col}: error: ")
        assert "Traceback" not in text
        return "error"
    assert spec.name.isidentifier()
    if compile_code:
        compile_generated(source, spec)
    return "ok"


def compile_generated(source: str, spec) -> None:
    for backend in ("torch", "triton"):
        try:
            result = pipeline.compile_source(source, "prop.attn", backend)
        except SpecError as exc:  # a later pass may still refuse the spec, cleanly
            assert exc.diagnostics and exc.render()
            return
        code = compile(result.code, f"<attncc {backend} module for {spec.name}>", "exec")
        namespace: dict = {"__name__": f"attncc_prop_module_{backend}"}
        exec(code, namespace)  # defines the functions (and kernels); nothing runs on tensors
        assert callable(namespace["attention"]) and namespace[spec.name] is namespace["attention"]
        tests = render_tests(result.spec, f"{spec.name}.py", f"test_{spec.name}.py", result.backend)
        compile(tests, f"<attncc checks for {spec.name}>", "exec")  # valid Python; run in test_generated_checks


# ------------------------------------------------------------------------- (a) token soups

NAMES = ("a", "w", "window", "windw", "cap", "t", "rpb", "doc", "x", "s", "i", "j", "b", "h", "B", "H", "HKV",
         "N", "M", "D", "DV", "q", "v", "inf", "pi", "block_m", "block_n", "warps", "stages", "chunk", "int",
         "float", "bool", "int32", "float16", "bool", "__import__", "_x", "exp", "tanh", "taylor2", "where",
         "max", "clamp", "abs", "class", "None", "torch", "return_lse")
KEYWORDS = tuple(sorted(RESERVED_WORDS))
PUNCT = ("(", ")", "[", "]", ",", ":", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "//", "%",
         "**", "|", "&&", "||", "!", ".", ";", "`", "$", "'", '"', "\\", "#")
NUMBERS = ("0", "1", "2", "3", "16", "64", "128", "4096", "0.5", "1.0", "50.0", "1e3", "2.5e-3", ".5", "1.",
           "1e400", "99999999999999999999999", "1.2.3", "007")
STRINGS = ('"doc"', '"a \\"quoted\\" doc"', '"back\\\\slash"', '"line\\nbreak"', '""')
SEPARATORS = (" ", " ", " ", "\n", "\t", "  ", "\n\n", " # comment\n", "\r\n", " # \r\n")

TOKEN = st.sampled_from(NAMES + KEYWORDS + PUNCT + NUMBERS + STRINGS)


@st.composite
def token_soups(draw):
    tokens = draw(st.lists(TOKEN, max_size=40))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(tokens), max_size=len(tokens)))
    body = "".join(t + sep for t, sep in zip(tokens, separators))
    header = draw(st.sampled_from(("", "attention a\n", 'attention soup "doc"\n', "attention a ")))
    return header + body


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soups())
def test_token_soups_give_a_spec_or_a_clean_error(source):
    event(assert_clean(source, compile_code=True))


# Random statements over a small expression grammar: mostly well-formed, so they reach the
# checker's type and context rules and, when they check, the code generator.
LEAVES = st.sampled_from(("i", "j", "b", "h", "s", "x", "N", "M", "D", "H", "w", "cap", "on", "t[h]", "t[b, i]",
                          "u[h]", "1", "2", "0.5", "3.0", "true", "false", "inf", "pi", "lt"))
EXPRESSIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(("+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and", "or")),
                  inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        st.tuples(st.sampled_from(("-", "not ")), inner).map(lambda p: f"{p[0]}{p[1]}"),
        st.tuples(st.sampled_from(("exp", "tanh", "abs", "max", "clamp", "where", "floor", "sigmoid", "taylor2", "pow")),
                  st.lists(inner, min_size=1, max_size=3)).map(lambda p: f"{p[0]}({', '.join(p[1])})"),
    ),
    max_leaves=6,
)
STATEMENT_FORMS = ("mask = {}", "score = {}", "feature = {}", "decay = {}", "scale = {}", "let lt = {}",
                   "norm = softmax(sink = {})", "norm = sum", "norm = none", "tile block_m = 64 | 128, warps = 4",
                   "tile chunk = 32", "input u[H] learnable", "param w: int = {}")


@st.composite
def statement_soups(draw):
    forms = draw(st.lists(st.sampled_from(STATEMENT_FORMS), min_size=1, max_size=5))
    body = "\n".join(form.format(draw(EXPRESSIONS)) for form in forms)
    return ('attention gen "generated"\nparam cap: float = 30.0\nparam on: bool = true\n'
            "input t[B, N]: int32\n" + body + "\n")


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement_soups())
def test_generated_statements_give_a_spec_or_a_clean_error(source):
    event(assert_clean(source, compile_code=True))


# Every printable character, lone "\r", "\f" and "\v" line breaks included, and a few others.
TEXT_CHARS = string.printable + "ïä\x00é€\u2028"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TEXT_CHARS, max_size=80))
def test_arbitrary_text_gives_a_clean_error(text):
    assert_clean(text)
    assert_clean("attention a\n" + text, compile_code=True)


# ------------------------------------------------------------------------- (b) mutations

TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+|\d+(?:[eE][-+]?\d+)?|[A-Za-z_]\w*'
                      r'|\*\*|//|==|!=|<=|>=|#[^\n]*|\S')
REPLACEMENT_NAMES = NAMES + KEYWORDS + tuple(STATEMENT_KEYWORDS)
INSERTED_CHARS = st.sampled_from(tuple(TEXT_CHARS))


def tokens_of(source: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN_RE.finditer(source)]


@st.composite
def mutants(draw):
    source = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        source = draw(mutation(source))
    return source


@st.composite
def mutation(draw, source: str):
    spans = tokens_of(source)
    lines = source.split("\n")
    kind = draw(st.sampled_from(("delete-token", "duplicate-token", "swap-tokens", "replace-name",
                                 "replace-token", "delete-line", "duplicate-line", "swap-lines",
                                 "insert-char", "truncate")))
    if kind in ("delete-token", "duplicate-token", "replace-name", "replace-token") and spans:
        start, end = draw(st.sampled_from(spans))
        if kind == "delete-token":
            return source[:start] + source[end:]
        if kind == "duplicate-token":
            return source[:end] + " " + source[start:end] + source[end:]
        if kind == "replace-token":
            return source[:start] + draw(TOKEN) + source[end:]
        names = [(s, e) for s, e in spans if re.fullmatch(r"[A-Za-z_]\w*", source[s:e])]
        if names:
            start, end = draw(st.sampled_from(names))
        # another name of the same spec, a keyword, a built-in, or a near-miss typo
        own = sorted({source[s:e] for s, e in names}) or ["a"]
        word = source[start:end]
        typo = word[:-1] if len(word) > 1 else word + "x"
        replacement = draw(st.sampled_from(own + list(REPLACEMENT_NAMES) + [typo, word + word[-1:]]))
        return source[:start] + replacement + source[end:]
    if kind == "swap-tokens" and len(spans) >= 2:
        first, second = sorted(draw(st.lists(st.sampled_from(spans), min_size=2, max_size=2, unique=True)))
        (a0, a1), (b0, b1) = first, second
        return source[:a0] + source[b0:b1] + source[a1:b0] + source[a0:a1] + source[b1:]
    if kind in ("delete-line", "duplicate-line", "swap-lines") and lines:
        k = draw(st.integers(0, len(lines) - 1))
        if kind == "delete-line":
            del lines[k]
        elif kind == "duplicate-line":
            lines.insert(k, lines[k])
        else:
            m = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[m] = lines[m], lines[k]
        return "\n".join(lines)
    if kind == "truncate":
        return source[: draw(st.integers(0, len(source)))]
    at = draw(st.integers(0, len(source)))
    return source[:at] + draw(INSERTED_CHARS) + source[at:]


@pytest.mark.parametrize("name", sorted(VALID_SPECS))
def test_the_seed_specs_are_valid(name):
    assert assert_clean(VALID_SPECS[name], compile_code=True) == "ok"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_examples_are_valid(path):
    assert assert_clean(path.read_text(), compile_code=True) == "ok"


def test_the_seeds_use_every_statement():
    words = set(re.findall(r"^\s*(\w+)", "\n".join(VALID_SPECS.values()), flags=re.M))
    assert set(STATEMENT_KEYWORDS) | {"attention"} <= words


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_mutated_specs_give_a_spec_or_a_clean_error(source):
    event(assert_clean(source, compile_code=True))
