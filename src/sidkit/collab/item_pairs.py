"""(trigger, target) item pairs mined from collaborative signal: the supervision for alignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ItemPairs:
    """Parallel arrays of item indices. ``source`` names the miner of each pair (for reports)."""

    trigger: np.ndarray
    target: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.trigger)

    @classmethod
    def empty(cls) -> "ItemPairs":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, np.zeros(0, dtype="<U16"))

    @classmethod
    def of(cls, trigger: np.ndarray, target: np.ndarray, source: str) -> "ItemPairs":
        trigger = np.asarray(trigger, dtype=np.int64)
        return cls(trigger, np.asarray(target, dtype=np.int64), np.full(len(trigger), source, dtype="<U16"))

    @classmethod
    def concat(cls, parts: list["ItemPairs"]) -> "ItemPairs":
        """Join several miners' pairs, keeping the first occurrence of each unordered item pair."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        t = np.concatenate([p.trigger for p in parts])
        g = np.concatenate([p.target for p in parts])
        s = np.concatenate([p.source for p in parts])
        keep = t != g
        t, g, s = t[keep], g[keep], s[keep]
        lo, hi = np.minimum(t, g), np.maximum(t, g)
        _, first = np.unique(lo * (int(max(hi.max(), lo.max())) + 1) + hi, return_index=True)
        first.sort()
        return cls(t[first], g[first], s[first])

    def counts(self) -> dict[str, int]:
        names, n = np.unique(self.source, return_counts=True)
        return {str(a): int(b) for a, b in zip(names, n)}
