"""Fuse several modalities of one item into one vector: normalise each, then weighted concatenation.

Normalising first stops a modality with a large norm (or many dimensions) from drowning the others;
scaling by sqrt(weight) makes ``weight`` the modality's share of the squared norm, so cosine similarity
of fused vectors is the weighted mean of the per-modality cosines.
"""

from __future__ import annotations

import numpy as np

from sidkit.errors import SidkitError


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def fuse_modalities(parts: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
    if not parts:
        raise SidkitError("no modality to fuse; expected text fields or embedding columns")
    weights = weights or {}
    unknown = set(weights) - set(parts)
    if unknown:
        raise SidkitError(f"modality weight for {sorted(unknown)[0]!r}, which is not among {sorted(parts)}")
    n = {len(v) for v in parts.values()}
    if len(n) != 1:
        raise SidkitError(f"modalities have different item counts {sorted(n)}")
    total = sum(weights.get(k, 1.0) for k in parts)
    out = []
    for name in sorted(parts):
        w = weights.get(name, 1.0)
        if w < 0:
            raise SidkitError(f"modality weight for {name!r} is negative")
        out.append(l2_normalize(parts[name]) * np.sqrt(w / total))
    return np.ascontiguousarray(np.concatenate(out, axis=1), dtype=np.float32)
