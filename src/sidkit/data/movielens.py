"""MovieLens-100K in RecBole's atomic-file format. Never shipped: read from a path the user gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sidkit.data.types import Catalog, Dataset, Interactions
from sidkit.errors import input_error

TEMPLATE = "{movie_title}[ ({release_year})][. Genres: {class}]"


def _read_atomic(path: Path) -> tuple[list[str], list[list[str]]]:
    """RecBole atomic file: a typed header ``name:type`` and tab-separated rows."""
    if not path.is_file():
        raise input_error(path, "no such file; expected the RecBole ml-100k atomic files")
    with open(path, encoding="utf-8", errors="replace") as f:
        header = [h.split(":")[0] for h in f.readline().rstrip("\n").split("\t")]
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for row, parts in enumerate(rows, start=1):
        if len(parts) != len(header):
            raise input_error(path, f"{len(parts)} fields; expected {len(header)} ({', '.join(header)})", row=row)
    return header, rows


def load_movielens(data_dir: str | Path) -> Dataset:
    d = Path(data_dir)
    item_path, inter_path, user_path = d / "ml-100k.item", d / "ml-100k.inter", d / "ml-100k.user"
    header, rows = _read_atomic(item_path)
    cols = {h: [r[k] for r in rows] for k, h in enumerate(header)}
    catalog = Catalog(item_ids=cols.pop("item_id"), text=cols, source=str(item_path))
    header, rows = _read_atomic(inter_path)
    k = {h: i for i, h in enumerate(header)}
    index = catalog.index
    items = np.empty(len(rows), dtype=np.int64)
    for row, r in enumerate(rows, start=1):
        i = index.get(r[k["item_id"]])
        if i is None:
            raise input_error(inter_path, f"unknown item {r[k['item_id']]!r}", row=row, field="item_id")
        items[row - 1] = i
    try:
        rating = np.asarray([float(r[k["rating"]]) for r in rows])
        ts = np.asarray([float(r[k["timestamp"]]) for r in rows])
    except ValueError:
        raise input_error(inter_path, "rating and timestamp must be numbers") from None
    interactions = Interactions.from_events(
        [r[k["user_id"]] for r in rows], items, len(catalog), timestamp=ts, rating=rating, source=str(inter_path)
    )
    user_text = None
    if user_path.is_file():
        header, rows = _read_atomic(user_path)
        by_id = {r[0]: r for r in rows}
        user_text = {h: [by_id.get(u, [""] * len(header))[j] for u in interactions.user_ids] for j, h in enumerate(header)}
    return Dataset("ml-100k", catalog, interactions, TEMPLATE, user_text=user_text)
