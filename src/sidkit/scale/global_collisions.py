"""The collision step over the whole catalogue, exactly as the in-process ``assign`` does it.

Why a group by the first L−1 codes is exact: ``disambiguate`` numbers the items of each full code tuple in
table order, and ``reassign`` / ``reassign-optimal`` only ever move an item's last code, so an item's
fate depends only on the items that share its first L−1 codes. Ray Data groups the rows (existing table
and new items) by that prefix; inside a group this module runs today's rules unchanged
(``sids.collisions``), on the new items in catalogue order, with the existing rows' tuples as the loads.

Many prefixes share one group (``with_group``: a prefix's id modulo the number of groups), so Ray hands
out a few thousand calls, not one per prefix; exactness only needs a prefix never to be split.

Every row of a group comes back (existing ones unchanged) with what the quality figures need, so the
table's collision rate, buckets and entropy are summed over groups without another pass: ``bucket`` (items
on its final tuple), ``first`` (one row per tuple), ``enc_collided`` (would collide had nothing moved).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from sidkit.sids.collisions import ROW_MOVES


def tuple_ids(codes: np.ndarray, sizes: list[int]) -> np.ndarray:
    """One integer per code tuple (mixed radix where it fits in 63 bits, else a dense rank)."""
    if float(np.prod(np.asarray(sizes, dtype=np.float64))) < 2.0 ** 62:
        key = np.zeros(len(codes), dtype=np.int64)
        for j, k in enumerate(sizes):
            key = key * int(k) + codes[:, j]
        return key
    return np.unique(codes, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def with_group(batch: dict[str, np.ndarray], *, sizes: list[int], groups: int) -> dict[str, np.ndarray]:
    """``map_batches`` function: the group a row's first L−1 codes fall in. Many prefixes share a group
    (fewer, larger groups for Ray to hand out); exactness only needs a prefix never to be split."""
    levels = len(sizes)
    prefix = np.stack([batch[f"c{j}"] for j in range(levels - 1)], axis=1) if levels > 1 else \
        np.zeros((len(batch["row"]), 1), dtype=np.int64)
    key = tuple_ids(prefix.astype(np.int64), list(sizes[:-1]) or [1])
    return {**batch, "group": (key % groups).astype(np.int64)}


def _rank_within(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's place among the rows with its key, in row order (0, 1, ...), and its key's row count."""
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    start = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    first = np.flatnonzero(start)
    counts = np.diff(np.r_[first, len(key)])
    group = np.cumsum(start) - 1
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - first[group]
    size = np.empty(len(key), dtype=np.int64)
    size[order] = counts[group]
    return rank, size


def settle_group(group: dict[str, np.ndarray], *, mode: str, capacity: int, sizes: list[int]) -> dict[str, np.ndarray]:
    """One group of whole prefixes: new rows get their final codes and disambiguation level; existing rows
    keep theirs. ``row`` orders rows: the table's order for existing rows, catalogue order for new ones."""
    levels = len(sizes)
    existing = np.asarray(group["existing"], dtype=bool)
    order = np.lexsort((group["row"], ~existing))  # existing rows first, each part in its own order
    g = {name: np.asarray(values)[order] for name, values in group.items()}
    existing = existing[order]
    code_cols = [f"c{j}" for j in range(levels)]
    codes = np.stack([g[c] for c in code_cols], axis=1).astype(np.int64)
    encoded = codes.copy()
    rank = np.zeros(len(codes), dtype=np.int64)
    over = np.zeros(len(codes), dtype=bool)
    new = ~existing
    if mode in ROW_MOVES and new.any():
        options = np.stack([g[c] for c in sorted((c for c in g if c[:1] == "k" and c[1:].isdigit()),
                                                key=lambda c: int(c[1:]))], axis=1)[new]
        loads = Counter(map(tuple, codes[existing].tolist()))
        codes[new], rank[new], over[new] = ROW_MOVES[mode](codes[new], options, capacity, loads)
    level, bucket = _rank_within(tuple_ids(codes, sizes))  # table order: existing rows, then new ones
    _, enc_bucket = _rank_within(tuple_ids(encoded, sizes))
    out = {"item_id": g["item_id"], "row": g["row"], "existing": existing,
           **{c: codes[:, j] for j, c in enumerate(code_cols)},
           "level": level, "bucket": bucket, "first": level == 0, "enc_collided": enc_bucket > 1,
           "rank": rank, "over": over, "input_row": g["input_row"]}
    out.update({c: g[c] for c in g if c[:1] == "v" and c[1:].isdigit()})
    return out


def partial_quality(batch: dict[str, np.ndarray], *, levels: int, sizes: list[int]) -> dict[str, np.ndarray]:
    """One row of sums over a batch of settled rows; the driver adds the rows up (``combine_quality``)."""
    bucket, first = batch["bucket"], batch["first"].astype(bool)
    usage = [np.bincount(batch[f"c{j}"], minlength=sizes[j]) for j in range(levels)]
    b = bucket[first].astype(np.float64)
    return {"n": np.array([len(bucket)]), "collided": np.array([int((bucket > 1).sum())]),
            "enc_collided": np.array([int(batch["enc_collided"].sum())]),
            "max_bucket": np.array([int(bucket.max()) if len(bucket) else 0]),
            "n_unique": np.array([int(first.sum())]), "c_log_c": np.array([float((b * np.log(b)).sum())]),
            "moved": np.array([int((batch["rank"] > 0).sum())]), "rank_sum": np.array([int(batch["rank"].sum())]),
            "over": np.array([int(batch["over"].sum())]),
            "answered": np.array([int((batch["input_row"] >= 0).sum())]),
            **{f"u{j}": usage[j][None, :] for j in range(levels)}}


def combine_quality(parts: list[dict], levels: int, sizes: list[int]) -> tuple[dict, dict]:
    """``sid_quality``'s figures of the whole table from the batches' sums, and what the step moved."""
    # a part is one take_all() row (scalars) or one batch's sums (arrays of one element)
    total = lambda name: sum(int(np.sum(p[name])) for p in parts)  # noqa: E731
    n = total("n")
    usage = [np.sum([np.asarray(p[f"u{j}"]).reshape(-1) for p in parts], axis=0) for j in range(levels)]
    entropy = lambda u: float(-(u[u > 0] / u.sum() * np.log(u[u > 0] / u.sum())).sum())  # noqa: E731
    perplexity = [float(np.exp(entropy(u))) for u in usage]
    c_log_c = sum(float(np.sum(p["c_log_c"])) for p in parts)
    quality = {
        "n_items": n, "levels": levels, "codebook_sizes": [int(k) for k in sizes],
        "collision_rate": total("collided") / n, "max_bucket": max(int(np.max(p["max_bucket"])) for p in parts),
        "n_unique_sids": total("n_unique"),
        "utilization": [float((u > 0).sum() / k) for u, k in zip(usage, sizes)],
        "perplexity": perplexity, "perplexity_min": float(min(perplexity)),
        "perplexity_mean": float(np.mean(perplexity)),
        # −Σ (c/n) log(c/n) over tuples = log n − Σ c log c / n
        "sid_entropy": float(np.log(n) - c_log_c / n), "sid_entropy_max": float(np.log(n)),
        "top1_load": [float(u.max() / n) for u in usage],
    }
    moved = total("moved")
    moves = {"moved": moved, "over_capacity": total("over"),
             "mean_rank": total("rank_sum") / moved if moved else 0.0,
             "encoded_collision_rate": total("enc_collided") / n}
    return quality, moves
