"""User content embeddings: what DAS's user-side RQ-VAE quantizes.

Two sources (``source``):
- ``profile``: the user's profile text (ml-100k: age, gender, occupation, zip code) through the same text
  encoder as the items;
- ``history``: a recency-weighted mean of the content embeddings of the user's training items (weight
  halves every ``half_life`` items back from the latest), normalised. A user with no training items
  gets the zero vector.
``auto`` (default) takes the profile where the data set has one, else the history; ``profile+history``
concatenates both (each normalised, so neither dominates by scale).

Only the training interactions are read: a user's SID must not encode the items held out for testing.
"""

from __future__ import annotations

import numpy as np

from sidkit.content.text_encoder import TextEncoder
from sidkit.data.splits import position_from_end
from sidkit.data.types import Dataset, Interactions
from sidkit.errors import SidkitError

SOURCES = ("auto", "profile", "history", "profile+history")


def profile_texts(user_text: dict[str, list[str]]) -> list[str]:
    """One text per user: "age: 24. gender: M. occupation: technician. zip_code: 85711" (user_id left out)."""
    fields = [f for f in user_text if f != "user_id"]
    n = len(next(iter(user_text.values()))) if user_text else 0
    return [". ".join(f"{f}: {user_text[f][u]}" for f in fields if user_text[f][u]) for u in range(n)]


def history_embeddings(train: Interactions, item_x: np.ndarray, half_life: float = 10.0) -> np.ndarray:
    """[n_users, d] recency-weighted mean of each user's training items (rows sorted by user, then time)."""
    if half_life <= 0:
        raise SidkitError(f"half_life={half_life}; expected a positive number of items")
    w = 0.5 ** (position_from_end(train) / half_life)  # 1 for the latest item of each user
    out = np.zeros((train.n_users, item_x.shape[1]), dtype=np.float64)
    np.add.at(out, train.users, w[:, None] * item_x[train.items])
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def resolve_source(source: str, dataset: Dataset) -> str:
    if source not in SOURCES:
        raise SidkitError(f"user content {source!r}; expected one of {', '.join(SOURCES)}")
    has_profile = bool(dataset.user_text) and any(f != "user_id" for f in dataset.user_text)
    if source == "auto":
        return "profile" if has_profile else "history"
    if "profile" in source and not has_profile:
        raise SidkitError(f"user content {source!r}: the data set {dataset.name} has no user profiles; "
                          "expected 'history' or 'auto'")
    return source


def user_embeddings(dataset: Dataset, train: Interactions, item_x: np.ndarray, encoder: TextEncoder | None = None,
                    source: str = "auto", half_life: float = 10.0) -> np.ndarray:
    """[n_users, d] in the order of ``train.user_ids`` (which is the data set's user index)."""
    source = resolve_source(source, dataset)
    parts = []
    if "profile" in source:
        parts.append((encoder or TextEncoder()).encode(profile_texts(dataset.user_text)))
    if "history" in source:
        parts.append(history_embeddings(train, item_x, half_life))
    x = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    if len(x) != train.n_users:
        raise SidkitError(f"{dataset.name}: {len(x)} user profiles for {train.n_users} users; expected one per user")
    return np.ascontiguousarray(x, dtype=np.float32)
