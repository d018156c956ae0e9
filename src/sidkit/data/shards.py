"""A catalogue as Parquet shards: a folder or a glob of ``.parquet`` files, read one row group at a time.

The catalogues Semantic IDs are made for do not fit one process, so nothing here reads a whole catalogue:
``plan_pieces`` reads only the shards' footers and cuts the catalogue into pieces (one row group each)
that carry their place in it, and ``read_piece`` turns one piece into a ``Catalog``. A piece's rows keep
their catalogue row numbers (shards in name order, rows in file order), which is what makes a sharded run
give the in-process answer: collision handling and disambiguation are defined by catalogue order.

An embedding column is a list (or fixed-size list) of numbers; every other column but ``item_id`` is text,
as in ``data/files.py``.
"""

from __future__ import annotations

import glob
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sidkit.data.types import Catalog
from sidkit.errors import SidkitError, input_error

_GLOB = set("*?[")


@dataclass(frozen=True)
class Piece:
    """One row group of one shard: ``rows`` rows from catalogue row ``start`` (shard row ``offset``)."""

    path: str
    row_group: int
    offset: int
    start: int
    rows: int

    def as_row(self) -> dict:
        return asdict(self)


def is_sharded(spec: str | Path) -> bool:
    """A folder or a glob: the shard readers; a single file keeps using data/files.py."""
    return Path(spec).is_dir() or bool(_GLOB & set(str(spec)))


def list_shards(spec: str | Path) -> list[Path]:
    """The shards of ``spec`` in name order (the catalogue's order)."""
    path = Path(spec)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and not p.name.startswith("."))
    elif _GLOB & set(str(spec)):
        found = sorted(Path(p) for p in glob.glob(str(spec)) if Path(p).is_file())
    else:
        found = [path] if path.is_file() else []
    if not found:
        raise SidkitError(f"{spec}: no Parquet shards found; expected a folder or a glob of .parquet files")
    bad = [p for p in found if p.suffix != ".parquet"]
    if bad:
        raise input_error(bad[0], "not a .parquet file; expected every shard of a sharded catalogue in Parquet")
    return found


def _footer(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own types for a corrupt or truncated file
        raise input_error(path, f"cannot be read as a Parquet shard ({type(e).__name__})") from None


def _is_vector(t: pa.DataType) -> bool:
    return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) and \
        (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type))


def shard_schema(shards: list[Path]) -> dict[str, str]:
    """Column name → "id" / "embedding" / "text", the same for every shard (a shard that differs is named)."""
    kinds = None
    widths: dict[str, tuple[int, Path]] = {}
    for path in shards:
        schema = _footer(path).schema_arrow
        if "item_id" not in schema.names:
            raise input_error(path, f"missing column; expected item_id (found {schema.names})", field="item_id")
        these = {f.name: "id" if f.name == "item_id" else "embedding" if _is_vector(f.type) else "text"
                 for f in schema}
        for f in schema:  # a fixed-size list tells its width in the footer: a wrong one is named now
            if these[f.name] == "embedding" and pa.types.is_fixed_size_list(f.type):
                width = widths.setdefault(f.name, (f.type.list_size, path))
                if width[0] != f.type.list_size:
                    raise input_error(path, f"embedding of {f.type.list_size} numbers; expected {width[0]} like "
                                            f"{width[1]}", field=f.name)
        if kinds is None:
            kinds, first = these, path
        elif these != kinds:
            raise input_error(path, f"columns {these}; expected the columns of {first}: {kinds}")
    return kinds


def plan_pieces(shards: list[Path]) -> list[Piece]:
    """Every row group of every shard, with its catalogue row numbers; reads footers only."""
    pieces, start = [], 0
    for path in shards:
        meta = _footer(path).metadata
        offset = 0
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if rows:
                pieces.append(Piece(str(path), g, offset, start, rows))
            offset += rows
            start += rows
    if not pieces:
        raise SidkitError(f"{shards[0].parent}: the shards hold no rows; expected at least one item")
    return pieces


def vectors(column: pa.ChunkedArray | pa.Array, path: str | Path, name: str, first_row: int = 1,
            dim: int | None = None) -> np.ndarray:
    """A list column as a float32 matrix without a Python loop per row; a ragged, missing or non-finite
    row is an error naming the shard, the row (1-based in the shard) and the column."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        row = first_row + int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
        raise input_error(path, "missing embedding; expected a list of numbers", row=row, field=name)
    if pa.types.is_fixed_size_list(arr.type):
        width = arr.type.list_size
    else:
        lengths = pc.list_value_length(arr).to_numpy()
        width = int(lengths[0]) if len(lengths) else 0
        if len(lengths) and (lengths != width).any():
            row = first_row + int(np.flatnonzero(lengths != width)[0])
            raise input_error(path, f"ragged embedding of length {lengths[row - first_row]}; expected {width} "
                                    "like the piece's first row", row=row, field=name)
    if dim is not None and width != dim:
        raise input_error(path, f"embedding of {width} numbers; expected {dim}", row=first_row, field=name)
    x = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(len(arr), width)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        row = first_row + int(np.flatnonzero(~finite)[0])
        raise input_error(path, "NaN or inf in embedding; expected finite numbers", row=row, field=name)
    return x


def read_piece(piece: Piece | dict, columns: dict[str, str] | None = None) -> Catalog:
    """One piece as a Catalog (source: the shard). ``columns`` from ``shard_schema`` (read if not given)."""
    p = Piece(**piece) if isinstance(piece, dict) else piece
    path = Path(p.path)
    try:
        table = pq.ParquetFile(path).read_row_group(p.row_group, columns=list(columns) if columns else None)
    except Exception as e:
        raise input_error(path, f"row group {p.row_group} cannot be read ({type(e).__name__})") from None
    kinds = columns or shard_schema([path])
    ids = table.column("item_id").cast(pa.string()).to_pylist()
    for r, item in enumerate(ids):
        if item is None or not item.strip():
            raise input_error(path, "empty id; expected a non-empty id", row=p.offset + r + 1, field="item_id")
    ids = [i.strip() for i in ids]
    text, embeddings = {}, {}
    for name, kind in kinds.items():
        if kind == "embedding":
            embeddings[name] = vectors(table.column(name), path, name, p.offset + 1)
        elif kind == "text":
            text[name] = ["" if v is None else str(v) for v in table.column(name).to_pylist()]
    return Catalog(ids, text, embeddings, source=str(path))


def read_shards(spec: str | Path) -> Catalog:
    """The whole sharded catalogue in memory, in catalogue order: the in-process path (and its reference)."""
    shards = list_shards(spec)
    kinds = shard_schema(shards)
    parts = [read_piece(p, kinds) for p in plan_pieces(shards)]
    return Catalog([i for c in parts for i in c.item_ids],
                   {k: [v for c in parts for v in c.text[k]] for k in parts[0].text},
                   {k: np.concatenate([c.embeddings[k] for c in parts]) for k in parts[0].embeddings},
                   source=str(spec))
