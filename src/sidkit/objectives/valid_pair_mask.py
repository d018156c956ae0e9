"""QuaSID's conflict-aware valid pair mask (CVPM): which row pairs of a batch may be pushed apart.

Two rows must not be repelled when they are the same row, the same item (an item shares its code with
itself), or a mined positive pair (the contrastive term pulls them together; repelling them too would
make the two objectives fight). Everything else is a valid pair.
"""

from __future__ import annotations

import torch


def valid_pair_mask(items: torch.Tensor, n_pairs: int = 0, conflict_aware: bool = True) -> torch.Tensor:
    """[R, R] bool, True where rows i and j may be repelled. With ``conflict_aware=False`` only i = j is masked."""
    r = len(items)
    valid = ~torch.eye(r, dtype=torch.bool, device=items.device)
    if not conflict_aware:
        return valid
    valid &= items[:, None] != items[None, :]
    if n_pairs:
        i = torch.arange(n_pairs, device=items.device)
        valid[i, i + n_pairs] = False
        valid[i + n_pairs, i] = False
    return valid
