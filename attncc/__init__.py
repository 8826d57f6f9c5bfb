"""attncc: a compiler from `.attn` attention specs to fused kernels with backward passes.

    mod = attncc.load("examples/alibi.attn", backend="torch")
    o = mod.attention(q, k, v, slopes=slopes)
"""

__version__ = "0.1.0"

from .errors import Diagnostic, SpecError  # noqa: E402
from .loader import load  # noqa: E402

__all__ = ["load", "SpecError", "Diagnostic", "__version__"]
