"""SIDs as LLM tokens: one token per level, ``<a_12><b_3><c_200><d_0>`` (the last is disambiguation)."""

from __future__ import annotations

import string

import numpy as np


def level_prefix(level: int) -> str:
    return string.ascii_lowercase[level] if level < 26 else f"l{level}"


def sid_to_tokens(sid: np.ndarray | list[int]) -> str:
    return "".join(f"<{level_prefix(lvl)}_{int(c)}>" for lvl, c in enumerate(sid))


def token_vocabulary(sid: np.ndarray, codebook_sizes: list[int]) -> list[str]:
    """Every token a model may emit: all codes of each level, and the disambiguation values in use."""
    vocab = [f"<{level_prefix(lvl)}_{c}>" for lvl, k in enumerate(codebook_sizes) for c in range(k)]
    last = len(codebook_sizes)
    vocab += [f"<{level_prefix(last)}_{c}>" for c in range(int(sid[:, last].max()) + 1)]
    return vocab
