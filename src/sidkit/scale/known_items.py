"""Which input items are new: duplicate ids refused, ids the table already holds answered, not re-coded.

One Ray Data group-by on a hash of the id brings every input row and table row of an id together (many
ids share a group, so Ray hands out a few thousand calls, not one per id). Inside a group, vectorised:
an id twice in the input is an error; an input row whose id the table holds is dropped (a re-sent item
keeps its SID, as in process) and that table row records the input row, so ``--out-shards`` can answer it
in catalogue order. Everything else passes through to the collision step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sidkit.errors import SidkitError


def with_id_group(batch: dict[str, np.ndarray], *, groups: int, source: str) -> dict[str, np.ndarray]:
    """``map_batches`` function: the group of a row's id (a fixed SipHash of the id, modulo ``groups``)."""
    h = pd.util.hash_array(np.asarray(batch["item_id"], dtype=object), hash_key="sidkit-id-groups")
    return {**batch, "id_group": (h % np.uint64(groups)).astype(np.int64)}


def split_known(group: dict[str, np.ndarray], *, source: str) -> dict[str, np.ndarray]:
    """One group of ids: new input rows and every table row (with ``input_row``: the input row of a
    re-sent id, else −1)."""
    ids = np.asarray(group["item_id"], dtype=object)
    existing = np.asarray(group["existing"], dtype=bool)
    rows = np.asarray(group["row"], dtype=np.int64)
    incoming = pd.Series(rows[~existing], index=ids[~existing])
    twice = incoming.index.duplicated(keep=False)
    if twice.any():
        item = incoming.index[twice][0]
        at = sorted(incoming[incoming.index == item].tolist())[:2]
        raise SidkitError(f"{source}: duplicate item id {item!r} (catalogue rows {at[0] + 1} and {at[1] + 1}); "
                          "expected unique ids across all shards")
    held = pd.Index(ids[existing])
    keep = existing | ~pd.Index(ids).isin(held)
    input_row = np.full(len(ids), -1, dtype=np.int64)
    if existing.any():
        input_row[existing] = incoming.reindex(ids[existing]).fillna(-1).to_numpy(dtype=np.int64)
    out = {name: np.asarray(values)[keep] for name, values in group.items() if name != "id_group"}
    out["input_row"] = input_row[keep]
    return out
