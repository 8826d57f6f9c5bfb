"""The language's functions that sympy lacks, as sympy Functions with their own derivatives.

Activations (sigmoid, softplus, silu, gelu, elu, relu) stay whole so that derivatives remain
compact (d sigmoid = sigmoid * (1 - sigmoid)); `FloorDiv` and `PyMod` are `//` and `%` with
Python's floor semantics, kept opaque. Used by simplify.py only.
"""

from __future__ import annotations

import sympy as sp

from ..ir import constfold


class _Float1(sp.Function):
    """A real function of one real argument, folded numerically on numbers."""

    nargs = 1
    scalar = ""  # its name in constfold.SCALAR_FUNCTIONS
    positive = False  # positive for every real argument
    derivative = None  # (x, f(x)) -> f'(x)

    @classmethod
    def eval(cls, x):
        if isinstance(x, sp.Number) and x.is_finite:
            try:
                return sp.Float(constfold.SCALAR_FUNCTIONS[cls.scalar](float(x)))
            except (ValueError, OverflowError, ZeroDivisionError):
                return None
        return None

    def fdiff(self, argindex=1):
        return type(self).derivative(self.args[0], self)

    def _eval_is_real(self):
        return self.args[0].is_real if self.scalar not in ("log2", "log1p") else None

    def _eval_is_positive(self):
        return True if self.positive and self.args[0].is_real else None


def relation_as_logic(rel):
    """A comparison whose operands hold a Piecewise (a `where`), as and/or of plain comparisons.

    sympy's Piecewise mangles such a comparison when it is used as a condition (it keeps only
    the first branch of the inner Piecewise), so no condition may reach it in that form.
    """
    if not rel.has(sp.Piecewise):
        return rel
    folded = sp.piecewise_fold(rel)
    if not isinstance(folded, sp.Piecewise):
        return folded
    terms, earlier_false = [], sp.true
    for value, cond in folded.args:
        terms.append(sp.And(earlier_false, cond, value))
        earlier_false = sp.And(earlier_false, sp.Not(cond))
    return sp.Or(*terms)


def _float_function(name: str, derivative, positive: bool = False):
    attrs = {"scalar": name.lower(), "positive": positive, "derivative": staticmethod(derivative)}
    return type(name, (_Float1,), attrs)


Sigmoid = _float_function("Sigmoid", lambda x, f: f * (1 - f), positive=True)
Softplus = _float_function("Softplus", lambda x, f: Sigmoid(x), positive=True)
Silu = _float_function("Silu", lambda x, f: Sigmoid(x) * (1 + x * (1 - Sigmoid(x))))
Gelu = _float_function("Gelu", lambda x, f: (1 + sp.erf(x / sp.sqrt(2))) / 2
                       + x * sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi))
Elu = _float_function("Elu", lambda x, f: sp.Piecewise((1, relation_as_logic(x > 0)), (sp.exp(x), True)))
Exp2 = _float_function("Exp2", lambda x, f: sp.log(2) * f, positive=True)
Log2 = _float_function("Log2", lambda x, f: 1 / (x * sp.log(2)))
Log1p = _float_function("Log1p", lambda x, f: 1 / (1 + x))


class Relu(sp.Function):
    """max(x, 0); int for an int argument. Its derivative at 0 is 0, as in PyTorch."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_nonnegative:
            return x
        if x.is_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        return sp.Piecewise((1, relation_as_logic(self.args[0] > 0)), (0, True))

    def _eval_is_integer(self):
        return self.args[0].is_integer

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_nonnegative(self):
        return True if self.args[0].is_real else None


class _IntDivision(sp.Function):
    nargs = 2

    def _eval_is_integer(self):
        return True

    def fdiff(self, argindex=1):
        return sp.S.Zero


class FloorDiv(_IntDivision):
    """a // b with Python's floor semantics (ints only)."""

    @classmethod
    def eval(cls, a, b):
        if isinstance(a, sp.Integer) and isinstance(b, sp.Integer) and b != 0:
            return sp.Integer(int(a) // int(b))
        if b == 1:
            return a
        return None


class PyMod(_IntDivision):
    """a % b with Python's floor semantics (the sign of b; ints only)."""

    @classmethod
    def eval(cls, a, b):
        if isinstance(a, sp.Integer) and isinstance(b, sp.Integer) and b != 0:
            return sp.Integer(int(a) % int(b))
        if b == 1 or b == -1:
            return sp.S.Zero
        return None

    def _eval_is_nonnegative(self):
        return True if self.args[1].is_positive else None
