"""The two inputs of every method: a catalogue of items and a log of user-item interactions."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sidkit.errors import SidkitError, input_error


@dataclass(frozen=True)
class Catalog:
    """Items, their text fields and any precomputed per-modality embeddings.

    ``item_ids`` are strings whatever the source used, so one code path serves ASINs and integers.
    Row ``i`` of every field and embedding belongs to ``item_ids[i]``.
    """

    item_ids: list[str]
    text: dict[str, list[str]] = field(default_factory=dict)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = "<catalog>"

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if n == 0:
            raise input_error(self.source, "no items; expected at least one item")
        seen: dict[str, int] = {}
        for row, item in enumerate(self.item_ids, start=1):
            if item in seen:
                raise input_error(
                    self.source, f"duplicate item id {item!r} (first at row {seen[item]}); expected unique ids",
                    row=row, field="item_id",
                )
            seen[item] = row
        for name, values in self.text.items():
            if len(values) != n:
                raise input_error(self.source, f"{len(values)} values for {n} items", field=name)
        for name, emb in self.embeddings.items():
            if emb.ndim != 2 or emb.shape[0] != n:
                raise input_error(self.source, f"embedding shape {emb.shape}; expected ({n}, dim)", field=name)
            bad = ~np.isfinite(emb).all(axis=1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 1
                raise input_error(self.source, "NaN or inf in embedding; expected finite numbers", row=row, field=name)

    def __len__(self) -> int:
        return len(self.item_ids)

    @cached_property
    def index(self) -> dict[str, int]:
        return {item: i for i, item in enumerate(self.item_ids)}

    def subset(self, rows: np.ndarray) -> "Catalog":
        rows = np.asarray(rows, dtype=np.int64)
        return Catalog(
            item_ids=[self.item_ids[i] for i in rows],
            text={k: [v[i] for i in rows] for k, v in self.text.items()},
            embeddings={k: v[rows] for k, v in self.embeddings.items()},
            source=self.source,
        )


@dataclass(frozen=True)
class Interactions:
    """User-item events, sorted by user and then by time (or file order where there is no time).

    ``items`` index into the catalogue the log was read against; ``users`` index ``user_ids``.
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: list[str]
    n_items: int
    timestamp: np.ndarray | None = None
    rating: np.ndarray | None = None
    label: np.ndarray | None = None
    source: str = "<interactions>"

    def __post_init__(self) -> None:
        if len(self.users) != len(self.items):
            raise SidkitError(f"{self.source}: users and items differ in length")
        if len(self.items) and (self.items.min() < 0 or self.items.max() >= self.n_items):
            raise SidkitError(f"{self.source}: item index out of range of the catalogue")

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def first_items(self, n: int) -> "Interactions":
        """The events on the first ``n`` catalogue rows, as a log over a catalogue of ``n`` items (users kept)."""
        keep = self.items < n
        pick = lambda a: None if a is None else a[keep]  # noqa: E731
        return Interactions(self.users[keep], self.items[keep], self.user_ids, n, pick(self.timestamp),
                            pick(self.rating), pick(self.label), self.source)

    @classmethod
    def from_events(
        cls,
        users: list[str] | np.ndarray,
        items: np.ndarray,
        n_items: int,
        *,
        timestamp: np.ndarray | None = None,
        rating: np.ndarray | None = None,
        label: np.ndarray | None = None,
        source: str = "<interactions>",
    ) -> "Interactions":
        """Index users in order of first appearance and sort events by (user, time, file order)."""
        if len(users) == 0:
            raise input_error(source, "no interactions; expected at least one row")
        raw = np.asarray(users, dtype=object).astype(str)
        uniq, first_pos, inverse = np.unique(raw, return_index=True, return_inverse=True)
        appearance = np.argsort(first_pos, kind="stable")
        rank = np.empty_like(appearance)
        rank[appearance] = np.arange(len(appearance))
        uidx = rank[inverse].astype(np.int64)
        user_ids = [str(u) for u in uniq[appearance]]
        keys = [np.arange(len(raw))]
        if timestamp is not None:
            keys.append(np.asarray(timestamp, dtype=np.float64))
        keys.append(uidx)
        order = np.lexsort(keys)
        pick = lambda a: None if a is None else np.asarray(a)[order]  # noqa: E731
        return cls(
            users=uidx[order],
            items=np.asarray(items, dtype=np.int64)[order],
            user_ids=user_ids,
            n_items=n_items,
            timestamp=pick(timestamp),
            rating=pick(rating),
            label=pick(label),
            source=source,
        )

    def take(self, rows: np.ndarray) -> "Interactions":
        """A subset of rows (boolean mask or indices), keeping the user index and the order."""
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return Interactions(
            users=self.users[rows], items=self.items[rows], user_ids=self.user_ids, n_items=self.n_items,
            timestamp=pick(self.timestamp), rating=pick(self.rating), label=pick(self.label), source=self.source,
        )

    def sequences(self) -> list[np.ndarray]:
        """Each user's items in order; users with no rows get an empty array."""
        bounds = np.searchsorted(self.users, np.arange(self.n_users + 1))
        return [self.items[bounds[u]:bounds[u + 1]] for u in range(self.n_users)]


@dataclass(frozen=True)
class Dataset:
    """A named pair of catalogue and interactions, plus how to turn an item into one text."""

    name: str
    catalog: Catalog
    interactions: Interactions | None  # None: a catalogue alone (methods that need no clicks)
    text_template: str
    user_text: dict[str, list[str]] | None = None
