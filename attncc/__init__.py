"""attncc: a compiler from `.attn` attention specs to fused kernels with backward passes."""

__version__ = "0.1.0"
