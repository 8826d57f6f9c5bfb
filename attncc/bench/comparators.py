"""The benchmark's comparators: PyTorch's SDPA and FlexAttention, built from a spec.

Before: a checked spec (`attncc.compiler.front_end`) and its dense torch reference module
(`attncc.load(path, backend="torch")`), whose `_symbols`, `_mask_in`, `_score_in` and
`_scale_in` compute the spec's mask, score and scale as torch code. After:

- `sdpa_plan(spec)` / `flex_plan(spec)` say whether the comparator can compute the spec exactly,
  how, and if not, why (a `Plan`); they read only the IR.
- `make_sdpa(...)` / `make_flex(...)` give a function `(q, k, v) -> o` that computes the spec with
  that comparator for one set of sizes, params and inputs. Everything that does not depend on
  q, k, v (SDPA's dense attn_mask, FlexAttention's block mask) is built once, before the
  function is returned, so timing the function times the attention alone.

What each one can express (docs/benchmarks.md says the same for users):

- Both compute a softmax of scale * q.k^T plus something, so neither can express linear
  attention, `norm = sum` / `none`, or a softmax sink (an extra term in the denominator).
- SDPA: the score must be `c * s + bias(b, h, i, j, inputs...)` with a constant c, which the
  plan decides from d score / ds (`attncc.derive.diff`). A dense mask needs nothing, `j <= i`
  is `is_causal=True`, any other mask is a dense bool attn_mask, and a bias (any mask) a dense
  float attn_mask: bias where the mask allows the pair, -inf elsewhere.
- FlexAttention: any softmax score and mask, as score_mod and mask_mod. Both are written
  generically: the vmapped scalars b, h, q_idx, kv_idx replace the index tensors in the
  reference's environment and the reference's own `_score_in` / `_mask_in` run on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
import torch.nn.functional as F

from .. import ir
from ..ir.constfold import is_always_true, is_causal_mask
from ..language.formatting import format_expr

SCORE_VAR = ir.Var("s", ir.FLOAT, "score")
POSITION_NAMES = ("i", "j", "b", "h")


@dataclass(frozen=True)
class Plan:
    """How a comparator computes a spec. `supported` False: `why` says why it cannot.

    SDPA modes: "plain" (no mask), "causal" (is_causal=True), "bool_mask" (dense bool
    attn_mask), "float_mask" (dense float attn_mask with the score's bias). `slope` is the
    constant c of score = c * s + bias (SDPA's scale is c times the spec's scale).
    FlexAttention: `mask` / `score` say whether a mask_mod / score_mod is needed.
    `reads_b` / `reads_h`: whether the mask (and for "float_mask" the score) depends on b / h.
    """

    impl: str
    supported: bool
    why: str = ""
    mode: str = ""
    slope: float = 1.0
    mask: bool = False
    score: bool = False
    reads_b: bool = False
    reads_h: bool = False

    def describe(self) -> str:
        """One line for the benchmark's notes: how the comparator is called, or why it is not."""
        if not self.supported:
            return f"n/a: {self.why}"
        if self.impl == "sdpa":
            return {"plain": "SDPA, no mask", "causal": "SDPA is_causal=True",
                    "bool_mask": "SDPA with a dense bool attn_mask (built once, not timed)",
                    "float_mask": "SDPA with a dense float attn_mask: bias, -inf where masked (built once, not timed)",
                    }[self.mode]
        parts = ["mask_mod" if self.mask else "no mask", "score_mod" if self.score else "no score_mod"]
        return "FlexAttention, " + ", ".join(parts)


def softmax_reason(spec: ir.Spec) -> Optional[str]:
    """Why `spec` is not a plain softmax over scores (so SDPA and FlexAttention cannot compute
    it), or None when it is one."""
    if spec.is_linear:
        return ("linear attention (o = phi(q) . sum phi(k) v) has no softmax over an N x M score "
                "matrix; SDPA and FlexAttention compute only softmax attention")
    if spec.norm.kind != "softmax":
        how = "divided by their plain sum" if spec.norm.kind == "sum" else "used as they are"
        return (f"norm = {spec.norm.kind}: the scores are {how}, not softmaxed; SDPA and "
                "FlexAttention always apply a softmax")
    if spec.norm.sink is not None:
        return ("the softmax sink adds exp(sink) to each row's denominator; SDPA and FlexAttention "
                "have no such term")
    return None


def score_slope(spec: ir.Spec) -> Optional[float]:
    """c when the score is c * s + (something without s), else None. Needs a softmax spec."""
    from ..symbolic.derive import diff

    slope = diff(spec.score, SCORE_VAR)
    if isinstance(slope, ir.Const) and slope.type in (ir.INT, ir.FLOAT):
        return float(slope.value)
    return None


def score_has_bias(spec: ir.Spec) -> bool:
    """Whether the score's term without s can differ between pairs (b, h, i, j) — a term that
    is the same for every pair cancels in the softmax. Needs score_slope(spec) not None."""
    return bool(ir.free_vars(spec.score) & set(POSITION_NAMES)) or bool(ir.loads(spec.score))


def sdpa_plan(spec: ir.Spec) -> Plan:
    """Whether and how `torch.nn.functional.scaled_dot_product_attention` computes `spec`."""
    reason = softmax_reason(spec)
    if reason:
        return Plan("sdpa", False, reason)
    slope = score_slope(spec)
    if slope is None:
        from ..symbolic.derive import diff

        dscore = format_expr(diff(spec.score, SCORE_VAR))
        return Plan("sdpa", False, f"the score {format_expr(spec.score)} is not c * s + bias "
                                   f"(d score / ds = {dscore} is not a constant); SDPA computes "
                                   "only scale * q.k^T + attn_mask")
    if score_has_bias(spec):
        used = ir.free_vars(spec.mask) | ir.free_vars(spec.score)
        return Plan("sdpa", True, mode="float_mask", slope=slope, reads_b="b" in used, reads_h="h" in used)
    if is_always_true(spec.mask):
        return Plan("sdpa", True, mode="plain", slope=slope)
    if is_causal_mask(spec.mask):
        return Plan("sdpa", True, mode="causal", slope=slope)
    used = ir.free_vars(spec.mask)
    return Plan("sdpa", True, mode="bool_mask", slope=slope, reads_b="b" in used, reads_h="h" in used)


def flex_plan(spec: ir.Spec) -> Plan:
    """Whether and how FlexAttention computes `spec`."""
    reason = softmax_reason(spec)
    if reason:
        return Plan("flex", False, reason)
    return Plan("flex", True, mask=not is_always_true(spec.mask), score=spec.score != SCORE_VAR)


# ---------------------------------------------------------------- the spec's values as torch

def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype masks, biases and score_mods are computed in: float64 for float64 inputs, else
    float32 (what FlexAttention's kernels hand to score_mod)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def reference_env(ref, sizes: Mapping[str, int], params: Mapping, inputs: Mapping,
                  dtype: torch.dtype, device) -> list:
    """The reference's environment (its `_NAMES` in order) with positions as broadcastable
    [B, H, N, M] index tensors; inputs are detached (the comparators learn nothing)."""
    detached = {name: t.detach() for name, t in inputs.items()}
    return ref._symbols(dict(sizes), dict(params), detached, dtype, device)


def spec_scale(ref, env: list) -> float:
    """The spec's scale (a function of sizes and params) as a Python float."""
    return float(ref._scale_in(env))


def sdpa_attn_mask(plan: Plan, ref, sizes, params, inputs, dtype: torch.dtype, device) -> Optional[torch.Tensor]:
    """The attn_mask SDPA needs for `plan` (None for "plain" and "causal"): a contiguous
    [B or 1, H or 1, N, M] tensor (batch / head dims of size 1 where the spec does not read
    b / h), bool, or `dtype` float holding the bias where the mask allows the pair and -inf
    elsewhere. Filled one (b, h) slice at a time, so the peak memory is the mask itself plus one
    N x M slice in the compute dtype."""
    if plan.mode in ("plain", "causal"):
        return None
    env = reference_env(ref, sizes, params, inputs, compute_dtype(dtype), device)
    slots = {name: ref._NAMES.index(name) for name in POSITION_NAMES}
    batches = sizes["B"] if plan.reads_b else 1
    heads = sizes["H"] if plan.reads_h else 1
    N, M = sizes["N"], sizes["M"]
    out = torch.empty(batches, heads, N, M, dtype=torch.bool if plan.mode == "bool_mask" else dtype, device=device)
    zero = torch.zeros((), dtype=compute_dtype(dtype), device=device)
    neg_inf = torch.full((), float("-inf"), dtype=compute_dtype(dtype), device=device)
    for b in range(batches):
        for h in range(heads):
            at = list(env)
            at[slots["b"]] = torch.full((1, 1, 1, 1), b, dtype=torch.int64, device=device)
            at[slots["h"]] = torch.full((1, 1, 1, 1), h, dtype=torch.int64, device=device)
            mask = torch.as_tensor(ref._mask_in(at), device=device)
            value = mask if plan.mode == "bool_mask" else torch.where(mask, ref._score_in(at, zero), neg_inf)
            out[b, h].copy_(torch.broadcast_to(value, (1, 1, N, M))[0, 0])
    return out


def _torch_at_least(major: int, minor: int) -> bool:
    parts = torch.__version__.split("+")[0].split(".")
    return (int(parts[0]), int(parts[1])) >= (major, minor)


def _repeat_kv(k: torch.Tensor, v: torch.Tensor, groups: int):
    """k, v with each kv head repeated for its `groups` query heads (GQA without enable_gqa)."""
    if groups == 1:
        return k, v
    return k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)


def make_sdpa(plan: Plan, ref, sizes, params, inputs, dtype: torch.dtype, device) -> Callable:
    """(q, k, v) -> o by SDPA for these sizes, params and inputs. Needs plan.supported."""
    if not plan.supported:
        raise ValueError(f"SDPA cannot compute this spec: {plan.why}")
    env = reference_env(ref, sizes, params, inputs, compute_dtype(dtype), device)
    scale = plan.slope * spec_scale(ref, env)
    attn_mask = sdpa_attn_mask(plan, ref, sizes, params, inputs, dtype, device)
    causal = plan.mode == "causal"
    groups = sizes["H"] // sizes["HKV"]
    # enable_gqa (torch >= 2.5) where SDPA's flash kernel takes it (no attn_mask); with a mask the
    # memory-efficient kernel runs, which does not, so k and v are repeated instead.
    gqa = groups > 1 and attn_mask is None and _torch_at_least(2, 5)

    def sdpa(q, k, v):
        if groups > 1 and not gqa:
            k, v = _repeat_kv(k, v, groups)
        extra = {"enable_gqa": True} if gqa else {}
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal,
                                              scale=scale, **extra)

    sdpa.attn_mask = attn_mask
    return sdpa


# ---------------------------------------------------------------- FlexAttention

def _env_at(env: list, slots: Mapping[str, int], b, h, q_idx, kv_idx) -> list:
    """`env` with the positions replaced by FlexAttention's (vmapped) scalars."""
    out = list(env)
    for name, value in (("b", b), ("h", h), ("i", q_idx), ("j", kv_idx)):
        out[slots[name]] = value
    return out


def flex_mods(ref, sizes, params, inputs, dtype: torch.dtype, device):
    """(mask_mod, score_mod) written from the reference: each builds the environment at one
    (b, h, q_idx, kv_idx) and calls the reference's `_mask_in` / `_score_in` there."""
    env = reference_env(ref, sizes, params, inputs, compute_dtype(dtype), device)
    slots = {name: ref._NAMES.index(name) for name in POSITION_NAMES}

    def mask_mod(b, h, q_idx, kv_idx):
        return ref._mask_in(_env_at(env, slots, b, h, q_idx, kv_idx))

    def score_mod(score, b, h, q_idx, kv_idx):
        return ref._score_in(_env_at(env, slots, b, h, q_idx, kv_idx), score)

    return mask_mod, score_mod


def flex_mask_dims(spec: ir.Spec, sizes: Mapping[str, int]) -> tuple[Optional[int], Optional[int]]:
    """The B and H for create_block_mask: None (broadcast) where the mask does not read b / h."""
    used = ir.free_vars(spec.mask)
    return (sizes["B"] if "b" in used else None), (sizes["H"] if "h" in used else None)


def _synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def build_block_mask(spec: ir.Spec, mask_mod, sizes, device, reps: int = 1):
    """(block mask, milliseconds per create_block_mask call: the median of `reps` calls after
    one untimed call)."""
    from torch.nn.attention.flex_attention import create_block_mask

    B, H = flex_mask_dims(spec, sizes)
    block_mask = create_block_mask(mask_mod, B, H, sizes["N"], sizes["M"], device=device)
    times = []
    for _ in range(max(1, reps)):
        _synchronize(device)
        start = time.perf_counter()
        block_mask = create_block_mask(mask_mod, B, H, sizes["N"], sizes["M"], device=device)
        _synchronize(device)
        times.append((time.perf_counter() - start) * 1000.0)
    return block_mask, sorted(times)[len(times) // 2]


@dataclass
class FlexRun:
    """A FlexAttention call for one shape: `fn(q, k, v) -> o`, and the block mask's creation
    time in ms (None without a mask)."""

    fn: Callable
    block_mask_ms: Optional[float]
    compiled: bool


def make_flex(plan: Plan, spec: ir.Spec, ref, sizes, params, inputs, dtype: torch.dtype, device,
              compiled: bool, block_mask_reps: int = 1) -> FlexRun:
    """FlexAttention for these sizes, params and inputs: under torch.compile when `compiled`
    (a fresh compilation: dynamo's caches are reset first, so many shapes and specs in one
    process never hit its recompile limit and fall back to the unfused eager path), else eager
    (unfused; what runs on CPU). Needs plan.supported."""
    from torch.nn.attention.flex_attention import flex_attention

    if not plan.supported:
        raise ValueError(f"FlexAttention cannot compute this spec: {plan.why}")
    mask_mod, score_mod = flex_mods(ref, sizes, params, inputs, dtype, device)
    env = reference_env(ref, sizes, params, inputs, compute_dtype(dtype), device)
    scale = spec_scale(ref, env)
    block_mask, block_ms = (build_block_mask(spec, mask_mod, sizes, device, block_mask_reps)
                            if plan.mask else (None, None))
    groups = sizes["H"] // sizes["HKV"]
    gqa = groups > 1 and _torch_at_least(2, 5)
    if compiled:
        torch._dynamo.reset()
        kernel = torch.compile(flex_attention, dynamic=False)
    else:
        kernel = flex_attention
    mod = score_mod if plan.score else None

    def flex(q, k, v):
        if groups > 1 and not gqa:
            k, v = _repeat_kv(k, v, groups)
        extra = {"enable_gqa": True} if gqa else {}
        return kernel(q, k, v, score_mod=mod, block_mask=block_mask, scale=scale, **extra)

    return FlexRun(flex, block_ms, compiled)
