"""A seeded uniform sample of a sharded catalogue, read one piece at a time (bottom-k reservoir).

Each item gets a key, a seeded 64-bit hash of its id, and the sample is the ``n`` items with the smallest
keys. That is a uniform sample without replacement (the keys are independent of everything but the id),
it needs memory for ``n`` items only, and, unlike a classic reservoir that draws as it reads, it does not
depend on the order the shards are read in: the same seed picks the same items on any machine. The
sample comes back in catalogue order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sidkit.data.shards import list_shards, plan_pieces, read_piece, shard_schema
from sidkit.data.types import Catalog
from sidkit.errors import SidkitError


def item_keys(item_ids: list[str], seed: int) -> np.ndarray:
    """The sampling key of each id: SipHash-2-4 with a key made from the seed (pandas' hash_array)."""
    return pd.util.hash_array(np.asarray(item_ids, dtype=object), hash_key=f"sidkit-{seed:09d}"[-16:].rjust(16, "0"))


def sample_catalog(spec: str | Path, n: int, seed: int, progress: bool = False) -> Catalog:
    """The ``n`` items of the shards in ``spec`` with the smallest keys, in catalogue order."""
    if n < 1:
        raise SidkitError(f"--sample {n}; expected a positive number of items")
    shards = list_shards(spec)
    kinds = shard_schema(shards)
    pieces = plan_pieces(shards)
    total = sum(p.rows for p in pieces)
    parts: list[dict] = []  # candidates: key, catalogue row, id, text fields, embeddings
    held, threshold = 0, None
    for k, piece in enumerate(pieces):
        cat = read_piece(piece, kinds)
        keys = item_keys(cat.item_ids, seed)
        # once the sample is full, only items under its largest key can enter: about n·ln(N/n) in all
        take = np.flatnonzero(keys <= threshold) if threshold is not None else np.arange(len(keys))
        if len(take):
            parts.append({"key": keys[take], "row": piece.start + take, "id": np.asarray(cat.item_ids, dtype=object)[take],
                          **{f"t:{c}": np.asarray(v, dtype=object)[take] for c, v in cat.text.items()},
                          **{f"e:{c}": v[take] for c, v in cat.embeddings.items()}})
            held += len(take)
        if held > 2 * n or k == len(pieces) - 1:
            parts = [_smallest(parts, n)]
            held = len(parts[0]["key"])
            threshold = parts[0]["key"].max() if held == n else None
        if progress and (k % 50 == 0 or k == len(pieces) - 1):
            print(f"[sample] {piece.start + piece.rows}/{total} items read", flush=True)
    keep = parts[0]
    order = np.argsort(keep["row"])
    keep = {c: v[order] for c, v in keep.items()}
    return Catalog([str(i) for i in keep["id"]],
                   {c[2:]: [str(v) for v in keep[c]] for c in keep if c.startswith("t:")},
                   {c[2:]: keep[c] for c in keep if c.startswith("e:")},
                   source=f"{spec} (sample of {len(keep['id'])} of {total} items, seed {seed})")


def _smallest(parts: list[dict], n: int) -> dict:
    """The n candidates with the smallest keys; ties (a 64-bit collision) broken by catalogue row."""
    keep = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    order = np.lexsort((keep["row"], keep["key"]))[:n]
    return {c: v[order] for c, v in keep.items()}
