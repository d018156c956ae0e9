"""On-disk cache of text embeddings keyed by (model, text), so a second run encodes nothing.

Shards are safetensors files (no pickle); each run that encodes something adds one shard atomically, so
concurrent or killed runs never corrupt what is there.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from sidkit.atomic import write_file
from sidkit.errors import SidkitWarning


def default_cache_dir() -> Path:
    return Path(os.environ.get("SIDKIT_CACHE", Path.home() / ".cache" / "sidkit"))


class EmbeddingCache:
    def __init__(self, root: str | Path, model_key: str) -> None:
        self.dir = Path(root) / "embeddings" / hashlib.sha256(model_key.encode()).hexdigest()[:16]
        self.model_key = model_key

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self.model_key.encode() + b"\0" + text.encode("utf-8")).digest()[:16]

    def lookup(self, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (found mask, vectors for the found keys in order)."""
        table: dict[bytes, np.ndarray] = {}
        if self.dir.is_dir():
            for shard in sorted(self.dir.glob("*.safetensors")):
                try:
                    data = load_file(shard)
                    pairs = list(zip(data["keys"], data["vectors"]))
                except Exception as e:  # a truncated or foreign file: its texts are encoded again
                    warnings.warn(f"{shard}: unreadable embedding cache shard ({type(e).__name__}); treated as a "
                                  "cache miss (delete it to silence this)", SidkitWarning, stacklevel=2)
                    continue
                for k, v in pairs:
                    table[k.tobytes()] = v
        found = np.array([k in table for k in keys], dtype=bool)
        if not found.any():
            return found, None
        return found, np.stack([table[k] for k, f in zip(keys, found) if f])

    def add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16)
        payload = {"keys": np.ascontiguousarray(arr), "vectors": np.ascontiguousarray(vectors, dtype=np.float32)}
        write_file(self.dir / f"{uuid.uuid4().hex}.safetensors", lambda tmp: save_file(payload, str(tmp)))
