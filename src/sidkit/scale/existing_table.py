"""A model folder's SID table (``sids.parquet`` and its versions) as rows for the collision step.

Rows are read by Ray tasks, piece by piece, never by the driver. Each row carries an order key: its
version in the high bits and its place in that version below, so sorting by it gives the table's order,
which is what existing items' disambiguation levels are counted in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sidkit.data.shards import plan_pieces
from sidkit.errors import input_error
from sidkit.scale.encode_actor import code_columns
from sidkit.sids.versions import version_files, version_numbers

ORDER_BITS = 40  # a version holds fewer than 2^40 (10^12) rows


def table_pieces(directory: str | Path) -> list[dict]:
    """Every row group of the table's files, tagged with its version and whether rows carry ``row``."""
    directory = Path(directory)
    out = []
    for number in [0] + version_numbers(directory):
        files, has_row = version_files(directory, number) if number else ([directory / "sids.parquet"], False)
        if not files:
            continue
        for piece in plan_pieces(files):
            out.append({**piece.as_row(), "version": number, "has_row": has_row})
    return out


def read_table_rows(pieces: dict[str, np.ndarray], *, levels: int, fill: dict[str, int]) -> pa.Table:
    """``map_batches`` function: pieces of the table → item_id, row (order key), c*, the new rows' extra
    columns filled with −1 (``fill``: prefix → count), existing: the new rows' schema, column for column."""
    parts = []
    for j in range(len(pieces["path"])):
        path, group = str(pieces["path"][j]), int(pieces["row_group"][j])
        has_row = bool(pieces["has_row"][j])
        columns = ["item_id", "codes"] + (["row"] if has_row else [])
        try:
            t = pq.ParquetFile(path).read_row_group(group, columns=columns)
        except Exception as e:
            raise input_error(path, f"row group {group} cannot be read as a SID table ({type(e).__name__})") from None
        codes = t.column("codes").combine_chunks()
        flat = codes.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        if len(flat) != levels * len(t):
            raise input_error(path, f"expected {levels} codes per row like the fitted table", field="codes")
        place = t.column("row").to_numpy() if has_row else \
            np.arange(int(pieces["offset"][j]), int(pieces["offset"][j]) + len(t))
        n = len(t)
        # the new rows' columns in their order (union'd blocks are concatenated by position)
        cols = {"item_id": t.column("item_id").cast(pa.string()).combine_chunks(),
                "row": (np.int64(pieces["version"][j]) << ORDER_BITS) + place.astype(np.int64),
                **code_columns("c", flat.reshape(n, levels))}
        for prefix, count in fill.items():
            cols.update({f"{prefix}{i}": np.full(n, -1, dtype=np.int64) for i in range(count)})
        cols["existing"] = np.ones(n, dtype=bool)
        parts.append(pa.table(cols))
    return pa.concat_tables(parts)
