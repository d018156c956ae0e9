"""Mined item pairs cached on disk, like text embeddings: the same training clicks, sources, miner
parameters and seed give the same pairs, so ``fit`` of a second method and ``eval ranking`` of the same
data mine nothing.

The key hashes everything the pairs depend on: the training interactions (users, items, order), the
catalogue size, the sources, the seed and ``MINER_VERSION`` (bumped whenever a miner's output changes).
Files are safetensors (no pickle), written atomically under ``<cache>/pairs/``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from sidkit.atomic import write_file
from sidkit.collab.item_pairs import ItemPairs
from sidkit.data.types import Interactions
from sidkit.errors import SidkitWarning

MINER_VERSION = 1  # bump whenever a miner's output changes for the same input, so old entries are not reused


def pair_key(train: Interactions, sources: tuple[str, ...], seed: int) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": MINER_VERSION, "sources": list(sources), "seed": seed, "n_items": train.n_items,
                         "n_users": train.n_users}, sort_keys=True).encode())
    for a in (train.users, train.items):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


class PairCache:
    def __init__(self, root: str | Path) -> None:
        self.dir = Path(root) / "pairs"

    def load(self, key: str) -> ItemPairs | None:
        path = self.dir / f"{key}.safetensors"
        if not path.is_file():
            return None
        try:
            t = load_file(str(path))
            names = json.loads(bytes(t["source_names"]).decode())
            return ItemPairs(t["trigger"], t["target"], np.asarray(names, dtype="<U16")[t["source"]])
        except Exception as e:  # a truncated or foreign file: mined again
            warnings.warn(f"{path}: unreadable pair cache entry ({type(e).__name__}); mining again",
                          SidkitWarning, stacklevel=2)
            return None

    def save(self, key: str, pairs: ItemPairs) -> None:
        names, codes = np.unique(pairs.source, return_inverse=True)
        payload = {"trigger": np.ascontiguousarray(pairs.trigger, dtype=np.int64),
                   "target": np.ascontiguousarray(pairs.target, dtype=np.int64),
                   "source": np.ascontiguousarray(codes, dtype=np.int64),
                   "source_names": np.frombuffer(json.dumps(names.tolist()).encode(), dtype=np.uint8).copy()}
        write_file(self.dir / f"{key}.safetensors", lambda tmp: save_file(payload, str(tmp)))
