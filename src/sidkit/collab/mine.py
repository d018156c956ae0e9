"""Mine the alignment pairs from training interactions with the chosen miners (cached: pair_cache)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sidkit.collab.bpr import BPRMF
from sidkit.collab.cooccurrence import cooccurrence_pairs
from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.pair_cache import PairCache, pair_key
from sidkit.collab.swing import swing_pairs
from sidkit.collab.u2i_triggers import u2i_trigger_pairs
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError

MINERS = ("u2i", "swing", "cooccurrence")


def mine_pairs(train: Interactions, sources: tuple[str, ...] = ("u2i", "swing"), seed: int = 0,
               progress: bool = False) -> ItemPairs:
    """QARM's two sources by default: u2i triggers from a BPR model, and Swing item2item."""
    unknown = [s for s in sources if s not in MINERS]
    if unknown:
        raise SidkitError(f"unknown pair source {unknown[0]!r}; expected some of {', '.join(MINERS)}")
    parts = []
    for s in sources:
        t = time.perf_counter()
        if s == "u2i":
            bpr = BPRMF(seed=seed).fit(train, progress=progress)
            parts.append(u2i_trigger_pairs(train, bpr.item_factors_))
        elif s == "swing":
            parts.append(swing_pairs(train, seed=seed, progress=progress))
        else:
            parts.append(cooccurrence_pairs(train))
        if progress:
            print(f"  {s}: {len(parts[-1])} pairs in {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)
    return ItemPairs.concat(parts)


def mine_or_load(train: Interactions, sources: tuple[str, ...], seed: int, cache_dir: str | Path | None,
                 progress: bool = False) -> tuple[ItemPairs, bool]:
    """(pairs, whether they came from the cache). ``cache_dir=None`` mines without caching."""
    if cache_dir is None:
        return mine_pairs(train, sources, seed, progress), False
    cache, key = PairCache(cache_dir), pair_key(train, tuple(sources), seed)
    pairs = cache.load(key)
    if pairs is not None:
        return pairs, True
    pairs = mine_pairs(train, sources, seed, progress)
    cache.save(key, pairs)
    return pairs, False
