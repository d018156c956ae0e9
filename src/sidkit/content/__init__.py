"""Item content: text template, encoder with cache, modality fusion."""

from sidkit.content.fusion import fuse_modalities, l2_normalize
from sidkit.content.item_embeddings import item_embeddings, item_texts
from sidkit.content.template import render_texts
from sidkit.content.text_encoder import DEFAULT_MODEL, TextEncoder

__all__ = ["DEFAULT_MODEL", "TextEncoder", "fuse_modalities", "item_embeddings", "item_texts", "l2_normalize",
           "render_texts"]
