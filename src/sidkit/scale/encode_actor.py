"""The Ray actor that holds a frozen tokenizer and turns catalogue pieces into codes.

Each actor loads the model folder once (the tokenizer, and the text encoder only if the shards carry text
the model must embed), then reads the pieces it is handed, straight from the shards: the driver never
sees an embedding. Rows come out flat, one int column per level (``c0``..), per reassign candidate
(``k0``..) and per VQ code (``v0``..), so the collision step can group on code columns directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from sidkit.collab.cf_input import cf_for_model
from sidkit.content.item_embeddings import embed_for_model, encoder_for_model
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.shards import read_piece
from sidkit.methods.registry import load_tokenizer


def code_columns(prefix: str, values: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{prefix}{j}": np.ascontiguousarray(values[:, j], dtype=np.int64) for j in range(values.shape[1])}


class EncodePieces:
    """``map_batches`` callable: a batch of pieces (rows of ``Piece.as_row()``) → their items' codes."""

    def __init__(self, model_dir: str, manifest: dict, columns: dict[str, str], candidates: int = 0,
                 vq: bool = False, cache_dir: str | None = None, encode_batch_size: int = 64) -> None:
        self.model_dir = Path(model_dir)
        self.tokenizer = load_tokenizer(self.model_dir / "model")
        self.spec = manifest.get("content")
        self.cf = cf_for_model(model_dir, self.spec)
        self.columns, self.k, self.vq = columns, candidates, vq
        self._encoder: TextEncoder | None = None
        self._encoder_args = (cache_dir, encode_batch_size)

    def _text_encoder(self) -> TextEncoder:
        if self._encoder is None:
            cache_dir, batch_size = self._encoder_args
            self._encoder = encoder_for_model(self.spec, self.model_dir, cache_dir=cache_dir,
                                              batch_size=batch_size, show_progress=False)
        return self._encoder

    def __call__(self, pieces: dict[str, np.ndarray]) -> pa.Table:
        parts = []
        for j in range(len(pieces["path"])):
            piece = {name: values[j].item() if hasattr(values[j], "item") else values[j]
                     for name, values in pieces.items()}
            parts.append(self.encode_piece(piece))
        return pa.concat_tables(parts)

    def encode_piece(self, piece: dict) -> pa.Table:
        catalog = read_piece(piece, self.columns)
        x = embed_for_model(catalog, self.spec, self._text_encoder, self.cf)
        if self.k:
            codes, options = self.tokenizer.candidates(x, self.k)
        else:
            codes, options = self.tokenizer.encode(x), None
        cols = {"item_id": pa.array(catalog.item_ids, pa.string()),
                "row": np.arange(piece["start"], piece["start"] + len(codes), dtype=np.int64),
                **code_columns("c", codes)}
        if options is not None:
            cols.update(code_columns("k", options))
        if self.vq:
            cols.update(code_columns("v", self.tokenizer.vq_encode(x)))
        return pa.table(cols)
