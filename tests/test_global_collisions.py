"""The Ray path's collision step, without Ray: cutting the rows into any groups of whole prefixes and
settling each group gives exactly the in-process answer (sids.collisions + disambiguation), in every mode.
This is the property that lets Ray Data group rows any way it likes (scale/global_collisions.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sidkit.scale.global_collisions import combine_quality, partial_quality, settle_group, with_group
from sidkit.sids.collisions import MODES, handle_collisions
from sidkit.sids.disambiguate import with_disambiguation
from sidkit.sids.quality import sid_quality

SIZES = [3, 4, 5]


def _rows(rng, n_old: int, n_new: int, k: int):
    old = np.stack([rng.integers(0, s, n_old) for s in SIZES], axis=1)
    new = np.stack([rng.integers(0, s, n_new) for s in SIZES], axis=1)
    cand = np.stack([rng.permutation(SIZES[-1])[:k] for _ in range(n_new)])
    cand[:, 0] = new[:, -1]  # column 0 is the encoded last code
    cand = np.array([[c for c in dict.fromkeys(row)] + [c for c in range(SIZES[-1]) if c not in row]
                     for row in cand.tolist()])[:, :k]
    return old, new, cand


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(MODES), st.integers(1, 3), st.integers(2, 9))
def test_settling_groups_of_prefixes_is_the_in_process_answer(seed, mode, capacity, groups):
    rng = np.random.default_rng(seed)
    n_old, n_new, k = int(rng.integers(0, 30)), int(rng.integers(1, 60)), 3
    old, new, cand = _rows(rng, n_old, n_new, k)
    # in process: the existing table's loads, then the new rows in catalogue order
    codes, _, report = handle_collisions({"mode": mode, "k": k, "capacity": capacity}, lambda: new,
                                         lambda _k: (new, cand), Counter(map(tuple, old.tolist())))
    table = np.concatenate([old, codes])
    expected_sid = with_disambiguation(table)
    # sharded: rows in a shuffled order, tagged, cut into groups of whole prefixes, settled group by group
    batch = {"item_id": np.array([f"o{i}" for i in range(n_old)] + [f"n{i}" for i in range(n_new)], dtype=object),
             "row": np.r_[np.arange(n_old), np.arange(n_new)].astype(np.int64),
             "existing": np.r_[np.ones(n_old, bool), np.zeros(n_new, bool)],
             "input_row": np.full(n_old + n_new, -1, dtype=np.int64),
             **{f"c{j}": np.r_[old[:, j], new[:, j]].astype(np.int64) for j in range(3)},
             **{f"k{j}": np.r_[np.full(n_old, -1), cand[:, j]].astype(np.int64) for j in range(k)}}
    shuffle = rng.permutation(n_old + n_new)
    batch = with_group({name: v[shuffle] for name, v in batch.items()}, sizes=SIZES, groups=groups)
    settled = [settle_group({n: v[batch["group"] == g] for n, v in batch.items()}, mode=mode, capacity=capacity,
                            sizes=SIZES) for g in np.unique(batch["group"])]
    got = {}
    for part in settled:
        for i, item in enumerate(part["item_id"]):
            got[item] = [int(part[f"c{j}"][i]) for j in range(3)] + [int(part["level"][i])]
    ids = [f"o{i}" for i in range(n_old)] + [f"n{i}" for i in range(n_new)]
    np.testing.assert_array_equal(np.array([got[i] for i in ids]), expected_sid)
    # and the quality sums give sid_quality's figures and the move report
    quality, moves = combine_quality([partial_quality(p, levels=3, sizes=SIZES) for p in settled], 3, SIZES)
    ref = sid_quality(table, SIZES)
    for key in ("collision_rate", "max_bucket", "n_unique_sids", "utilization", "top1_load"):
        assert quality[key] == ref[key], key
    assert abs(quality["sid_entropy"] - ref["sid_entropy"]) < 1e-9
    for key in ("moved", "over_capacity"):
        assert moves[key] == report.get(key, 0), key
