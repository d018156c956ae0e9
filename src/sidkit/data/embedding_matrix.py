"""The check every embedding matrix passes at the API boundary, once, before any numeric code sees it."""

from __future__ import annotations

import numpy as np

from sidkit.errors import SidkitError


def as_matrix(x: np.ndarray, name: str = "embeddings") -> np.ndarray:
    """float32, C-contiguous, 2-D and finite: what faiss and torch need; a one-line error otherwise."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise SidkitError(f"{name}: shape {x.shape}; expected a non-empty (n_items, dim) matrix")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise SidkitError(f"{name}: dtype {x.dtype}; expected real numbers")
    if not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0]) + 1
        raise SidkitError(f"{name}: row {row}: NaN or inf; expected finite numbers")
    return np.ascontiguousarray(x, dtype=np.float32)
