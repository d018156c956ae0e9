"""``sidkit quality --engine ray``: the quality figures of a SID table too large for one process.

Ray Data counts the items of each full code tuple (a hash aggregate); each batch of tuple counts is summed
into one row (items, collided items, largest bucket, Σ c·log c, per-level usage weighted by the counts),
and the driver adds those rows up: the same figures as ``sid_quality``, without the table in the driver.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sidkit.data.shards import plan_pieces
from sidkit.errors import SidkitError, input_error
from sidkit.scale.encode_actor import code_columns
from sidkit.scale.engine import ray_session, require_ray
from sidkit.scale.existing_table import table_pieces
from sidkit.scale.global_collisions import combine_quality


def table_files(folder: str | Path) -> tuple[list[str], list[int]]:
    """The Parquet files of a model folder's table (every version) or of an ``--out-shards`` folder, and
    the codebook sizes its manifest records."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise input_error(folder / "manifest.json", "missing or not JSON; expected a sidkit model or --out-shards "
                                                     "folder") from None
    if "run" in manifest:  # an --out-shards folder: the manifest names the committed run's parts
        files = [str(folder / manifest["run"] / f) for f in manifest["files"]]
        sizes = manifest.get("codebook_sizes")
    else:
        files = sorted({p["path"] for p in table_pieces(folder)})
        sizes = manifest.get("codebook_sizes")
    if not sizes:
        raise input_error(folder / "manifest.json", "no codebook_sizes; expected the sizes the codes were made with")
    return files, [int(k) for k in sizes]


def _codes(pieces: dict[str, np.ndarray], *, levels: int) -> dict[str, np.ndarray]:
    """``map_batches`` function: pieces of the table's files → one int column per level."""
    parts = []
    for j in range(len(pieces["path"])):
        path, group = str(pieces["path"][j]), int(pieces["row_group"][j])
        try:
            t = pq.ParquetFile(path).read_row_group(group, columns=["codes"])
        except Exception as e:
            raise input_error(path, f"row group {group} cannot be read as a SID table ({type(e).__name__})") from None
        flat = t.column("codes").combine_chunks().flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        if len(flat) != levels * len(t):
            raise input_error(path, f"expected {levels} codes per row", field="codes")
        parts.append(flat.reshape(len(t), levels))
    return code_columns("c", np.concatenate(parts))


def _sums(batch: dict[str, np.ndarray], *, levels: int, sizes: list[int]) -> dict[str, np.ndarray]:
    count = np.asarray(batch["count()"], dtype=np.int64)
    c = count.astype(np.float64)
    zero = np.array([0])
    return {"n": np.array([int(count.sum())]), "collided": np.array([int(count[count > 1].sum())]),
            "enc_collided": np.array([int(count[count > 1].sum())]), "max_bucket": np.array([int(count.max(initial=0))]),
            "n_unique": np.array([len(count)]), "c_log_c": np.array([float((c * np.log(c)).sum())]),
            "moved": zero, "rank_sum": zero, "over": zero,
            **{f"u{j}": np.bincount(batch[f"c{j}"], weights=count, minlength=sizes[j]).astype(np.int64)[None, :]
               for j in range(levels)}}


def sharded_quality(folder: str | Path, *, address: str | None = None, num_cpus: int | None = None,
                    progress: bool = False) -> dict:
    """``sid_quality``'s figures of the table in ``folder``, computed on Ray."""
    files, sizes = table_files(folder)
    levels = len(sizes)
    for f in files[:1]:
        if "codes" not in pq.read_schema(f).names:
            raise input_error(f, "missing column; expected codes", field="codes")
    with ray_session(address, num_cpus, progress):
        ray = require_ray()
        pieces = [p.as_row() for p in plan_pieces([Path(f) for f in files])]
        codes = ray.data.from_items(pieces).map_batches(_codes, batch_size=1, batch_format="numpy",
                                                        fn_kwargs=dict(levels=levels))
        partitions = max(2, sum(p["rows"] for p in pieces) // 250_000 + 1)
        counts = codes.groupby([f"c{j}" for j in range(levels)], num_partitions=partitions).count()
        parts = counts.map_batches(_sums, batch_format="numpy", fn_kwargs=dict(levels=levels, sizes=sizes)).take_all()
    if not parts:
        raise SidkitError(f"{folder}: the table has no rows")
    quality, _ = combine_quality(parts, levels, sizes)
    return quality
