"""The SemanticIDs table and its files: ``sids.parquet`` + ``manifest.json`` (+ quality.json, tokens).

Columns: ``item_id`` (string), ``codes`` (list<int64>, one per level, before disambiguation), ``sid``
(codes + disambiguation level, unique per item) and, where the method has them, ``vq_codes`` (QARM's
top-K items, as row numbers of this table). A table of user SIDs (DAS's ``user_sids.parquet``) has
``user_id`` in place of ``item_id`` and its codebook sizes under ``users`` in the shared manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sidkit import __version__
from sidkit.atomic import write_file, write_json
from sidkit.errors import SidkitError, input_error
from sidkit.sids.disambiguate import with_disambiguation
from sidkit.sids.tokens import sid_to_tokens, token_vocabulary
from sidkit.sids.versions import VERSIONS, with_versions


def read_codes_parquet(path: Path, id_columns: tuple[str, ...] = ("item_id",)) -> tuple[pa.Table, str, list[str], np.ndarray]:
    """(table, id column, ids, codes) of a Parquet file of ids and ``codes`` lists, checked row by row:
    each id given once and not empty, each row's codes integers, as many as the first row's (their
    range is the caller's to check: it knows the codebook sizes). The one reader of sidkit's own tables
    and of imported ones, so both name the row at fault; the checks are array operations, since a table
    can hold millions of rows."""
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise input_error(path, f"cannot be read as Parquet ({type(e).__name__})") from None
    id_column = next((c for c in id_columns if c in table.column_names), id_columns[0])
    for col in (id_column, "codes"):
        if col not in table.column_names:
            raise input_error(path, f"missing column; expected {' or '.join(id_columns)}, and codes "
                                    f"(found {table.column_names})", field=col)
    if table.num_rows == 0:
        raise input_error(path, f"no rows; expected {id_column} and codes for at least one")
    column = table.column("codes").combine_chunks()

    def bad_codes(row: int, what: str) -> SidkitError:
        return input_error(path, f"{column[row].as_py()!r}; expected {what}", row=row + 1, field="codes")

    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
            or pa.types.is_fixed_size_list(column.type)) or not pa.types.is_integer(column.type.value_type):
        raise bad_codes(0, "a list of integer codes")
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    levels = int(lengths[0])
    if levels == 0 or (lengths != levels).any():
        row = 0 if levels == 0 else int(np.argmax(lengths != levels))
        if lengths[row] == 0:
            raise bad_codes(row, "a list of integer codes")
        raise input_error(path, f"{lengths[row]} codes; expected {levels} like the first row", row=row + 1, field="codes")
    flat = pc.list_flatten(column)
    if flat.null_count:
        raise bad_codes(int(pc.list_parent_indices(column).to_numpy()[pc.is_null(flat).to_numpy(zero_copy_only=False)][0]),
                        "a list of integer codes")
    codes = flat.to_numpy(zero_copy_only=False).astype(np.int64).reshape(-1, levels)
    ids = [None if i is None else str(i) for i in table.column(id_column).to_pylist()]
    if None in ids or "" in ids:
        row = next(r for r, i in enumerate(ids) if not i)
        raise input_error(path, "empty id; expected an id", row=row + 1, field=id_column)
    if len(set(ids)) < len(ids):
        seen: set[str] = set()
        row = next(r for r, i in enumerate(ids) if i in seen or seen.add(i))
        raise input_error(path, f"{id_column.removesuffix('_id')} {ids[row]!r} appears twice; expected each once",
                          row=row + 1)
    return table, id_column, ids, codes


@dataclass
class SemanticIDs:
    item_ids: list[str]
    codes: np.ndarray
    codebook_sizes: list[int]
    vq_codes: np.ndarray | None = None
    manifest: dict = field(default_factory=dict)
    version: int = 0  # the last append-only version included (sids.versions); 0 is the fitted table
    id_column: str = "item_id"  # "user_id" for a table of user SIDs (DAS's user_sids.parquet)

    def __post_init__(self) -> None:
        self.codes = np.asarray(self.codes, dtype=np.int64)
        self.sid = with_disambiguation(self.codes)

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def levels(self) -> int:
        return self.codes.shape[1]

    def rows_of(self, ids: list[str], where: str | Path) -> np.ndarray:
        """This table's row of each id, in the order given; an id without a SID is a one-line error
        naming ``where`` (the table's file or folder)."""
        row = {key: r for r, key in enumerate(self.item_ids)}
        missing = [i for i in ids if i not in row]
        if missing:
            what = "user" if self.id_column == "user_id" else "item"
            raise SidkitError(f"{where}: {what} {missing[0]!r} of the data set has no SID ({len(missing)} missing); "
                              "expected SIDs fitted on this data set")
        return np.array([row[i] for i in ids], dtype=np.int64)

    def to_arrow(self) -> pa.Table:
        cols = {
            self.id_column: pa.array(self.item_ids, pa.string()),
            "codes": pa.array(list(self.codes), pa.list_(pa.int64())),
            "sid": pa.array(list(self.sid), pa.list_(pa.int64())),
        }
        if self.vq_codes is not None:
            cols["vq_codes"] = pa.array(list(self.vq_codes), pa.list_(pa.int64()))
        return pa.table(cols)

    def write(self, directory: str | Path, **manifest: object) -> Path:
        """Write ``sids.parquet``, ``manifest.json`` and ``sid_tokens.json`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.write_parquet(d / "sids.parquet")
        write_json(d / "sid_tokens.json", {
            "format": "<level_code> tokens, one per level, the last being the disambiguation level",
            "vocabulary": token_vocabulary(self.sid, self.codebook_sizes),
            "items": {item: sid_to_tokens(s) for item, s in zip(self.item_ids, self.sid)},
        })
        self.manifest = {
            "levels": self.levels,
            "codebook_sizes": [int(k) for k in self.codebook_sizes],
            "n_items": len(self),
            "version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **self.manifest,
            **manifest,
        }
        write_json(d / "manifest.json", self.manifest)
        return d / "sids.parquet"

    def write_parquet(self, path: str | Path) -> Path:
        """The table alone (atomically): how user_sids.parquet is written beside an item table."""
        table = self.to_arrow()
        return write_file(Path(path), lambda tmp: pq.write_table(table, tmp))

    @classmethod
    def read(cls, path: str | Path, version: int | None = None) -> "SemanticIDs":
        """Read ``sids.parquet`` (or the folder holding it), the manifest beside it, and the rows that
        ``sidkit assign`` appended since, up to ``version`` (default: the latest)."""
        path = Path(path)
        if path.is_dir():
            path = path / "sids.parquet"
        if not path.is_file():
            raise input_error(path, "no such file; expected a sids.parquet written by sidkit")
        table, id_column, item_ids, codes = read_codes_parquet(path, ("item_id", "user_id"))
        manifest_path = path.parent / "manifest.json"
        manifest = {}
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except ValueError:
                raise input_error(manifest_path, "not valid JSON") from None
        # a user table's sizes are under "users" in the manifest it shares with the item table
        sizes = (manifest.get("users", {}) if id_column == "user_id" else manifest).get("codebook_sizes") or [int(codes[:, lvl].max()) + 1 for lvl in range(codes.shape[1])]
        if len(sizes) != codes.shape[1]:
            raise SidkitError(f"{manifest_path}: codebook_sizes has {len(sizes)} levels but codes have {codes.shape[1]}")
        vq = None
        if "vq_codes" in table.column_names:
            vq = np.asarray(table.column("vq_codes").to_pylist(), dtype=np.int64)
        latest = 0
        if id_column == "item_id":  # versions are items added by `sidkit assign`: they extend the item table only
            item_ids, codes, vq, latest = with_versions(path.parent, item_ids, codes, vq, version)
        if not all(isinstance(k, int) and k >= 1 for k in sizes):
            raise input_error(manifest_path, f"codebook_sizes {sizes}; expected positive integers")
        bad = (codes < 0) | (codes >= np.asarray(sizes))
        if bad.any():
            row, level = (int(v) for v in np.argwhere(bad)[0])
            where = path if row < table.num_rows else path.parent / VERSIONS
            raise input_error(where, f"code {codes[row, level]} at level {level + 1}; expected 0 to "
                                     f"{sizes[level] - 1} (codebook_sizes in manifest.json)",
                              row=row + 1 if row < table.num_rows else None, field="codes")
        seen = set(item_ids[:table.num_rows])  # the file's own rows are checked; the appended ones here
        for item in item_ids[table.num_rows:]:
            if item in seen:
                raise input_error(path.parent / VERSIONS, f"item {item!r} appears twice; expected each item once")
            seen.add(item)
        return cls(item_ids, codes, sizes, vq, manifest, latest, id_column)
