"""Bad specs: each must fail with the exact message, hint and position DSL.md's "Errors" asks for.

Every row is one small spec with exactly one error: (source, line, col, message, hint), the hint
being None where the diagnostic has none.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from attncc.language.elaborate import elaborate
from attncc.language.errors import Diagnostic, SpecError
from attncc.language.parser import parse

STATEMENTS = "a statement (param, input, let, mask, score, norm, feature, decay, scale, tile)"
KEYWORD_HINT = "every statement starts with a keyword: param, input, let, mask, score, norm, feature, decay, scale, tile"
HEADER_HINT = 'a spec starts with: attention NAME "doc string"'
MASK_MAY_USE = "the mask may use: i, j, b, h, sizes (B, H, HKV, N, M, D, DV), params, inputs"
BOOL_TO_NUMBER = "use where(cond, 1, 0) to turn a bool into a number"
DIMS_HINT = "dims are expressions of the sizes (B, H, N, ...) and int params"
TWICE_HINT = "each statement other than param, input and let appears at most once"
LINEAR_NORM_HINT = "use norm = sum (normalized) or norm = none"
TAYLOR2_HINT = "write feature = taylor2(x) (its argument may be an elementwise expression of x)"
SOFTMAX_TILES = "block_m, block_n, warps, stages"
DTYPES = "float32, float16, bfloat16, int32, int64, bool"
FUNCTIONS = ("abs ceil clamp cos elu erf exp exp2 floor gelu log log1p log2 max min pow relu rsqrt sigmoid "
             "sign silu sin softplus sqrt tanh where")


def row(id_, source, line, col, message, hint=None):
    return pytest.param(source, line, col, message, hint, id=id_)


def diagnostics(source: str, filename: str = "bad.attn") -> list[Diagnostic]:
    """The diagnostics of a spec that must not compile (parse, then check)."""
    with pytest.raises(SpecError) as info:
        elaborate(parse(source, filename), source, filename)
    return info.value.diagnostics


def front_end(source: str, filename: str = "good.attn"):
    return elaborate(parse(source, filename), source, filename)


BAD_SPECS = [
    row("int-literal-too-big", "attention a\nparam w: int = 99999999999999999999999\n",
        2, 16, "the int 99999999999999999999999 does not fit in 64 bits",
        "write it as a float (e.g. 1e30) if a large number is meant"),
    row("default-fails-to-evaluate", "attention a\nparam w: float = 1 / 0\n",
        2, 18, "cannot evaluate the default of 'w': div(1, 0) fails: division by zero"),
    # ------------------------------------------------------------------ syntax
    row("missing-header", "mask = j <= i\n",
        1, 1, "unexpected keyword 'mask'; expected 'attention'", HEADER_HINT),
    row("missing-header-param", "# a comment\nparam w: int\n",
        2, 1, "unexpected keyword 'param'; expected 'attention'", HEADER_HINT),
    row("unclosed-paren", "attention a\nmask = (j <= i\n",
        2, 15, "unexpected end of file; expected ')'", "a '(' is not closed"),
    row("unclosed-call", "attention a\nscore = s + exp(\n",
        2, 17, "unexpected end of file; expected an expression or ')'", "a '(' is not closed"),
    row("unclosed-bracket", "attention a\ninput t[H\n",
        2, 10, "unexpected end of file; expected ',' or ']'", "a '[' is not closed"),
    row("extra-close-paren", "attention a\nmask = j <= i)\n",
        2, 14, f"unexpected ')'; expected {STATEMENTS} or the end of the file"),
    row("assign-for-compare", "attention a\nmask = j = i\n",
        2, 10, f"unexpected '='; expected {STATEMENTS}, an operator, the end of the file, '(' or '['",
        "to compare, write '=='"),
    row("double-ampersand", "attention a\nmask = j <= i && i < 5\n",
        2, 15, "unexpected character '&'", "write 'and'"),
    row("double-bar", "attention a\nmask = j <= i || i < 5\n",
        2, 15, f"unexpected '|'; expected {STATEMENTS}, an operator, the end of the file, '(' or '['",
        "write 'or' ('|' separates values only in a tile statement)"),
    row("caret-power", "attention a\nscore = s ^ 2\n",
        2, 11, "unexpected character '^'", "write '**' for a power"),
    row("stray-character", "attention a\nmask = j <= i $\n",
        2, 15, "unexpected character '$'"),
    row("keyword-as-param-name", "attention a\nparam mask: int\n",
        2, 7, "unexpected keyword 'mask'; expected a name", "'mask' is a reserved word; choose another name"),
    row("keyword-as-let-name", "attention a\nlet sum = 1\n",
        2, 5, "'sum' is a reserved word; choose another name"),
    row("attention-twice", "attention a\nattention b\n",
        2, 1, f"unexpected keyword 'attention'; expected {STATEMENTS}, the end of the file or a \"doc string\"",
        "one spec per file: 'attention' may appear only once, first"),
    row("missing-colon-in-param", "attention a\nparam w int\n",
        2, 9, "unexpected name 'int'; expected ':'"),
    row("empty-input-dims", "attention a\ninput t[]\n",
        2, 9, "unexpected ']'; expected an expression"),
    row("bad-number-two-dots", "attention a\nscore = s * 1.2.3\n",
        2, 16, f"unexpected number .3; expected {STATEMENTS}, an operator or the end of the file"),
    row("name-starting-with-digit", "attention a\nparam 3w: int\n",
        2, 7, "unexpected number 3; expected a name"),
    row("dangling-operator", "attention a\nscore = s +\n",
        2, 12, "unexpected end of file; expected an expression"),
    row("dangling-and-then-blank-lines", "attention a\nmask = j <= i and\n\n\n",
        2, 18, "unexpected end of file; expected an expression"),
    row("single-quoted-doc", "attention a 'doc'\n",
        1, 13, "unexpected character \"'\"", 'doc strings use double quotes: "..."'),
    row("unknown-norm", "attention a\nnorm = linear\n",
        2, 8, "unexpected name 'linear'; expected 'none', 'softmax' or 'sum'"),
    row("negative-tile-value", "attention a\ntile block_m = -16\n",
        2, 16, "unexpected '-'; expected a number"),
    row("unclosed-doc-string", 'attention a "the doc\nmask = j <= i\n',
        1, 13, "unclosed doc string", 'close it with " on the same line (write \\n for a line break)'),
    # keywords must be whole words: today `softmaxx` lexes as `softmax` + `x`, etc.
    row("keyword-prefix-norm", "attention a\nnorm = softmaxx\n",
        2, 8, "unexpected name 'softmaxx'; expected 'none', 'softmax' or 'sum'"),
    row("keyword-prefix-statement", "attention a\nmasks = j <= i\n",
        2, 1, f"unexpected name 'masks'; expected {STATEMENTS}, the end of the file or a \"doc string\"",
        KEYWORD_HINT),
    row("keyword-prefix-header", "attentionx a\n",
        1, 1, "unexpected name 'attentionx'; expected 'attention'", HEADER_HINT),
    row("keyword-prefix-silently-accepted", "attention a\nmask = j <= i andj >= 0\n",
        2, 15, f"unexpected name 'andj'; expected {STATEMENTS}, an operator, the end of the file, '(' or '['",
        KEYWORD_HINT),
    row("keyword-prefix-tile", "attention a\ntile block_m = 64\ntiles = 1\n",
        3, 1, f"unexpected name 'tiles'; expected {STATEMENTS}, the end of the file, ',' or '|'",
        KEYWORD_HINT),
    # ------------------------------------------------------------------ names
    row("unknown-name-did-you-mean", "attention a\nparam window: int = 4\nmask = i - j < windw\n",
        3, 16, "unknown name 'windw'; did you mean 'window'?"),
    row("unknown-name-let-did-you-mean", "attention a\nlet windw = 3\nmask = i - j < window\n",
        3, 16, "unknown name 'window'; did you mean 'windw'?"),
    row("unknown-name", "attention a\nscore = s + foo\n",
        2, 13, "unknown name 'foo'", "declare it first with param, input or let"),
    row("unknown-function-did-you-mean", "attention a\nscore = tanhh(s)\n",
        2, 9, "unknown function 'tanhh'; did you mean 'tanh'?"),
    row("unknown-function-softplus", "attention a\nscore = sotfplus(s)\n",
        2, 9, "unknown function 'sotfplus'; did you mean 'softplus'?"),
    row("unknown-function", "attention a\nscore = taylor3(s)\n",
        2, 9, "unknown function 'taylor3'", "the functions are: " + FUNCTIONS),
    row("unknown-input", "attention a\nscore = s + bais[h]\n",
        2, 13, "unknown input 'bais'", "declare it: input bais[...]"),
    row("unknown-input-did-you-mean", "attention a\ninput bias[H]\nscore = s + bais[h]\n",
        3, 13, "unknown input 'bais'; did you mean 'bias'?"),
    row("index-a-param", "attention a\nparam w: int\nscore = s + w[h]\n",
        3, 13, "'w' is not an input; only inputs can be indexed"),
    row("index-a-symbol", "attention a\nscore = s[h]\n",
        2, 9, "'s' is not an input; only inputs can be indexed"),
    row("unindexed-input", "attention a\ninput t[H]\nscore = s + t\n",
        3, 13, "input 't' must be indexed", "write t[...] with 1 index(es)"),
    row("function-as-value", "attention a\nscore = exp\n",
        2, 9, "'exp' is a function; call it as exp(...)"),
    row("input-called", "attention a\ninput t[H]\nscore = t(h)\n",
        3, 9, "'t' is an input; index it with t[...]"),
    # ------------------------------------------------------------------ types
    row("float-floordiv", "attention a\nscore = s + 1.0 // 2\n",
        2, 17, "'//' needs int operands; got float", "use floor(a / b) for floats"),
    row("float-mod", "attention a\nscore = i % 1.5\n",
        2, 11, "'%' needs int operands; got float", "use floor(a / b) for floats"),
    row("bool-arithmetic", "attention a\nscore = s + true * 2\n",
        2, 18, "'*' needs a number; got bool (argument 1)", BOOL_TO_NUMBER),
    row("bool-power", "attention a\nscore = s ** true\n",
        2, 11, "'**' needs a number; got bool (argument 2)", BOOL_TO_NUMBER),
    row("bool-negation", "attention a\nscore = -(j <= i)\n",
        2, 9, "'-' needs a number; got bool", BOOL_TO_NUMBER),
    row("float-mask", "attention a\nmask = i / 2\n",
        2, 8, "the mask must be bool; got float", "write a condition, e.g. mask = j <= i"),
    row("int-mask", "attention a\nmask = i - j\n",
        2, 8, "the mask must be bool; got int", "write a condition, e.g. mask = j <= i"),
    row("bool-score", "attention a\nscore = j <= i\n",
        2, 9, "the score must be a number; got bool", "use where(cond, a, b) to choose between numbers"),
    row("bool-scale", "attention a\nscale = D > 64\n",
        2, 9, "the scale must be a number; got bool", "use where(cond, a, b) to choose between numbers"),
    row("bool-sink", "attention a\nnorm = softmax(sink = h > 0)\n",
        2, 23, "the sink must be a number; got bool"),
    row("float-index", "attention a\ninput t[H]\nscore = s + t[1.0]\n",
        3, 15, "an index of 't' must be int; got float", "use floor(...) or // to make an int index"),
    row("float-default-for-int-param", "attention a\nparam w: int = 1.5\n",
        2, 16, "param 'w' is int but its default is float"),
    row("pow-default-for-int-param", "attention a\nparam w: int = 2 ** 4\n",
        2, 16, "param 'w' is int but its default is float"),
    row("int-default-for-bool-param", "attention a\nparam w: bool = 1\n",
        2, 17, "param 'w' is bool but its default is int"),
    row("and-on-ints", "attention a\nmask = i and j\n",
        2, 10, "'and' needs bool operands; got int", "compare to get a bool, e.g. (i % 2) == 0"),
    row("not-on-int", "attention a\nmask = not i\n",
        2, 8, "'not' needs bool operands; got int", "compare to get a bool, e.g. (i % 2) == 0"),
    row("bool-less-than", "attention a\nmask = (j <= i) < true\n",
        2, 17, "'<' compares numbers; got bool and bool", "compare two bools only with == or !="),
    row("chained-compare-bool", "attention a\nmask = 1 < 2 < true\n",
        2, 14, "'<' compares numbers; got int and bool"),
    row("where-int-condition", "attention a\nmask = where(i, true, false)\n",
        2, 8, "'where' needs a bool condition first; got int", "write where(cond, a, b)"),
    row("where-mixed-branches", "attention a\nscore = where(j <= i, s, true)\n",
        2, 9, "'where' needs two numbers or two bools; got float and bool"),
    # ------------------------------------------------------------------ arity
    row("tanh-two-args", "attention a\nscore = tanh(s, s)\n",
        2, 9, "'tanh' takes 1 argument; got 2"),
    row("clamp-one-arg", "attention a\nscore = clamp(s)\n",
        2, 9, "'clamp' takes 3 arguments; got 1"),
    row("max-one-arg", "attention a\nscore = max(s)\n",
        2, 9, "'max' takes at least 2 arguments; got 1"),
    row("abs-two-args-deep", "attention a\nparam w: int = 1\nscore = s + where(i > w, 1.0, 0.0) + abs(w, 2)\n",
        3, 38, "'abs' takes 1 argument; got 2"),
    # ------------------------------------------------------------------ input dims
    row("float-dim", "attention a\ninput t[1.0]\n",
        2, 9, "a dim of input 't' must be int; got float", DIMS_HINT),
    row("float-dim-second", "attention a\ninput t[H, N / 2]\n",
        2, 12, "a dim of input 't' must be int; got float", DIMS_HINT),
    row("dim-uses-i", "attention a\ninput t[i]\n",
        2, 9, "an input's dims cannot use the position 'i'",
        "an input's dims may use: sizes (B, H, HKV, N, M, D, DV), params"),
    row("dim-reads-input", "attention a\ninput t[H]\ninput u[t[0]]\n",
        3, 9, "an input's dims cannot read the input 't'",
        "an input's dims may use: sizes (B, H, HKV, N, M, D, DV), params"),
    row("wrong-number-of-indices", "attention a\ninput t[H, N]\nscore = s + t[h]\n",
        3, 13, "input 't' has 2 dim(s); got 1 index(es)"),
    # ------------------------------------------------------------------ used twice
    row("mask-twice", "attention a\nmask = j <= i\nmask = j >= i\n",
        3, 1, "'mask' is given twice; the first is at line 2", TWICE_HINT),
    row("norm-twice", "attention a\nnorm = sum\nnorm = none\n",
        3, 1, "'norm' is given twice; the first is at line 2", TWICE_HINT),
    row("tile-twice", "attention a\ntile block_m = 64\ntile block_n = 64\n",
        3, 1, "'tile' is given twice; the first is at line 2", TWICE_HINT),
    row("param-twice", "attention a\nparam w: int\nparam w: float\n",
        3, 7, "'w' is already defined at line 2; choose another name"),
    row("let-shadows-param", "attention a\nparam w: int\nlet w = 3\n",
        3, 5, "'w' is already defined at line 2; choose another name"),
    row("input-twice", "attention a\ninput t[H]\ninput t[N]\n",
        3, 7, "'t' is already defined at line 2; choose another name"),
    # ------------------------------------------------------------------ reserved names
    row("param-named-i", "attention a\nparam i: int\n",
        2, 7, "'i' is a built-in symbol; choose another name"),
    row("param-named-inf", "attention a\nparam inf: float\n",
        2, 7, "'inf' is a built-in symbol; choose another name"),
    row("param-named-q", "attention a\nparam q: int\n",
        2, 7, "'q' is a name the generated module uses; choose another name"),
    row("param-named-return-lse", "attention a\nparam return_lse: bool\n",
        2, 7, "'return_lse' is a name the generated module uses; choose another name"),
    row("param-underscore", "attention a\nparam _x: int\n",
        2, 7, "'_x' starts with '_', which is reserved for generated code; choose another name"),
    row("param-named-exp", "attention a\nparam exp: float\n",
        2, 7, "'exp' is a built-in function; choose another name"),
    row("param-python-keyword", "attention a\nparam lambda: int\n",
        2, 7, "'lambda' is a reserved word; choose another name"),
    row("param-named-None", "attention a\nparam None: int\n",
        2, 7, "'None' is a reserved word; choose another name"),
    row("header-statement-keyword", "attention mask\n",
        1, 11, "unexpected keyword 'mask'; expected a name", "'mask' is a reserved word; choose another name"),
    row("header-python-keyword", "attention class\n",
        1, 11, "'class' cannot name the generated function", "choose another name"),
    row("param-shadows-python-builtin", "attention a\nparam isinstance: int = 1\n",
        2, 7, "'isinstance' is a Python built-in; choose another name"),
    # ------------------------------------------------------------------ symbols out of place
    row("s-in-mask", "attention a\nmask = s > 0\n",
        2, 8, "the mask cannot use the score 's'", MASK_MAY_USE),
    row("j-in-sink", "attention a\ninput t[H]\nnorm = softmax(sink = t[j])\n",
        3, 25, "the sink cannot use the position 'j'",
        "the sink may use: b, h, i, sizes (B, H, HKV, N, M, D, DV), params, inputs"),
    row("x-outside-feature", "attention a\nmask = x > 0\n",
        2, 8, "'x' exists only inside feature", MASK_MAY_USE),
    row("x-through-let", "attention a\nlet y = x\nmask = y > 0\n",
        3, 8, "'x' exists only inside feature (through let 'y')", MASK_MAY_USE),
    row("s-through-let", "attention a\nlet t = s * 2\nmask = t > 0\n",
        3, 8, "the mask cannot use the score 's' (through let 't')", MASK_MAY_USE),
    row("i-in-feature", "attention a\nfeature = x + i\nnorm = sum\n",
        2, 15, "the feature map cannot use the position 'i'",
        "the feature map may use: x, sizes (B, H, HKV, N, M, D, DV), params"),
    row("decay-reads-i", "attention a\nfeature = x\nmask = j <= i\nnorm = none\ndecay = 1 - 2 ** (-5 - i)\n",
        5, 24, "the decay cannot use the position 'i'",
        "the decay may use: h, sizes (B, H, HKV, N, M, D, DV), params, inputs"),
    row("decay-reads-i-through-let", "attention a\nlet t = i\ndecay = t\nfeature = x\nmask = j <= i\nnorm = none\n",
        3, 9, "the decay cannot use the position 'i' (through let 't')",
        "the decay may use: h, sizes (B, H, HKV, N, M, D, DV), params, inputs"),
    row("scale-reads-input", "attention a\ninput t[H]\nscale = t[0]\n",
        3, 9, "the scale cannot read the input 't'", "the scale may use: sizes (B, H, HKV, N, M, D, DV), params"),
    row("default-reads-param", "attention a\nparam w: int = 3\nparam u: int = w\n",
        3, 16, "a param default cannot use the param 'w'", "a param default may use: constants only"),
    # ------------------------------------------------------------------ linear attention
    row("score-in-linear", "attention a\nfeature = x\nscore = s\nnorm = sum\n",
        3, 1, "a linear-attention spec cannot have a score",
        "its score is dot(feature(q_i), feature(k_j)); remove the score statement"),
    row("non-causal-mask-in-linear", "attention a\nfeature = x\nmask = j < i\nnorm = sum\n",
        3, 8, "linear attention supports only a causal mask", "write mask = j <= i, or leave the mask out (dense)"),
    row("softmax-in-linear", "attention a\nfeature = x\nnorm = softmax\n",
        3, 1, "linear attention cannot use softmax", LINEAR_NORM_HINT),
    row("no-norm-in-linear", "attention a\nfeature = elu(x) + 1\n",
        2, 1, "a linear-attention spec needs a norm", "add norm = sum (normalized) or norm = none"),
    row("scale-in-linear", "attention a\nfeature = x\nscale = 2.0\nnorm = sum\n",
        3, 1, "scale has no effect in linear attention",
        "the feature map is applied to q and k as given; fold a factor into the feature"),
    row("decay-without-feature", "attention a\ndecay = 0.9\n",
        2, 1, "decay applies only to linear attention",
        "add a feature statement (e.g. feature = elu(x) + 1), or remove decay"),
    row("decay-without-mask", "attention a\nfeature = x\ndecay = 0.9\nnorm = sum\n",
        3, 1, "decay needs a causal mask", "add mask = j <= i"),
    row("taylor2-nested", "attention a\nfeature = elu(taylor2(x))\nnorm = sum\n",
        2, 15, "taylor2 must be the whole feature expression", TAYLOR2_HINT),
    row("taylor2-plus-one", "attention a\nfeature = taylor2(x) + 1\nnorm = sum\n",
        2, 11, "taylor2 must be the whole feature expression", TAYLOR2_HINT),
    row("taylor2-outside-feature", "attention a\nscore = taylor2(s)\n",
        2, 9, "taylor2 exists only in feature"),
    # ------------------------------------------------------------------ tile
    row("unknown-tile-did-you-mean", "attention a\ntile blockm = 64\n",
        2, 6, f"unknown tile 'blockm'; expected one of {SOFTMAX_TILES}", "did you mean 'block_m'?"),
    row("chunk-in-softmax", "attention a\ntile chunk = 64\n",
        2, 6, "tile 'chunk' does not apply to the softmax family",
        f"the softmax family tiles are: {SOFTMAX_TILES}"),
    row("block-m-in-linear", "attention a\nfeature = x\nnorm = sum\ntile block_m = 64\n",
        4, 6, "tile 'block_m' does not apply to linear attention", "linear attention tiles are: chunk"),
    row("block-m-not-power-of-two", "attention a\ntile block_m = 48\n",
        2, 16, "tile 'block_m' must be a power of two, at least 16 and at most 1024; got 48"),
    row("chunk-too-small", "attention a\nfeature = x\nnorm = sum\ntile chunk = 8\n",
        4, 14, "tile 'chunk' must be a power of two, at least 16 and at most 1024; got 8"),
    row("warps-three", "attention a\ntile warps = 3\n",
        2, 14, "tile 'warps' must be 1, 2, 4, 8 or 16; got 3"),
    row("stages-nine", "attention a\ntile block_m = 64, stages = 2 | 9\n",
        2, 33, "tile 'stages' must be between 1 and 8; got 9"),
    row("tile-float-value", "attention a\ntile block_m = 1.5\n",
        2, 16, "tile 'block_m' takes whole numbers; got 1.5"),
    row("tile-item-twice", "attention a\ntile block_m = 64, block_m = 128\n",
        2, 20, "tile 'block_m' is given twice"),
    row("tile-value-twice", "attention a\ntile block_m = 64 | 128 | 64\n",
        2, 27, "tile 'block_m' lists 64 twice"),
    # ------------------------------------------------------------------ inputs and params
    row("learnable-int-input", "attention a\ninput t[H]: int32 learnable\n",
        2, 19, "input 't' is int32; only float inputs can be learnable",
        "give it a float dtype (float32, float16, bfloat16) or drop 'learnable'"),
    row("sorted-bool-input", "attention a\ninput t[H]: bool sorted\n",
        2, 18, "input 't' is bool; only int and float inputs can be sorted"),
    row("flag-twice", "attention a\ninput t[H] learnable learnable\n",
        2, 22, "'learnable' is given twice for input 't'"),
    row("unknown-dtype-did-you-mean", "attention a\ninput t[H]: flaot32\n",
        2, 13, f"unknown dtype 'flaot32'; expected one of {DTYPES}", "did you mean 'float32'?"),
    row("unknown-param-type", "attention a\nparam w: integer\n",
        2, 10, "unknown param type 'integer'; expected int, float or bool", "did you mean 'int'?"),
    row("unknown-param-type-no-guess", "attention a\nparam w: str\n",
        2, 10, "unknown param type 'str'; expected int, float or bool"),
    # one error must not cause a second, misleading one about the name it failed to declare
    row("no-cascade-after-bad-dtype", "attention a\ninput t[H]: flaot32\nscore = s + t[h]\n",
        2, 13, f"unknown dtype 'flaot32'; expected one of {DTYPES}", "did you mean 'float32'?"),
    row("no-cascade-after-bad-param-type", "attention a\nparam w: flot = 1\nmask = i - j < w\n",
        2, 10, "unknown param type 'flot'; expected int, float or bool", "did you mean 'float'?"),
    row("no-cascade-after-bad-let", "attention a\nlet t = taylor2(x)\nfeature = t\nnorm = sum\n",
        2, 9, "taylor2 exists only in feature"),
    # lets are usable after their definition only (DSL.md; language/elaborate.py's docstring says the same)
    row("let-used-before-definition", "attention a\nmask = j <= w2\nlet w2 = 3\n",
        2, 13, "'w2' is used before its definition at line 3", "move the let above its first use"),
    row("let-uses-later-let", "attention a\nlet u = w + 1\nlet w = 3\nmask = j <= u\n",
        2, 9, "'w' is used before its definition at line 3", "move the let above its first use"),
    # ------------------------------------------------------------------ code injection / odd names
    row("param-dunder-import", "attention a\nparam __import__: int\n",
        2, 7, "'__import__' starts with '_', which is reserved for generated code; choose another name"),
    row("let-dunder-class", "attention a\nlet __class__ = 1\n",
        2, 5, "'__class__' starts with '_', which is reserved for generated code; choose another name"),
    row("header-dunder-import", "attention __import__\n",
        1, 11, "'__import__' cannot name the generated function",
        "names starting with '_' are reserved for generated code; choose another name"),
    row("header-generated-helper", "attention _check_qkv\n",
        1, 11, "'_check_qkv' cannot name the generated function",
        "names starting with '_' are reserved for generated code; choose another name"),
    row("header-module-constant", "attention PARAMS\n",
        1, 11, "'PARAMS' cannot name the generated function",
        "the generated module defines 'PARAMS' itself; choose another name"),
    row("unicode-letter-in-name", "attention a\nparam wïndow: int\n",
        2, 8, "unexpected character 'ï'"),
    row("unicode-name-in-header", "attention ä\n",
        1, 11, "unexpected character 'ä'"),
    row("dot-in-name", "attention a\nparam a.b: int\n",
        2, 8, "unexpected character '.'"),
    row("semicolon-in-name", "attention a\nparam a;b: int\n",
        2, 8, "unexpected character ';'"),
    row("backtick-name", "attention a\nparam `a`: int\n",
        2, 7, "unexpected character '`'"),
    row("semicolon-injection-in-expression", "attention a\nscore = s; import os\n",
        2, 10, "unexpected character ';'"),
]


@pytest.mark.parametrize("source, line, col, message, hint", BAD_SPECS)
def test_bad_spec(source, line, col, message, hint):
    found = diagnostics(source)
    assert [(d.line, d.col, d.message, d.hint, d.severity) for d in found] == [(line, col, message, hint, "error")]


def test_the_table_is_large_and_ids_are_unique():
    ids = [p.id for p in BAD_SPECS]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


# ---------------------------------------------------------------------- all errors of a file

SEVERAL = """\
attention several "Every independent error is reported, in source order."
param window: int = 4.5
input slopes[H]
input bias[H]: flaot32
mask = i - j < windw
score = tanhh(s) + slope[h]
norm = sum
tile block_m = 48, warps = 3
mask = j <= i
"""


def test_every_error_is_reported_in_source_order():
    found = diagnostics(SEVERAL)
    assert [(d.line, d.col, d.message, d.hint) for d in found] == [
        (2, 21, "param 'window' is int but its default is float", None),
        (4, 16, f"unknown dtype 'flaot32'; expected one of {DTYPES}", "did you mean 'float32'?"),
        (5, 16, "unknown name 'windw'; did you mean 'window'?", None),
        (6, 9, "unknown function 'tanhh'; did you mean 'tanh'?", None),
        (6, 20, "unknown input 'slope'; did you mean 'slopes'?", None),
        (8, 16, "tile 'block_m' must be a power of two, at least 16 and at most 1024; got 48", None),
        (8, 28, "tile 'warps' must be 1, 2, 4, 8 or 16; got 3", None),
        (9, 1, "'mask' is given twice; the first is at line 5", TWICE_HINT),
    ]


def test_several_errors_on_one_line_are_ordered_by_column():
    source = "attention a\nscore = foo + bar * baz\n"
    found = diagnostics(source)
    assert [(d.line, d.col, d.message) for d in found] == [
        (2, 9, "unknown name 'foo'"), (2, 15, "unknown name 'bar'"), (2, 21, "unknown name 'baz'"),
    ]


def test_each_broken_statement_is_reported():
    source = ("attention a\n"
              "param w: int = (3\n"
              "mask = j <= i && i < w\n"
              "score = s +\n"
              "let x = 1\n"
              "param mask: int\n"
              "norm = softmax\n")
    found = [(d.line, d.col, d.message, d.hint) for d in diagnostics(source)]
    assert found == [
        (3, 1, "unexpected keyword 'mask'; expected ')'", "the statement before it is unfinished"),
        (3, 15, "unexpected character '&'", "write 'and'"),
        (5, 1, "unexpected keyword 'let'; expected an expression", "the statement before it is unfinished"),
        (6, 7, "unexpected keyword 'mask'; expected a name", "'mask' is a reserved word; choose another name"),
    ]


def test_render_counts_the_errors():
    text = SpecError(diagnostics(SEVERAL), SEVERAL, "several.attn").render()
    assert text.splitlines()[-1] == "8 errors"
    assert [line for line in text.splitlines() if ": error: " in line][0] == \
        "several.attn:2:21: error: param 'window' is int but its default is float"


# ---------------------------------------------------------------------- the rendered format

def rendered(source: str, filename: str) -> str:
    with pytest.raises(SpecError) as info:
        elaborate(parse(source, filename), source, filename)
    return info.value.render()


def test_render_format_with_hint():
    source = "attention a\nparam window: int = 4\nmask = j <= i and i - j < windw\n"
    assert rendered(source, "specs/local.attn").splitlines() == [
        "specs/local.attn:3:27: error: unknown name 'windw'; did you mean 'window'?",
        "    mask = j <= i and i - j < windw",
        "    " + " " * 26 + "^",
    ]
    source = "attention a\nmask = j <= i && i < 5\n"
    assert rendered(source, "x.attn").splitlines() == [
        "x.attn:2:15: error: unexpected character '&'",
        "    mask = j <= i && i < 5",
        "    " + " " * 14 + "^",
        "  hint: write 'and'",
    ]


def test_render_keeps_tabs_so_the_caret_stays_under_the_column():
    source = "attention a\t\"x\"\nmask = j <= i\tand\ti - j < windw\n"
    text = rendered(source, "t.attn")
    lines = text.splitlines()
    assert lines[0] == "t.attn:2:27: error: unknown name 'windw'"
    assert lines[1] == "    mask = j <= i\tand\ti - j < windw"
    assert lines[2] == "    " + " " * 13 + "\t" + "   " + "\t" + " " * 8 + "^"
    assert lines[3] == "  hint: declare it first with param, input or let"
    # Expanded with any tab size, the caret sits under the 'w' of windw.
    for size in (1, 4, 8):
        expanded = lines[1].expandtabs(size)
        assert expanded[lines[2].expandtabs(size).index("^")] == "w"


def test_render_of_a_syntax_error_at_the_end_of_the_file():
    source = "attention a\nmask = (j <= i\n\n"
    assert rendered(source, "e.attn").splitlines() == [
        "e.attn:2:15: error: unexpected end of file; expected ')'",
        "    mask = (j <= i",
        "    " + " " * 14 + "^",
        "  hint: a '(' is not closed",
    ]


def test_render_of_an_empty_file():
    lines = rendered("", "empty.attn").splitlines()
    assert lines[0] == "empty.attn:1:1: error: unexpected end of file; expected 'attention'"
    assert lines[-1] == f"  hint: {HEADER_HINT}"


def test_render_quotes_the_right_line_after_a_form_feed():
    source = "attention a # page break here:\x0c\nmask = j <= windw\n"
    assert rendered(source, "ff.attn").splitlines()[:3] == [
        "ff.attn:2:13: error: unknown name 'windw'",
        "    mask = j <= windw",
        "    " + " " * 12 + "^",
    ]


def test_end_of_file_position_counts_only_newlines():
    source = "attention a\nmask = j <= i and # one\rtwo"
    found = diagnostics(source)
    assert [(d.line, d.col, d.message) for d in found] == [
        (2, len("mask = j <= i and # one\rtwo") + 1, "unexpected end of file; expected an expression"),
    ]


def test_render_with_crlf_line_endings():
    source = "attention a\r\nmask = j <= windw\r\n"
    assert rendered(source, "crlf.attn").splitlines()[:3] == [
        "crlf.attn:2:13: error: unknown name 'windw'",
        "    mask = j <= windw",
        "    " + " " * 12 + "^",
    ]


# ---------------------------------------------------------------------- doc strings are data

# As written in the .attn file (inside the double quotes): escaped quotes, backslashes, newlines.
INJECTION_DOC = r'x \"\"\" + __import__(\"os\").system(\"echo hi\") + \"\"\" \\ C:\\temp \"q\" line1\nimport os\n'


def test_a_doc_string_with_quotes_backslashes_and_newlines_is_carried_verbatim():
    source = f'attention inject "{INJECTION_DOC}"\nmask = j <= i\n'
    spec = front_end(source)
    assert spec.doc == 'x """ + __import__("os").system("echo hi") + """ \\ C:\\temp "q" line1\nimport os\n'
    assert spec.name == "inject"


def test_an_injecting_doc_string_stays_data_in_the_generated_module():
    from attncc.driver import pipeline as compiler

    source = f'attention inject "{INJECTION_DOC}"\nmask = j <= i\n'
    result = compiler.compile_source(source, "inject.attn", "torch")
    namespace: dict = {}
    exec(compile(result.code, "inject.py", "exec"), namespace)
    assert namespace["SPEC_DOC"] == result.spec.doc
    assert "os" not in namespace  # nothing of the doc ran


def test_unknown_escapes_keep_their_backslash():
    spec = front_end('attention a "match \\d+ in C:\\path"\n')
    assert spec.doc == "match \\d+ in C:\\path"


# ---------------------------------------------------------------------- the command line

CLI_BAD = "attention demo\nparam window: int = 4\nmask = i - j < windw\n"


def test_cli_reports_a_bad_spec_without_traceback_and_leaves_the_output_alone(tmp_path):
    spec = tmp_path / "bad.attn"
    spec.write_text(CLI_BAD)
    out = tmp_path / "OUT.py"
    before = b"# previous module, must survive\r\nx = 1\n\x00\xff"
    out.write_bytes(before)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "attncc", "compile", str(spec), "-o", str(out), "--backend", "torch"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith(f"{spec}:3:16: error: unknown name 'windw'; did you mean 'window'?\n")
    assert "Traceback" not in result.stderr
    assert result.stderr.rstrip("\n") == rendered(CLI_BAD, str(spec))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT.py", "bad.attn"]

    missing = tmp_path / "NEW.py"
    result = subprocess.run([sys.executable, "-m", "attncc", "compile", str(spec), "-o", str(missing)],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert not missing.exists()
