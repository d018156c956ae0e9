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
import pyarrow.parquet as pq

from sidkit import __version__
from sidkit.atomic import write_file, write_json
from sidkit.errors import SidkitError, input_error
from sidkit.sids.disambiguate import with_disambiguation
from sidkit.sids.tokens import sid_to_tokens, token_vocabulary
from sidkit.sids.versions import VERSIONS, with_versions


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
        try:
            table = pq.read_table(path)
        except Exception as e:
            raise input_error(path, f"cannot be read as Parquet ({type(e).__name__})") from None
        id_column = "user_id" if "user_id" in table.column_names and "item_id" not in table.column_names else "item_id"
        for col in (id_column, "codes"):
            if col not in table.column_names:
                raise input_error(path, "missing column; expected item_id (or user_id), codes, sid", field=col)
        codes_list = table.column("codes").to_pylist()
        lengths = {len(c) if c is not None else -1 for c in codes_list}
        if len(lengths) != 1 or -1 in lengths or 0 in lengths:
            raise input_error(path, "rows have codes of different lengths; expected one code per level", field="codes")
        manifest_path = path.parent / "manifest.json"
        manifest = {}
        if manifest_path.is_file():
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            except ValueError:
                raise input_error(manifest_path, "not valid JSON") from None
        codes = np.asarray(codes_list, dtype=np.int64)
        # a user table's sizes are under "users" in the manifest it shares with the item table
        sizes = (manifest.get("users", {}) if id_column == "user_id" else manifest).get("codebook_sizes") or [int(codes[:, lvl].max()) + 1 for lvl in range(codes.shape[1])]
        if len(sizes) != codes.shape[1]:
            raise SidkitError(f"{manifest_path}: codebook_sizes has {len(sizes)} levels but codes have {codes.shape[1]}")
        vq = None
        if "vq_codes" in table.column_names:
            vq = np.asarray(table.column("vq_codes").to_pylist(), dtype=np.int64)
        item_ids = [str(i) for i in table.column(id_column).to_pylist()]
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
        seen: set[str] = set()
        for row, item in enumerate(item_ids):
            if item in seen:
                where = path if row < table.num_rows else path.parent / VERSIONS
                raise input_error(where, f"item {item!r} appears twice; expected each item once")
            seen.add(item)
        return cls(item_ids, codes, sizes, vq, manifest, latest, id_column)
