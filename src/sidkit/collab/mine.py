"""Mine the alignment pairs from training interactions with the chosen miners."""

from __future__ import annotations

from sidkit.collab.bpr import BPRMF
from sidkit.collab.cooccurrence import cooccurrence_pairs
from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.swing import swing_pairs
from sidkit.collab.u2i_triggers import u2i_trigger_pairs
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError

MINERS = ("u2i", "swing", "cooccurrence")


def mine_pairs(train: Interactions, sources: tuple[str, ...] = ("u2i", "swing"), seed: int = 0) -> ItemPairs:
    """QARM's two sources by default: u2i triggers from a BPR model, and Swing item2item."""
    unknown = [s for s in sources if s not in MINERS]
    if unknown:
        raise SidkitError(f"unknown pair source {unknown[0]!r}; expected some of {', '.join(MINERS)}")
    parts = []
    for s in sources:
        if s == "u2i":
            parts.append(u2i_trigger_pairs(train, BPRMF(seed=seed).fit(train).item_factors_))
        elif s == "swing":
            parts.append(swing_pairs(train, seed=seed))
        else:
            parts.append(cooccurrence_pairs(train))
    return ItemPairs.concat(parts)
