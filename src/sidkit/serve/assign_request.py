"""The body of ``POST /assign``: parsed, turned into a catalogue, assigned; one JSON answer.

Runs wherever the assign runs (the worker process under ``sidkit serve``), so the parsing of a body of
megabytes never holds the serving process's GIL. Vectors come as JSON numbers (``embedding``) or as
base64 of little-endian float32 (``embedding_b64``): 4 bytes a number instead of ~10 characters, and
decoded without parsing a float at a time.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidkit.content.item_embeddings import GIVEN
from sidkit.data.files import MAX_ID_CHARS
from sidkit.data.types import Catalog
from sidkit.errors import SidkitError
from sidkit.sid_store import SIDStore

SOURCE = "request body"


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=MAX_ID_CHARS,
                         description="the new item's id; a known id is answered as it is")
    fields: dict[str, str] | None = Field(None, description="text fields of the fit's template, e.g. {\"title\": ...}")
    embedding: list[float] | None = Field(None, description="the model's input vector, instead of fields")
    embedding_b64: str | None = Field(None, description="the same vector as base64 of little-endian float32")


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[NewItem] = Field(min_length=1)
    collisions: Literal["disambiguate", "reassign", "reassign-optimal"] | None = None
    k: int | None = Field(None, ge=1)
    capacity: int | None = Field(None, ge=1)


def first_error(errors: list, prefix: tuple = ()) -> str:
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in prefix + tuple(first.get("loc", ())))
    return f"{where}: {first.get('msg', 'invalid')}"


def _vector(item: NewItem, row: int) -> np.ndarray:
    if item.embedding is not None and item.embedding_b64 is not None:
        raise SidkitError(f"{SOURCE}: items[{row}]: both 'embedding' and 'embedding_b64'; expected one")
    if item.embedding is not None:
        return np.asarray(item.embedding, dtype=np.float64)
    try:
        raw = base64.b64decode(item.embedding_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SidkitError(f"{SOURCE}: items[{row}].embedding_b64: not base64; expected base64 of float32") from None
    if len(raw) % 4:
        raise SidkitError(f"{SOURCE}: items[{row}].embedding_b64: {len(raw)} bytes; expected a multiple of 4 "
                          "(little-endian float32)")
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def request_catalog(items: list[NewItem]) -> Catalog:
    """The request's items as a catalogue; one kind of content per request keeps the matrix whole."""
    with_vector = [it.embedding is not None or it.embedding_b64 is not None for it in items]
    if any(with_vector) and not all(with_vector):
        raise SidkitError(f"{SOURCE}: items[{with_vector.index(False)}]: expected '{GIVEN}' like items[0] "
                          "(one kind of content per request)")
    if all(with_vector):
        vectors = [_vector(it, row) for row, it in enumerate(items)]
        dims = {len(v) for v in vectors}
        if len(dims) != 1 or 0 in dims:
            raise SidkitError(f"{SOURCE}: embeddings of lengths {sorted(dims)}; expected one non-empty length")
        x = np.stack(vectors)
        if not np.isfinite(x).all():
            row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise SidkitError(f"{SOURCE}: items[{row}].embedding: NaN or inf; expected finite numbers")
        return Catalog([it.item_id for it in items], embeddings={GIVEN: x.astype(np.float32)}, source=SOURCE)
    missing = [i for i, it in enumerate(items) if not it.fields]
    if missing:
        raise SidkitError(f"{SOURCE}: items[{missing[0]}]: expected 'fields' (text), '{GIVEN}' or '{GIVEN}_b64'")
    names = sorted({name for it in items for name in it.fields})
    return Catalog([it.item_id for it in items], text={n: [it.fields.get(n, "") for it in items] for n in names},
                   source=SOURCE)


def _answer(status: int, body: dict) -> tuple[int, bytes]:
    return status, json.dumps(body).encode()


def assign_response(store: SIDStore, raw: bytes, max_batch: int) -> tuple[int, bytes]:
    """(HTTP status, JSON body) for one ``POST /assign`` body."""
    try:
        body = AssignRequest.model_validate_json(raw)
    except ValidationError as e:
        return _answer(422, {"error": first_error(e.errors(), prefix=("body",))})
    if len(body.items) > max_batch:
        return _answer(413, {"error": f"{len(body.items)} items; expected at most {max_batch}"})
    choice = {k: v for k, v in (("mode", body.collisions), ("k", body.k), ("capacity", body.capacity))
              if v is not None}
    try:
        return _answer(200, store.assign(request_catalog(body.items), choice))
    except SidkitError as e:
        return _answer(422, {"error": str(e)})
