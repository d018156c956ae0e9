"""Item content embeddings x: text through the encoder plus any given modality, fused."""

from __future__ import annotations

import numpy as np

from sidkit.content.fusion import fuse_modalities
from sidkit.content.template import render_texts
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.types import Dataset


def item_texts(dataset: Dataset) -> list[str]:
    return render_texts(dataset.text_template, dataset.catalog.text)


def item_embeddings(
    dataset: Dataset,
    encoder: TextEncoder | None = None,
    weights: dict[str, float] | None = None,
) -> np.ndarray:
    """One row per catalogue item. Text counts as the modality ``text`` when the data set has a template."""
    parts: dict[str, np.ndarray] = dict(dataset.catalog.embeddings)
    if dataset.text_template and dataset.catalog.text:
        parts["text"] = (encoder or TextEncoder()).encode(item_texts(dataset))
    return fuse_modalities(parts, weights)
