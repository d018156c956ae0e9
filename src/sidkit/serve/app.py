"""``sidkit serve``: look up SIDs, find the items behind a SID, assign new items, read quality, over HTTP.

    GET  /healthz            {"status", "version", "n_items", "method"}
    GET  /sids/{item_id}     {"item_id", "sid", "codes", "tokens"}; 404 for an unknown item
    POST /sids/batch         {"item_ids": [...]} -> {"version", "items": [...], "missing": [...]}
    GET  /items?sid=1,2,3,0  the item with this SID (codes and disambiguation level)
    GET  /items?prefix=1,2   the items whose SID starts so: {"version", "prefix", "n_items", "items"} (``limit``)
    POST /assign             {"items": [{"item_id", "fields": {...}} | {"item_id", "embedding": [...]} |
                              {"item_id", "embedding_b64": "..."}], "collisions"?, "k"?, "capacity"?}
                             -> the assign report (sid_store); needs the token when one is set
    GET  /quality            quality figures of the current version
    GET  /docs, /openapi.json

Every error body is {"error": "<one line>"}. Lookups are answered on the event loop from the current
snapshot and never wait for an assign; assigns run in a worker process (serve.assign_worker).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sidkit import __version__
from sidkit.data.files import MAX_ID_CHARS
from sidkit.errors import SidkitError
from sidkit.serve.assign_request import AssignRequest, assign_response, first_error
from sidkit.serve.assign_worker import AssignWorker
from sidkit.serve.guard import LOOPBACK_NAMES, RequestGuard, error, is_loopback
from sidkit.sid_store import SIDStore

TOKEN_ENV = "SIDKIT_TOKEN"
MAX_PREFIX_ITEMS = 10_000


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_ids: list[str] = Field(min_length=1)


def _codes(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")] if text.strip() else []
    except ValueError:
        raise SidkitError(f"query {name}={text!r}; expected comma-separated codes such as 12,3,200") from None
    if not values or min(values) < 0:
        raise SidkitError(f"query {name}={text!r}; expected one or more codes, each 0 or more")
    return values


def create_app(store: SIDStore, *, max_batch: int = 10000, max_body_bytes: int = 32 * 1024 * 1024,
               token: str | None = None, protect_reads: bool = False, writes_open: bool = True,
               allowed_hosts: tuple[str, ...] | None = LOOPBACK_NAMES, assign_in_worker: bool = True) -> FastAPI:
    """``allowed_hosts=None`` serves any Host header; ``assign_in_worker=False`` assigns in this process
    (a thread), which is simpler to debug and shares the GIL with lookups."""
    worker = AssignWorker(store.directory, store.cache_dir) if assign_in_worker else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        if worker is not None:
            worker.close()

    app = FastAPI(title="sidkit", version=__version__, lifespan=lifespan,
                  description=f"Semantic IDs of {store.directory} ({store.manifest.get('method')})")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, first_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # FastAPI's words for bytes that
            return error(422, "body: not valid JSON; expected a JSON object")  # are not JSON; /assign says 422
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(SidkitError)
    async def bad_input(_: Request, exc: SidkitError) -> JSONResponse:
        return error(422, str(exc))

    @app.get("/healthz")
    async def healthz() -> dict:
        snap = store.snapshot
        return {"status": "ok", "version": snap.version, "n_items": snap.n,
                "method": store.manifest.get("method")}

    @app.get("/sids/{item_id:path}")  # :path, so an id may hold '/'
    async def sid(item_id: str):
        if len(item_id) > MAX_ID_CHARS:
            return error(422, f"item id of {len(item_id)} characters; expected at most {MAX_ID_CHARS}")
        answer = store.snapshot.answer(item_id)
        if answer is None:  # maybe committed since by another process: re-read versions off the loop
            found, _ = await run_in_threadpool(store.lookup, [item_id])
            answer = found[0] if found else None
        return answer if answer is not None else error(404, f"unknown item {item_id!r}")

    @app.post("/sids/batch")
    async def batch(body: BatchRequest):
        if len(body.item_ids) > max_batch:
            return error(413, f"{len(body.item_ids)} item ids; expected at most {max_batch}")
        found, missing = await run_in_threadpool(store.lookup, body.item_ids)
        return {"version": store.snapshot.version, "items": found, "missing": missing}

    @app.get("/items")
    async def items(sid: str | None = Query(None, description="a whole SID: codes, then the disambiguation level"),
                    prefix: str | None = Query(None, description="the first codes of a SID, e.g. 12,3"),
                    limit: int = Query(100, ge=1, le=MAX_PREFIX_ITEMS)):
        if (sid is None) == (prefix is None):
            return error(422, "expected one of ?sid=CODES or ?prefix=CODES")
        snap = store.snapshot
        width = snap.sid.shape[1]
        codes = _codes(sid if sid is not None else prefix, "sid" if sid is not None else "prefix")
        if (sid is not None and len(codes) != width) or len(codes) > width:
            return error(422, f"{len(codes)} codes; expected {width if sid is not None else f'1 to {width}'} "
                              f"({width - 1} levels and the disambiguation level)")
        rows = snap.with_prefix(codes)
        return {"version": snap.version, "prefix": codes, "n_items": len(rows),
                "items": [snap.answer(snap.ids[r]) for r in rows[:limit].tolist()]}

    # Assign bodies are read here and parsed where the assign runs: in the worker process by default.
    @app.post("/assign", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/AssignRequest"}}}}})
    async def assign(request: Request) -> Response:
        raw = await request.body()
        if worker is None:
            status, body = await run_in_threadpool(assign_response, store, raw, max_batch)
        else:
            status, body = await worker.assign(raw, max_batch)
            if status == 200:
                await run_in_threadpool(store.refresh)  # the worker's version, before we answer
        return Response(body, status_code=status, media_type="application/json")

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
        return await run_in_threadpool(store.quality)

    app.add_middleware(RequestGuard, max_bytes=max_body_bytes, allowed_hosts=allowed_hosts, token=token,
                       protect_reads=protect_reads, writes_open=writes_open, write_paths=("/assign",))
    return app


def read_token(token_file: str | Path | None) -> str | None:
    """The bearer token from ``--token-file`` (first line) or ``$SIDKIT_TOKEN``; None when neither is set."""
    if token_file is not None:
        path = Path(token_file)
        try:
            token = path.read_text(encoding="utf-8").strip().splitlines()[0].strip() if path.stat().st_size else ""
        except (OSError, UnicodeDecodeError) as e:
            raise SidkitError(f"{path}: cannot read the token file ({type(e).__name__})") from None
        except IndexError:
            token = ""
    else:
        token = os.environ.get(TOKEN_ENV)
        if token is None:
            return None
        token = token.strip()
    if len(token) < 16:
        raise SidkitError(f"{token_file or '$' + TOKEN_ENV}: token of {len(token)} characters; expected at least 16 "
                          "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return token


def serve(model_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, max_batch: int = 10000,
          max_body_bytes: int = 32 * 1024 * 1024, cache_dir: str | Path | None = None,
          token_file: str | Path | None = None, protect_reads: bool = False,
          allowed_hosts: tuple[str, ...] = ()) -> None:
    import sys

    import uvicorn

    token = read_token(token_file)
    store = SIDStore(model_dir, cache_dir=cache_dir)
    loopback = is_loopback(host)
    if loopback:
        hosts: tuple[str, ...] | None = LOOPBACK_NAMES + tuple(allowed_hosts)
    else:  # beyond loopback the names are the operator's; without --allowed-host any Host is served
        hosts = (host, *allowed_hosts) if allowed_hosts else None
    app = create_app(store, max_batch=max_batch, max_body_bytes=max_body_bytes, token=token,
                     protect_reads=protect_reads, writes_open=loopback, allowed_hosts=hosts)
    if not loopback and token is None:
        print(f"sidkit: warning: serving {host} without a token: lookups are open, POST /assign is refused "
              f"(give --token-file FILE or ${TOKEN_ENV} to allow it)", file=sys.stderr, flush=True)
    print(f"sidkit: serving {model_dir} (version {store.snapshot.version}, {store.snapshot.n} items) "
          f"on http://{host}:{port}  docs: /docs", flush=True)
    # Loading a committed version into the lookup tables is Python work on a worker thread; a 1 ms switch
    # interval (default 5 ms) bounds how long the event loop waits for the GIL meanwhile.
    sys.setswitchinterval(0.001)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
