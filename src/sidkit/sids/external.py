"""SIDs made elsewhere, in the two formats other code writes, and back out in them.

- LC-Rec / LETTER index JSON: ``{"0": ["<a_12>", "<b_3>", "<c_40>"], "1": [...]}``. Keys are item row
  numbers in the catalogue's order (or in the order of an item list given beside it); one token per
  level, ``<{level letter}_{code}>``, levels a, b, c, ... in order. Every token is read as a code level,
  including a fourth token those tools add to separate colliding items: sidkit's own disambiguation
  level then only separates what is still equal.
- Parquet ``item_id, codes`` (``codes``: a list of integers per row, one per level).

The importer checks everything a fitted table guarantees and names the row that breaks it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sidkit.atomic import write_file
from sidkit.errors import SidkitError, input_error
from sidkit.sids.table import SemanticIDs, read_codes_parquet
from sidkit.sids.tokens import level_prefix

TOKEN = re.compile(r"<([a-z]+\d*)_(\d+)>")


def read_external(path: str | Path, item_ids: list[str], item_order: list[str] | None = None,
                  codebook_sizes: list[int] | None = None) -> SemanticIDs:
    """The table of ``path`` (``.json`` LC-Rec index or ``.parquet`` item_id/codes) in the catalogue's
    order ``item_ids``; every catalogue item must have a SID and every SID a catalogue item."""
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "no such file; expected an LC-Rec index (.json) or a Parquet item_id, codes table")
    if path.suffix.lower() == ".json":
        ids, codes = _read_index(path, item_order if item_order is not None else item_ids)
    elif path.suffix.lower() in (".parquet", ".pq"):
        if item_order is not None:
            raise SidkitError(f"{path}: a Parquet table names its items; expected no --item-order with it")
        _, _, ids, codes = read_codes_parquet(path)
        if (codes < 0).any():  # the file's own fault, named before it is matched with the catalogue
            row, level = (int(v) for v in np.argwhere(codes < 0)[0])
            raise input_error(path, f"code {codes[row, level]} at level {level + 1}; expected 0 or more",
                              row=row + 1, field="codes")
    else:
        raise input_error(path, "unknown format; expected .json (LC-Rec index) or .parquet (item_id, codes)")
    known = set(item_ids)
    extra = [r for r, i in enumerate(ids) if i not in known]
    if extra:
        raise input_error(path, f"item {ids[extra[0]]!r} is not in the catalogue; expected the catalogue's items",
                          row=extra[0] + 1)
    where = {item: r for r, item in enumerate(ids)}
    missing = [i for i in item_ids if i not in where]
    if missing:
        raise input_error(path, f"item {missing[0]!r} of the catalogue has no SID ({len(missing)} of "
                                f"{len(item_ids)} missing); expected a SID for every item")
    codes = codes[[where[i] for i in item_ids]]
    sizes = codebook_sizes or [int(codes[:, lvl].max()) + 1 for lvl in range(codes.shape[1])]
    if len(sizes) != codes.shape[1]:
        raise SidkitError(f"--codebook-sizes has {len(sizes)} levels; {path} has {codes.shape[1]}")
    over = codes >= np.asarray(sizes)
    if over.any():
        row, level = (int(v) for v in np.argwhere(over)[0])
        raise input_error(path, f"code {codes[row, level]} at level {level + 1}; expected 0 to {sizes[level] - 1}"
                                + (" (--codebook-sizes)" if codebook_sizes else ""),
                          row=where[item_ids[row]] + 1, field="codes")
    return SemanticIDs(list(item_ids), codes, [int(k) for k in sizes])


def _read_index(path: Path, order: list[str]) -> tuple[list[str], np.ndarray]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_repeats(path))
    except (UnicodeDecodeError, ValueError) as e:
        if isinstance(e, SidkitError):
            raise
        raise input_error(path, f"not valid JSON ({e})") from None
    if not isinstance(index, dict) or not index:
        raise input_error(path, 'expected an object {"0": ["<a_12>", "<b_3>", ...], ...}')
    ids, rows = [], []
    levels = None
    for key, tokens in index.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < len(order)):
            raise input_error(path, f"key {key!r}; expected an item row number 0 to {len(order) - 1}")
        where = f"{path}: item {key}"
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            raise SidkitError(f"{where}: {tokens!r}; expected a list of tokens like \"<a_12>\"")
        codes = []
        for level, token in enumerate(tokens):
            m = TOKEN.fullmatch(token.strip())
            if not m or m.group(1) != level_prefix(level):
                raise SidkitError(f"{where}: token {token!r} at level {level + 1}; expected "
                                  f"<{level_prefix(level)}_CODE>")
            codes.append(int(m.group(2)))
        if levels is None:
            levels = len(codes)
        elif len(codes) != levels:
            raise SidkitError(f"{where}: {len(codes)} tokens; expected {levels} like the first item")
        ids.append(order[int(key)])
        rows.append(codes)
    return ids, np.asarray(rows, dtype=np.int64)


def _no_repeats(path: Path):
    def hook(pairs: list[tuple[str, object]]) -> dict:
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise input_error(path, f"key {key!r} appears twice; expected each item once")
            seen[key] = value
        return seen
    return hook


def write_lcrec_index(table: SemanticIDs, path: str | Path, with_disambiguation: bool = False) -> Path:
    """The table as an LC-Rec index (keys: row numbers in the table's order), written atomically."""
    rows = table.sid if with_disambiguation else table.codes
    index = {str(r): [f"<{level_prefix(lvl)}_{int(c)}>" for lvl, c in enumerate(row)] for r, row in enumerate(rows)}
    return write_file(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(index), encoding="utf-8"))


def write_codes_parquet(table: SemanticIDs, path: str | Path) -> Path:
    """The table as Parquet ``item_id, codes`` (what ``read_external`` reads back)."""
    arrow = pa.table({"item_id": pa.array(table.item_ids, pa.string()),
                      "codes": pa.array(list(table.codes), pa.list_(pa.int64()))})
    return write_file(Path(path), lambda tmp: pq.write_table(arrow, tmp))
