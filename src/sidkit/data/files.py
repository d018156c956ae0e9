"""Generic catalogue and interaction files: Parquet, CSV/TSV or JSON Lines.

Items: an ``item_id`` column, plus text columns and/or embedding columns (a list of numbers per row; in
CSV a JSON array such as ``[0.1, 0.2]``). Interactions: ``user_id, item_id[, timestamp][, rating|label]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sidkit.data.types import Catalog, Interactions
from sidkit.errors import input_error

MAX_ID_CHARS = 1024  # an id is a key, not a document; longer ones are almost always a wrong column
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole table, turning every way reading can fail into one line naming the file."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise input_error(path, f"unknown file type {path.suffix!r}; expected one of {sorted(SUFFIXES)}")
    if not path.is_file():
        raise input_error(path, "no such file")
    if path.stat().st_size == 0:
        raise input_error(path, "empty file; expected a header and at least one row")
    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
        elif kind in ("csv", "tsv"):
            df = pd.read_csv(path, sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False)
        else:
            df = pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise input_error(path, f"cannot be read as {kind}: {first}") from None
    except Exception as e:  # pyarrow raises its own types for corrupt Parquet
        raise input_error(path, f"cannot be read as {kind}: {type(e).__name__}") from None
    if len(df) == 0:
        raise input_error(path, "no rows; expected at least one")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _require(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for c in columns:
        if c not in df.columns:
            raise input_error(path, f"missing column; expected columns {columns} (found {list(df.columns)})", field=c)


def _id_column(df: pd.DataFrame, path: Path, name: str) -> list[str]:
    out = []
    for row, v in enumerate(df[name].tolist(), start=1):
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or str(v).strip() == "":
            raise input_error(path, "empty id; expected a non-empty id", row=row, field=name)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        v = str(v).strip()
        if len(v) > MAX_ID_CHARS:
            raise input_error(path, f"id of {len(v)} characters; expected at most {MAX_ID_CHARS}", row=row, field=name)
        out.append(v)
    return out


def _is_embedding_column(values: list) -> bool:
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not present:
        return False
    v = present[0]
    return isinstance(v, (list, tuple, np.ndarray)) or (isinstance(v, str) and v.lstrip().startswith("["))


def _embedding_matrix(values: list, path: Path, name: str) -> np.ndarray:
    rows = []
    dim = None
    for row, v in enumerate(values, start=1):
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                raise input_error(path, "not a JSON array of numbers", row=row, field=name) from None
        if v is None or not isinstance(v, (list, tuple, np.ndarray)):
            raise input_error(path, "missing embedding; expected a list of numbers", row=row, field=name)
        try:
            vec = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise input_error(path, "not a list of numbers", row=row, field=name) from None
        if vec.ndim != 1 or len(vec) == 0:
            raise input_error(path, "expected a flat, non-empty list of numbers", row=row, field=name)
        if dim is None:
            dim = len(vec)
        elif len(vec) != dim:
            raise input_error(path, f"ragged embedding of length {len(vec)}; expected {dim} like row 1", row=row, field=name)
        if not np.isfinite(vec).all():
            raise input_error(path, "NaN or inf in embedding; expected finite numbers", row=row, field=name)
        rows.append(vec)
    return np.stack(rows).astype(np.float32)


def read_catalog(path: str | Path) -> Catalog:
    """Items from one file, or from a folder / glob of Parquet shards (data/shards.py), in file order."""
    from sidkit.data.shards import is_sharded, read_shards

    if is_sharded(path):
        return read_shards(path)
    path = Path(path)
    df = read_table(path)
    _require(df, path, ["item_id"])
    ids = _id_column(df, path, "item_id")
    text: dict[str, list[str]] = {}
    embeddings: dict[str, np.ndarray] = {}
    for col in df.columns:
        if col == "item_id":
            continue
        values = df[col].tolist()
        if _is_embedding_column(values):
            embeddings[col] = _embedding_matrix(values, path, col)
        else:
            text[col] = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]
    return Catalog(item_ids=ids, text=text, embeddings=embeddings, source=str(path))


def _numeric(df: pd.DataFrame, path: Path, name: str) -> np.ndarray:
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise input_error(path, f"{df[name].iloc[row - 1]!r} is not a finite number", row=row, field=name)
    return values


MAX_TIME = 2.0 ** 53  # past this a float64 time no longer counts whole units (microseconds fit)


def _timestamps(df: pd.DataFrame, path: Path) -> np.ndarray:
    """Unix times (any unit, counted from 1970) or ISO-8601 dates/times, which most exported logs use;
    both become seconds-or-units as float64 in file order. One column holds one kind."""
    raw = df["timestamp"]
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(numeric).all() and len(raw) and not pd.api.types.is_numeric_dtype(raw):
        parsed = pd.to_datetime(raw.astype(str).str.strip(), errors="coerce", utc=True, format="ISO8601")
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise input_error(path, f"{raw.iloc[row - 1]!r} is not an ISO-8601 date or time like 2021-01-21 or "
                                    "2021-01-21T10:00:00Z (the column's first rows are dates)", row=row, field="timestamp")
        values = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numeric) | (numeric < 0) | (numeric > MAX_TIME)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise input_error(path, f"{raw.iloc[row - 1]!r}; expected a Unix time from 0 to 2^53 or an ISO-8601 date "
                                "(one kind per column)", row=row, field="timestamp")
    return numeric


def read_interactions(path: str | Path, catalog: Catalog, drop_unknown: bool = False) -> Interactions:
    """Interactions from one file or from a folder / glob of shards (each checked on its own, so an error
    names the shard and its row). ``drop_unknown``: keep only events of the catalogue's items (a sample of
    a larger catalogue) instead of refusing the first unknown item."""
    from sidkit.data.shards import is_sharded, list_shards

    files = list_shards(path) if is_sharded(path) else [Path(path)]
    parts = [_interaction_columns(read_table(f), f, catalog, drop_unknown) for f in files]
    optional = {c for p in parts for c in p if c not in ("users", "items")}
    missing = next((c for c in optional for f, p in zip(files, parts) if c not in p), None)
    if missing:
        f = next(f for f, p in zip(files, parts) if missing not in p)
        raise input_error(f, f"missing column; expected '{missing}' like the other shards", field=missing)
    users = [u for p in parts for u in p["users"]]
    if not users:
        raise input_error(path, "no interactions with items of the catalogue; expected at least one")
    return Interactions.from_events(users, np.concatenate([p["items"] for p in parts]), len(catalog),
                                    source=str(path), **{c: np.concatenate([p[c] for p in parts]) for c in optional})


def _interaction_columns(df: pd.DataFrame, path: Path, catalog: Catalog, drop_unknown: bool) -> dict:
    _require(df, path, ["user_id", "item_id"])
    users = _id_column(df, path, "user_id")
    item_ids = _id_column(df, path, "item_id")
    index = catalog.index
    items = np.empty(len(item_ids), dtype=np.int64)
    for row, item in enumerate(item_ids, start=1):
        i = index.get(item)
        if i is None:
            if drop_unknown:
                items[row - 1] = -1
                continue
            raise input_error(path, f"unknown item {item!r}; expected an item_id of {catalog.source}", row=row, field="item_id")
        items[row - 1] = i
    optional = {c: _numeric(df, path, c) for c in ("rating", "label") if c in df.columns}
    if "timestamp" in df.columns:
        optional["timestamp"] = _timestamps(df, path)
    if "label" in optional:
        bad = ~np.isin(optional["label"], (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise input_error(path, "label must be 0 or 1", row=row, field="label")
    keep = items >= 0
    return {"users": [u for u, k in zip(users, keep) if k], "items": items[keep],
            **{c: v[keep] for c, v in optional.items()}}
