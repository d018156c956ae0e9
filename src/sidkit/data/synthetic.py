"""A synthetic catalogue for scale tests and benchmarks: a seeded mixture of Gaussians as Parquet shards.

Real catalogues at 10^7-10^8 items are not in the repository; their shape is (clustered embeddings, ids
that are strings, shards of a fixed number of row groups), which is what this writes, shard by shard, so
a 10M-item catalogue never sits in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_gaussian_shards(out: str | Path, n_items: int, dim: int, n_shards: int, *, seed: int = 0,
                          clusters: int = 256, spread: float = 0.35, row_group_size: int = 65_536,
                          first_shard: int = 0) -> list[Path]:
    """``n_items`` items (ids ``item-<shard>-<row>``) in ``n_shards`` files ``part-00000.parquet``..., each
    row an ``embedding`` (fixed-size list of float32) drawn around one of ``clusters`` seeded centres."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    centres = np.random.default_rng(seed).normal(size=(clusters, dim)).astype(np.float32)
    paths = []
    bounds = np.linspace(0, n_items, n_shards + 1).astype(np.int64)
    for s in range(n_shards):
        rng = np.random.default_rng([seed, first_shard + s])  # each shard from its own stream: any order, same data
        n = int(bounds[s + 1] - bounds[s])
        x = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim), dtype=np.float32)
        ids = pa.array([f"item-{first_shard + s:05d}-{r:08d}" for r in range(n)], pa.string())
        emb = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), dim)
        path = out / f"part-{first_shard + s:05d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(pa.table({"item_id": ids, "embedding": emb}), tmp, row_group_size=row_group_size)
        tmp.rename(path)
        paths.append(path)
    return paths
