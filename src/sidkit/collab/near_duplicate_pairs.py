"""Drop mined pairs whose two items are already near-duplicates in content.

About a fifth of scientific items have a variant with cosine > 0.95 (same description, another size or
colour), and co-clicks are rich in such variants. Such a pair is already together before any alignment,
so it spends a row of the batch without moving anything (issue 18's "pairs that teach nothing").
"""

from __future__ import annotations

import numpy as np

from sidkit.collab.item_pairs import ItemPairs
from sidkit.errors import SidkitError


def drop_near_duplicate_pairs(pairs: ItemPairs, x: np.ndarray, threshold: float) -> ItemPairs:
    """The pairs whose items' content cosine is below ``threshold`` (rows of ``x`` are unit vectors)."""
    if not -1.0 <= threshold <= 1.0:
        raise SidkitError(f"drop_duplicates {threshold}; expected a cosine between -1 and 1")
    cos = np.einsum("ij,ij->i", x[pairs.trigger], x[pairs.target])
    keep = cos < threshold
    return ItemPairs(pairs.trigger[keep], pairs.target[keep], pairs.source[keep])
