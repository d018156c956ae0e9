"""Append-only versions of a SID table: ``versions/v000001.parquet``, ``v000002.parquet``, ...

Version 0 is the fitted ``sids.parquet``; each later version is one file holding only the rows it added
(``item_id``, ``codes``[, ``vq_codes``]) and, in its Parquet metadata, what was done (collision mode,
quality before and after). The table at version n is version 0's rows followed by versions 1..n in
order, so a row's place, and with it its disambiguation level, never changes once written.

The file's rename is the commit: a writer killed before it leaves only a hidden temp file, which
readers skip, and the table stays at the previous version.

A version written by the Ray engine (``scale/``) is a folder ``v000002/`` of Parquet parts with a ``row``
column (catalogue order) and ``_version.json``; renaming the staged folder in is its commit, and readers
sort its rows by ``row``, so it reads exactly like a file version.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sidkit.atomic import write_file
from sidkit.errors import SidkitError, input_error

VERSIONS = "versions"
_NAME = re.compile(r"^v(\d{6})(\.parquet)?$")
META_FILE = "_version.json"  # a folder version's metadata (pyarrow skips names starting with "_")
_META_KEY = b"sidkit"


@dataclass
class Version:
    number: int
    item_ids: list[str]
    codes: np.ndarray
    vq_codes: np.ndarray | None
    meta: dict


def version_path(directory: str | Path, number: int) -> Path:
    """The version's file, or its folder where the Ray engine wrote it."""
    folder = Path(directory) / VERSIONS / f"v{number:06d}"
    return folder if folder.is_dir() else folder.with_suffix(".parquet")


def version_files(directory: str | Path, number: int) -> tuple[list[Path], bool]:
    """The Parquet files of a version, and whether its rows must be put in ``row`` order."""
    path = version_path(directory, number)
    if path.is_dir():
        return sorted(p for p in path.glob("*.parquet") if not p.name.startswith((".", "_"))), True
    return [path], False


def version_numbers(directory: str | Path) -> list[int]:
    """Committed versions after 0, in order (temp files of interrupted writers are not listed)."""
    d = Path(directory) / VERSIONS
    if not d.is_dir():
        return []
    numbers = sorted(int(m.group(1)) for m in map(_NAME.match, (p.name for p in d.iterdir())) if m)
    if numbers != list(range(1, len(numbers) + 1)):
        raise SidkitError(f"{d}: versions {numbers} are not 1..{len(numbers)}; expected no gaps")
    return numbers


def remove_stale_temps(directory: str | Path) -> int:
    """Delete temp files that killed writers left. Only safe while holding the writers' lock."""
    d = Path(directory) / VERSIONS
    stale = [p for p in d.glob(".v*.parquet.*.tmp")] if d.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    folders = [p for p in d.glob(".v*.staging-*") if p.is_dir()] if d.is_dir() else []
    for p in folders:  # a killed Ray assign's parts
        shutil.rmtree(p, ignore_errors=True)
    return len(stale) + len(folders)


def write_version(directory: str | Path, number: int, item_ids: list[str], codes: np.ndarray,
                  vq_codes: np.ndarray | None, meta: dict) -> Path:
    path = version_path(directory, number)
    if path.exists():
        raise SidkitError(f"{path}: version {number} exists already; expected one writer at a time")
    cols = {"item_id": pa.array(item_ids, pa.string()),
            "codes": pa.array(list(np.asarray(codes, dtype=np.int64)), pa.list_(pa.int64()))}
    if vq_codes is not None:
        cols["vq_codes"] = pa.array(list(np.asarray(vq_codes, dtype=np.int64)), pa.list_(pa.int64()))
    table = pa.table(cols).replace_schema_metadata({_META_KEY: json.dumps({"version": number, **meta}).encode()})
    return write_file(path, lambda tmp: pq.write_table(table, tmp))


def version_meta(directory: str | Path, number: int) -> dict:
    """What a version recorded (collisions, quality before and after), without reading its rows."""
    path = version_path(directory, number)
    try:
        if path.is_dir():
            return json.loads((path / META_FILE).read_text(encoding="utf-8"))
        return json.loads((pq.read_schema(path).metadata or {}).get(_META_KEY, b"{}"))
    except Exception as e:
        raise input_error(path, f"cannot be read as a sidkit version ({type(e).__name__})") from None


def read_version(directory: str | Path, number: int, levels: int) -> Version:
    path = version_path(directory, number)
    try:
        if path.is_dir():
            files, _ = version_files(directory, number)
            table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
            table = table.sort_by("row") if table is not None else \
                pa.table({"item_id": pa.array([], pa.string()), "codes": pa.array([], pa.list_(pa.int64()))})
        else:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    except Exception as e:  # pyarrow has its own error types for a corrupt file
        raise input_error(path, f"cannot be read as a sidkit version file ({type(e).__name__})") from None
    for col in ("item_id", "codes"):
        if col not in table.column_names:
            raise input_error(path, "missing column; expected item_id, codes", field=col)
    codes_list = table.column("codes").to_pylist()
    for row, c in enumerate(codes_list, start=1):
        if c is None or len(c) != levels:
            raise input_error(path, f"expected {levels} codes like the fitted table", row=row, field="codes")
    vq = None
    if "vq_codes" in table.column_names:
        vq = np.asarray(table.column("vq_codes").to_pylist(), dtype=np.int64)
    codes = np.asarray(codes_list, dtype=np.int64).reshape(len(codes_list), levels)
    return Version(number, [str(i) for i in table.column("item_id").to_pylist()], codes, vq, meta)


def with_versions(directory: str | Path, item_ids: list[str], codes: np.ndarray, vq: np.ndarray | None,
                  version: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray | None, int]:
    """Version 0 (``sids.parquet``'s rows) extended by every version file up to ``version`` (default: the
    latest), in order, and the number of the last one read; VQ codes of rows a version did not carry are −1."""
    numbers = [n for n in version_numbers(directory) if version is None or n <= version]
    if version is not None and version > (numbers[-1] if numbers else 0):
        raise SidkitError(f"{directory}: no version {version}; the latest is {numbers[-1] if numbers else 0}")
    parts = [read_version(directory, n, codes.shape[1]) for n in numbers]
    if not parts:
        return item_ids, codes, vq, 0
    item_ids = item_ids + [i for v in parts for i in v.item_ids]
    codes = np.concatenate([codes] + [v.codes for v in parts])
    if vq is not None:
        vq = np.concatenate([vq] + [v.vq_codes if v.vq_codes is not None
                                    else np.full((len(v.codes), vq.shape[1]), -1) for v in parts])
    return item_ids, codes, vq, numbers[-1]
