"""A fitted model folder as a living, append-only SID table: look items up, assign new ones.

QARM keeps its codes in a cache store that each day's uploads are added to; this is that store. The
folder ``sidkit fit`` wrote (``model/``, ``sids.parquet``, ``manifest.json``) is opened as is; each
``assign`` encodes the new items with the frozen model and commits them as one new version file
(sids.versions). What it promises:

- an item's SID, once given, never changes (new rows only ever go after the existing ones);
- re-sending a known item id is a no-op that answers its SID;
- assigns are serialised, across threads and across processes (a lock file), so no SID is given twice;
- a writer killed mid-assign leaves the previous version intact (the version file's rename commits).

Readers take one immutable snapshot per call, so a lookup never sees half an assign, and never wait for
one: an assign holds the write lock while it encodes, readers only swap in finished snapshots.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np

from sidkit.collab.cf_input import cf_for_model
from sidkit.content.item_embeddings import embed_for_model, encoder_for_model
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.types import Catalog
from sidkit.errors import SidkitError
from sidkit.methods.base import Tokenizer
from sidkit.methods.registry import load_tokenizer
from sidkit.sids.collisions import SHOWN, handle_collisions, resolve_settings, tuple_loads
from sidkit.sids.disambiguate import with_disambiguation
from sidkit.sids.quality import sid_quality
from sidkit.sids.table import SemanticIDs
from sidkit.sids.tokens import sid_to_tokens
from sidkit.sids.versions import read_version, remove_stale_temps, version_numbers, write_version

LOCK = ".assign.lock"


@dataclass(frozen=True)
class Snapshot:
    """The table at one version: its first ``n`` rows. Never changed once published.

    The id list, the id index and the tuple loads are shared by every snapshot of a store and only ever
    appended to (under the store's extend lock), so publishing a version costs O(new rows), not a copy
    of the table: a copy held the interpreter lock for milliseconds per version, and every lookup waited.
    A row at or past ``n`` belongs to a later version and is invisible here. ``loads`` is the newest
    snapshot's (assigns read it under the write lock, after catching up).
    """

    version: int
    n: int
    ids: list[str]           # shared, append-only
    index: dict[str, int]    # shared, append-only
    codes: np.ndarray        # [n, L]
    sid: np.ndarray          # [n, L + 1]
    loads: Counter           # shared: items per code tuple; a new item's disambiguation level is its load

    @classmethod
    def of(cls, version: int, item_ids: list[str], codes: np.ndarray) -> "Snapshot":
        sid = with_disambiguation(codes) if len(codes) else np.zeros((0, codes.shape[1] + 1), dtype=np.int64)
        return cls(version, len(item_ids), list(item_ids), {item: i for i, item in enumerate(item_ids)}, codes,
                   sid, tuple_loads(codes))

    @property
    def item_ids(self) -> list[str]:
        return self.ids[:self.n]

    def row(self, item_id: str) -> int | None:
        row = self.index.get(item_id)
        return row if row is not None and row < self.n else None

    def answer(self, item_id: str) -> dict | None:
        row = self.row(item_id)
        if row is None:
            return None
        sid = self.sid[row].tolist()
        return {"item_id": item_id, "sid": sid, "codes": sid[:-1], "tokens": sid_to_tokens(sid)}

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows in lexicographic SID order and the SIDs in that order, built on the first reverse lookup."""
        order = np.lexsort(self.sid.T[::-1])
        return order, self.sid[order]

    def with_prefix(self, prefix: list[int]) -> np.ndarray:
        """Rows whose SID starts with ``prefix`` (codes, then the disambiguation level), in SID order.
        Each level narrows a sorted range by binary search over a view: O(L log n)."""
        order, ordered = self._sorted
        lo, hi = 0, len(order)
        for level, value in enumerate(prefix[:self.sid.shape[1]]):
            column = ordered[lo:hi, level]
            lo, hi = lo + int(np.searchsorted(column, value, "left")), lo + int(np.searchsorted(column, value, "right"))
        return order[lo:hi]


def _snapshot(table: SemanticIDs) -> Snapshot:
    return Snapshot(table.version, len(table.item_ids), list(table.item_ids),
                    {item: i for i, item in enumerate(table.item_ids)}, table.codes, table.sid,
                    tuple_loads(table.codes))


class SIDStore:
    def __init__(self, directory: str | Path, *, cache_dir: str | Path | None = None,
                 encode_batch_size: int = 64) -> None:
        self.directory = Path(directory)
        if not (self.directory / "sids.parquet").is_file() or not (self.directory / "model").is_dir():
            raise SidkitError(f"{self.directory}: expected a folder written by `sidkit fit` "
                              "(with sids.parquet and model/)")
        table = SemanticIDs.read(self.directory)
        self.manifest = table.manifest
        self.codebook_sizes = table.codebook_sizes
        self.has_vq = table.vq_codes is not None
        self._snap = _snapshot(table)
        self._tokenizer: Tokenizer | None = None
        self._check_folder()
        self._encoder: TextEncoder | None = None
        self.cache_dir, self._encode_batch_size = cache_dir, encode_batch_size
        self._lock = threading.Lock()          # one assign at a time in this process
        self._refresh_lock = threading.Lock()  # one reload of others' versions at a time; never held by assign
        self._extend_lock = threading.Lock()   # held only while a read version is appended and swapped in
        self._quality: tuple[int, dict] | None = None

    def _check_folder(self) -> None:
        """The model, the table and the manifest must agree before anything is served or committed: a
        model that codes past the table's codebooks would hand out SIDs for good."""
        sizes = list(self.tokenizer.codebook_sizes)
        if sizes != list(self.codebook_sizes):
            raise SidkitError(f"{self.directory / 'model' / 'config.json'}: codebook sizes {sizes}; expected "
                              f"{list(self.codebook_sizes)} as in manifest.json and sids.parquet")
        spec = self.manifest.get("content") or {}
        self._cf = cf_for_model(self.directory, spec)  # a --cf-input model: its mapping, checked now
        if "text" in (spec.get("modalities") or {}):
            from sidkit.content.text_encoder import resolve_model_path

            try:
                resolve_model_path(encoder_for_model(spec, self.directory).model)
            except SidkitError as e:
                raise SidkitError(f"{self.directory / 'manifest.json'}: content.text_model: {e}") from None

    # --- reading -----------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def lookup(self, item_ids: list[str]) -> tuple[list[dict], list[str]]:
        """Answers for the known ids (in request order) and the unknown ids. An unknown id triggers one
        check for versions another process (``sidkit assign``) committed since this store loaded."""
        snap = self._snap
        found = [snap.answer(i) for i in item_ids]
        if any(a is None for a in found) and self.refresh():
            snap = self._snap
            found = [snap.answer(i) for i in item_ids]
        return [a for a in found if a is not None], [i for i, a in zip(item_ids, found) if a is None]

    def refresh(self) -> bool:
        """Load versions committed by others (another process, or this store's assign worker). Returns
        whether there were any. Never waits for an assign: versions are immutable once renamed in."""
        with self._refresh_lock:
            return self._catch_up()

    def _catch_up(self) -> bool:
        numbers = [n for n in version_numbers(self.directory) if n > self._snap.version]
        if not numbers:
            return False
        width = self._snap.codes.shape[1]
        for n in numbers:
            v = read_version(self.directory, n, width)  # file I/O outside the extend lock
            self._extend(v.number, v.item_ids, v.codes)
        return True

    def _extend(self, number: int, item_ids: list[str], codes: np.ndarray) -> None:
        """Publish version ``number`` unless a refresh or an assign already did (they can race)."""
        with self._extend_lock:
            snap = self._snap
            if number <= snap.version:
                return
            if number != snap.version + 1:
                raise SidkitError(f"{self.directory}: version {number} after {snap.version}; expected no gaps")
            self._snap = _extended(snap, number, item_ids, codes)

    def quality(self) -> dict:
        snap = self._snap
        if self._quality is None or self._quality[0] != snap.version:
            self._quality = (snap.version, {"version": snap.version, **sid_quality(snap.codes, self.codebook_sizes)})
        return self._quality[1]

    # --- writing -----------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.directory / "model")
        return self._tokenizer

    def _text_encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = encoder_for_model(self.manifest.get("content"), self.directory, cache_dir=self.cache_dir,
                                              batch_size=self._encode_batch_size, show_progress=False)
        return self._encoder

    def embed(self, catalog: Catalog) -> np.ndarray:
        """x for new items, the way the fitted items' x was made (the manifest's content spec)."""
        return embed_for_model(catalog, self.manifest.get("content"), self._text_encoder, self._cf)

    def assign(self, catalog: Catalog, collisions: dict | None = None) -> dict:
        """Give SIDs to the catalogue's new items (known ids are answered as they are) in one new version.

        ``collisions``: {"mode", "k", "capacity"}, default the fit's choice (manifest) else disambiguate.
        Returns {"version", "new", "existing", "items": [answers in request order], "collisions",
        "quality_before", "quality_after"}.
        """
        settings = resolve_settings(self.manifest.get("collisions"), collisions)
        with self._lock, file_lock(self.directory / LOCK):
            self._catch_up()
            remove_stale_temps(self.directory)  # a killed writer's leftovers; we hold the lock
            snap = self._snap
            new_rows = [r for r, item in enumerate(catalog.item_ids) if snap.row(item) is None]
            report = {"version": snap.version, "new": len(new_rows), "existing": len(catalog) - len(new_rows)}
            if new_rows:
                report.update(self._commit(snap, catalog.subset(np.array(new_rows)), settings))
            snap = self._snap
            report["version"] = snap.version
            report["items"] = [snap.answer(i) for i in catalog.item_ids]
            return report

    def _commit(self, snap: Snapshot, catalog: Catalog, settings: dict) -> dict:
        t = time.perf_counter()
        x = self.embed(catalog)
        tok = self.tokenizer
        codes, encoded, handled = handle_collisions(settings, lambda: tok.encode(x), lambda k: tok.candidates(x, k),
                                                    Counter(snap.loads))
        vq = tok.vq_encode(x) if self.has_vq and hasattr(tok, "vq_encode") else None
        before = self.quality()
        after = sid_quality(np.concatenate([snap.codes, codes]), self.codebook_sizes)
        encoded_rate = after["collision_rate"] if encoded is codes else \
            sid_quality(np.concatenate([snap.codes, encoded]), self.codebook_sizes)["collision_rate"]
        number = snap.version + 1
        meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "n_items": len(catalog),
                "collisions": {**handled, "encoded_collision_rate": encoded_rate},
                "quality_before": {k: before[k] for k in SHOWN}, "quality_after": {k: after[k] for k in SHOWN}}
        write_version(self.directory, number, catalog.item_ids, codes, vq, meta)  # the commit
        self._extend(number, catalog.item_ids, codes)
        self._quality = (number, {"version": number, **after})
        return {**meta, "seconds": round(time.perf_counter() - t, 4)}


def _extended(snap: Snapshot, number: int, item_ids: list[str], codes: np.ndarray) -> Snapshot:
    """The next snapshot: rows appended to the shared id list, index and loads (the caller holds the
    store's extend lock and ``snap`` is the newest). Each new row's disambiguation level is how many items
    its tuple held before it, exactly what ``with_disambiguation`` gives over the whole table in row order."""
    if snap.n != len(snap.ids):
        raise RuntimeError("extending a snapshot that is not the newest")
    for item in item_ids:  # checked before anything shared changes
        if item in snap.index:
            raise SidkitError(f"version {number}: item {item!r} is already in the table; expected new items only")
    if len(set(item_ids)) != len(item_ids):
        raise SidkitError(f"version {number}: an item appears twice; expected new items only")
    level = np.empty(len(codes), dtype=np.int64)
    for r, (item, row) in enumerate(zip(item_ids, codes.tolist())):
        key = tuple(row)
        level[r] = snap.loads[key]
        snap.loads[key] += 1
        snap.index[item] = snap.n + r
        snap.ids.append(item)
    sid = np.concatenate([codes, level[:, None]], axis=1)
    return Snapshot(number, snap.n + len(item_ids), snap.ids, snap.index, np.concatenate([snap.codes, codes]),
                    np.concatenate([snap.sid, sid]), snap.loads)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock held by one process at a time; the OS drops it if the holder dies."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def assign_summary(report: dict) -> str:
    """The report without per-item answers, as indented JSON (what ``sidkit assign`` prints)."""
    return json.dumps({k: v for k, v in report.items() if k != "items"}, indent=2)
