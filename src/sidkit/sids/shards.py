"""Reading an ``--out-shards`` folder (written by ``sidkit assign --engine ray``) into one table.

The folder's ``manifest.json`` names the committed run and its Parquet parts; parts hold ``item_id``,
``row`` (the input catalogue's row), ``codes`` and ``sid``. Read in ``row`` order, it is the SID table of
the input catalogue, in catalogue order. For tables too large for one process, use the files directly
(``sidkit quality --engine ray`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sidkit.errors import input_error


@dataclass
class SidShards:
    """An --out-shards table in catalogue order. ``sid`` is as written: its last level counts the model
    table's items too, so it is not ``with_disambiguation(codes)`` of these rows alone."""

    item_ids: list[str]
    codes: np.ndarray        # [N, L]
    sid: np.ndarray          # [N, L + 1]
    codebook_sizes: list[int]
    manifest: dict


def read_sid_shards(folder: str | Path) -> SidShards:
    folder = Path(folder)
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = [folder / manifest["run"] / f for f in manifest["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise input_error(path, "not the manifest of an --out-shards folder; expected 'run' and 'files'") from None
    try:
        table = pa.concat_tables([pq.read_table(f, columns=["item_id", "row", "codes", "sid"]) for f in files])
    except Exception as e:
        raise input_error(folder / manifest["run"], f"parts cannot be read ({type(e).__name__})") from None
    table = table.sort_by("row")
    levels = int(manifest["levels"])
    codes = np.asarray(table.column("codes").combine_chunks().flatten(), dtype=np.int64).reshape(len(table), levels)
    sid = np.asarray(table.column("sid").combine_chunks().flatten(), dtype=np.int64).reshape(len(table), levels + 1)
    return SidShards([str(i) for i in table.column("item_id").to_pylist()], codes, sid,
                     [int(k) for k in manifest["codebook_sizes"]], manifest)
