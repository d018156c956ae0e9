"""The residual walk every residual quantizer shares: level l quantizes what levels < l left over.

    r⁰ = x,   c_l = nearest(r^l, C_l),   r^{l+1} = r^l − C_l[c_l]

It works on NumPy arrays (residual k-means, faiss) and torch tensors (RQ-VAE's quantizer) alike; the
caller says how to find the nearest codeword and where each level's codebook comes from (a stored one,
or k-means fitted on that level's residuals while the walk goes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass
class Walk:
    codes: list[Any]                                   # [N] code per level
    codebooks: list[Any]                               # the codebook each level used
    residual: Any                                      # what the last level left over
    inputs: list[Any] = field(default_factory=list)    # each level's input (kept only when asked)


def residual_walk(x: Any, codebooks: Sequence[Any] | Callable[[int, Any], Any], nearest: Callable[[Any, Any, int], Any],
                  levels: int | None = None, keep_inputs: bool = False,
                  visit: Callable[[int, Any, Any], None] | None = None) -> Walk:
    """Walk ``levels`` levels (default: every codebook given). ``codebooks`` is a sequence, or a function
    (level, residual) → codebook for quantizers that learn each level from the residuals (``fit``);
    ``nearest(residual, codebook, level)`` picks each row's code (the level: for per-level code prices).
    ``visit(level, residual, code)`` runs at each level before the step down (RQ-VAE's losses: built
    in this order, autograd sums their gradients in the same order as before, so the same seed keeps
    giving the same weights to the last bit)."""
    book = codebooks if callable(codebooks) else (lambda level, _: codebooks[level])
    n = levels if levels is not None else len(codebooks)
    walk = Walk([], [], x)
    for level in range(n):
        c = book(level, walk.residual)
        idx = nearest(walk.residual, c, level)
        if keep_inputs:
            walk.inputs.append(walk.residual)
        walk.codes.append(idx)
        walk.codebooks.append(c)
        if visit is not None:
            visit(level, walk.residual, idx)
        if keep_inputs or walk.residual is x:  # never write into the caller's array, nor into a kept input
            walk.residual = walk.residual - c[idx]
        else:  # our own copy: in place saves an allocation per level (1.5 GB at 10⁶ × 384)
            walk.residual -= c[idx]
    return walk
