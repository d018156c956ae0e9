"""The prefix trie of valid SIDs, as dense tables, so constrained decoding is array lookups.

Depth d has one node per distinct SID prefix of length d. ``allowed[d]`` [nodes_d, V_d] says which
tokens of level d continue some item's SID from that node, ``child[d]`` [nodes_d, V_d] the node they
lead to (−1: no item), and ``item`` [nodes_D] the catalogue item at each full SID. Tokens are a
level's own code values (0..V_d − 1); the model adds its per-level offsets.
"""

from __future__ import annotations

import numpy as np

from sidkit.errors import SidkitError


class SIDTrie:
    def __init__(self, sids: np.ndarray) -> None:
        sids = np.asarray(sids, dtype=np.int64)
        if sids.ndim != 2 or len(sids) == 0 or (sids < 0).any():
            raise SidkitError(f"SIDs of shape {sids.shape}; expected [items, levels] of non-negative codes")
        if len(np.unique(sids, axis=0)) != len(sids):
            raise SidkitError("two items share a full SID; expected unique SIDs (with the disambiguation level)")
        self.depth = sids.shape[1]
        self.sizes = [int(sids[:, d].max()) + 1 for d in range(self.depth)]
        node = np.zeros(len(sids), dtype=np.int64)  # every item starts at the root
        self.allowed, self.child = [], []
        for d in range(self.depth):
            n_nodes = int(node.max()) + 1
            # the child of (node, token) is numbered by the distinct pairs in sorted order
            pair = node * self.sizes[d] + sids[:, d]
            distinct, nxt = np.unique(pair, return_inverse=True)
            allowed = np.zeros((n_nodes, self.sizes[d]), dtype=bool)
            child = np.full((n_nodes, self.sizes[d]), -1, dtype=np.int64)
            allowed[distinct // self.sizes[d], distinct % self.sizes[d]] = True
            child[distinct // self.sizes[d], distinct % self.sizes[d]] = np.arange(len(distinct))
            self.allowed.append(allowed)
            self.child.append(child)
            node = nxt.ravel()
        self.item = np.full(int(node.max()) + 1, -1, dtype=np.int64)
        self.item[node] = np.arange(len(sids))

    def items_of(self, leaves: np.ndarray) -> np.ndarray:
        """Catalogue items at full-depth nodes ``leaves`` (−1 stays −1)."""
        leaves = np.asarray(leaves)
        return np.where(leaves >= 0, self.item[np.maximum(leaves, 0)], -1)
