"""``sidkit serve``: look up SIDs, assign new items, read quality, over HTTP.

    GET  /healthz            {"status", "version", "n_items", "method"}
    GET  /sids/{item_id}     {"item_id", "sid", "codes", "tokens"}; 404 for an unknown item
    POST /sids/batch         {"item_ids": [...]} -> {"version", "items": [...], "missing": [...]}
    POST /assign             {"items": [{"item_id", "fields": {...}} | {"item_id", "embedding": [...]}],
                              "collisions"?, "k"?, "capacity"?} -> the assign report (sid_store)
    GET  /quality            quality figures of the current version
    GET  /docs, /openapi.json

Every error body is {"error": "<one line>"}. Bodies over the size limit get 413 before they are read
in full; batches over the item limit get 413. Assigns are serialised by the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sidkit import __version__
from sidkit.content.item_embeddings import GIVEN
from sidkit.data.types import Catalog
from sidkit.errors import SidkitError
from sidkit.sid_store import SIDStore


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, description="the new item's id; a known id is answered as it is")
    fields: dict[str, str] | None = Field(None, description="text fields of the fit's template, e.g. {\"title\": ...}")
    embedding: list[float] | None = Field(None, description="the model's input vector, instead of fields")


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[NewItem] = Field(min_length=1)
    collisions: Literal["disambiguate", "reassign"] | None = None
    k: int | None = Field(None, ge=1)
    capacity: int | None = Field(None, ge=1)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_ids: list[str] = Field(min_length=1)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _first_error(errors: list, prefix: tuple = ()) -> str:
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in prefix + tuple(first.get("loc", ())))
    return f"{where}: {first.get('msg', 'invalid')}"


def request_catalog(items: list[NewItem]) -> Catalog:
    """The request's items as a catalogue; one kind of content per request keeps the matrix whole."""
    source = "request body"
    with_embedding = [it.embedding is not None for it in items]
    if any(with_embedding) and not all(with_embedding):
        raise SidkitError(f"{source}: items[{with_embedding.index(False)}]: expected '{GIVEN}' like items[0] "
                          "(one kind of content per request)")
    if all(with_embedding):
        dims = {len(it.embedding) for it in items}
        if len(dims) != 1 or 0 in dims:
            raise SidkitError(f"{source}: embeddings of lengths {sorted(dims)}; expected one non-empty length")
        x = np.asarray([it.embedding for it in items], dtype=np.float64)
        if not np.isfinite(x).all():
            row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise SidkitError(f"{source}: items[{row}].embedding: NaN or inf; expected finite numbers")
        return Catalog([it.item_id for it in items], embeddings={GIVEN: x.astype(np.float32)}, source=source)
    missing = [i for i, it in enumerate(items) if not it.fields]
    if missing:
        raise SidkitError(f"{source}: items[{missing[0]}]: expected 'fields' (text) or '{GIVEN}'")
    names = sorted({name for it in items for name in it.fields})
    return Catalog([it.item_id for it in items], text={n: [it.fields.get(n, "") for it in items] for n in names},
                   source=source)


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413, by Content-Length or while streaming (pure ASGI, cheap)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _error(413, f"request body of {length.decode(errors='replace')} bytes; expected at "
                                     f"most {self.max_bytes}")(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a chunked body with no Content-Length; FastAPI re-raises this one
                raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)


def create_app(store: SIDStore, *, max_batch: int = 10000, max_body_bytes: int = 32 * 1024 * 1024) -> FastAPI:
    app = FastAPI(title="sidkit", version=__version__,
                  description=f"Semantic IDs of {store.directory} ({store.manifest.get('method')})")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _first_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(SidkitError)
    async def bad_input(_: Request, exc: SidkitError) -> JSONResponse:
        return _error(422, str(exc))

    @app.get("/healthz")
    async def healthz() -> dict:
        snap = store.snapshot
        return {"status": "ok", "version": snap.version, "n_items": len(snap.item_ids),
                "method": store.manifest.get("method")}

    @app.get("/sids/{item_id}")
    async def sid(item_id: str):
        found, _ = store.lookup([item_id])
        return found[0] if found else _error(404, f"unknown item {item_id!r}")

    @app.post("/sids/batch")
    async def batch(body: BatchRequest):
        if len(body.item_ids) > max_batch:
            return _error(413, f"{len(body.item_ids)} item ids; expected at most {max_batch}")
        found, missing = store.lookup(body.item_ids)
        return {"version": store.snapshot.version, "items": found, "missing": missing}

    def assign_json(raw: bytes) -> JSONResponse:
        try:
            body = AssignRequest.model_validate_json(raw)
        except ValidationError as e:
            return _error(422, _first_error(e.errors(), prefix=("body",)))
        if len(body.items) > max_batch:
            return _error(413, f"{len(body.items)} items; expected at most {max_batch}")
        choice = {k: v for k, v in (("mode", body.collisions), ("k", body.k), ("capacity", body.capacity))
                  if v is not None}
        try:
            return JSONResponse(store.assign(request_catalog(body.items), choice))
        except SidkitError as e:
            return _error(422, str(e))

    # The body is parsed and validated in a worker thread, not on the event loop: a 1,000-item assign is
    # ~8 MB of JSON, and parsing it where lookups are served stalled them by hundreds of milliseconds.
    @app.post("/assign", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/AssignRequest"}}}}})
    async def assign(request: Request) -> JSONResponse:
        return await run_in_threadpool(assign_json, await request.body())

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)  # builds and keeps app.openapi_schema; completed here once
            defs = AssignRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(defs.pop("$defs", {}))
            schemas["AssignRequest"] = defs
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/quality")
    async def quality() -> dict:
        return store.quality()

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def serve(model_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 10000,
          max_body_bytes: int = 32 * 1024 * 1024, cache_dir: str | Path | None = None) -> None:
    import uvicorn

    store = SIDStore(model_dir, cache_dir=cache_dir)
    app = create_app(store, max_batch=max_batch, max_body_bytes=max_body_bytes)
    print(f"sidkit: serving {model_dir} (version {store.snapshot.version}, {len(store.snapshot.item_ids)} items) "
          f"on http://{host}:{port}  docs: /docs", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
