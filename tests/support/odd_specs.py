"""Small specs whose pieces print as Python constants or scalars inside the Triton kernels."""

# Constructs that print as Python constants or scalars inside the kernels: literal divisors of
# either sign, constant-index and bool reads, a score without s, a mask of b and h only, an
# int64 sorted input, int-valued derivatives, float comparisons of scalars.
ODD_SPECS = {
    "odd_constants": (
        "attention odd_constants\nparam flag: bool = true\nparam w: float = 0.5\n"
        "input tb[H, 7] learnable\ninput tf[B, N]: bool\n"
        "mask = ((i - j) // -2 >= -5 and (j - i) % 3 != 1) or (flag and tf[b, 0])\n"
        "score = w + tb[0, 1] * s + where(i > j, 1, 0)\nnorm = softmax(sink = tb[h, 2])\n"),
    "odd_scalar_score": "attention odd_scalar_score\nparam w: float = 0.5\nmask = h == 1 or b == 0\n"
                        "score = w\nnorm = sum\n",
    "odd_sorted_int64": "attention odd_sorted_int64\ninput doc[B, N]: int64 sorted\n"
                        "mask = doc[b, i] == doc[b, j % N] and not (j > i)\n"
                        "score = sigmoid(s) ** 3 + floor(s) * 0.1\nnorm = none\n",
    # A float comparison of scalars `and`-ed with a tile condition (the interpreter kept the
    # scalar comparison as a float and refused the `&`; found by the generated checks).
    "odd_float_condition": "attention odd_float_condition\nparam p: int = 3\nparam w: float = 0.7\n"
                           "mask = j <= i or w > 0.5 * p\n"
                           "score = where(i < 0.25 and w < 2.5 * p, exp(tanh(b)), min(s, -4))\n",
}
