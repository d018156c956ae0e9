"""The HTTP service: every route, every bad request, and a real `sidkit serve` restarted between assigns."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import urllib.parse

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidkit.serve.app import create_app
from sidkit.sid_store import SIDStore
from sidkit.sids import SemanticIDs
from conftest import N_FIT


@pytest.fixture
def client(model_dir, cache_dir):
    app = create_app(SIDStore(model_dir, cache_dir=cache_dir), max_batch=100, max_body_bytes=200_000,
                     allowed_hosts=("testserver",))
    with TestClient(app) as c:  # runs the lifespan, so the assign worker process is stopped after the test
        yield c


def test_routes(client, model_dir, scientific_prepared):
    prep = scientific_prepared
    ids = prep.dataset.catalog.item_ids
    table = SemanticIDs.read(model_dir)
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "version": 0, "n_items": N_FIT, "method": "rq-kmeans"}
    one = client.get(f"/sids/{ids[7]}").json()
    assert one["sid"] == table.sid[7].tolist() and one["codes"] == table.codes[7].tolist()
    assert one["tokens"].startswith("<a_")
    batch = client.post("/sids/batch", json={"item_ids": [ids[1], "nope", ids[2]]}).json()
    assert [a["item_id"] for a in batch["items"]] == [ids[1], ids[2]] and batch["missing"] == ["nope"]
    assert client.get("/quality").json()["collision_rate"] == pytest.approx(
        json.loads((model_dir / "quality.json").read_text())["collision_rate"])

    by_vector = client.post("/assign", json={"items": [
        {"item_id": ids[N_FIT], "embedding": prep.embeddings[N_FIT].tolist()}]})
    assert by_vector.status_code == 200 and by_vector.json()["version"] == 1
    by_text = client.post("/assign", json={"items": [
        {"item_id": ids[N_FIT + 1], "fields": {"title": prep.dataset.catalog.text["title"][N_FIT + 1]}},
        {"item_id": ids[0], "fields": {"title": "an existing item: answered, not re-coded"}}]}).json()
    assert by_text["version"] == 2 and by_text["new"] == 1 and by_text["existing"] == 1
    assert by_text["items"][1]["sid"] == table.sid[0].tolist()
    model = SIDStore(model_dir).tokenizer
    assert by_text["items"][0]["codes"] == model.encode(prep.embeddings[N_FIT + 1:N_FIT + 2])[0].tolist()
    assert client.get(f"/sids/{ids[N_FIT + 1]}").json() == by_text["items"][0]
    assert client.get("/quality").json()["version"] == 2
    assert "/assign" in client.get("/openapi.json").json()["paths"]


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    return body["error"]


def test_bad_requests(client, scientific_prepared, model_dir):
    x = scientific_prepared.embeddings
    assert "unknown item 'nope'" in error_of(client.get("/sids/nope"), 404)
    assert error_of(client.post("/sids/batch", content=b"{not json", headers={"content-type": "application/json"}), 422)
    assert error_of(client.post("/sids/batch", content=b"\x00" * 5,  # hypothesis found: was FastAPI's 400
                                headers={"content-type": "application/json"}), 422)
    assert "item_ids" in error_of(client.post("/sids/batch", json={"ids": ["a"]}), 422)
    assert "item_ids" in error_of(client.post("/sids/batch", json={"item_ids": []}), 422)
    assert "at most 100" in error_of(client.post("/sids/batch", json={"item_ids": ["a"] * 101}), 413)
    assert "items" in error_of(client.post("/assign", json={"items": []}), 422)
    assert "embedding" in error_of(client.post("/assign", json={"items": [{"item_id": "a", "embedding": ["x"]}]}), 422)
    assert "extra" in error_of(client.post("/assign", json={"items": [{"item_id": "a", "colour": "red"}]}), 422).lower()
    assert "expected 384" in error_of(client.post("/assign", json={"items": [{"item_id": "a", "embedding": [1.0, 2.0]}]}), 422)
    nan = b'{"items": [{"item_id": "a", "embedding": [NaN' + b", 1.0" * 383 + b"]}]}"
    assert "NaN" in error_of(client.post("/assign", content=nan, headers={"content-type": "application/json"}), 422)
    mixed = {"items": [{"item_id": "a", "embedding": x[0].tolist()}, {"item_id": "b", "fields": {"title": "t"}}]}
    assert "one kind of content" in error_of(client.post("/assign", json=mixed), 422)
    assert "fields" in error_of(client.post("/assign", json={"items": [{"item_id": "a"}]}), 422)
    assert "field 'title'" in error_of(client.post("/assign", json={"items": [{"item_id": "a", "fields": {"name": "t"}}]}), 422)
    dup = {"items": [{"item_id": "a", "embedding": x[0].tolist()}, {"item_id": "a", "embedding": x[1].tolist()}]}
    assert "duplicate item id" in error_of(client.post("/assign", json=dup), 422)
    assert "collisions" in error_of(client.post("/assign", json={"items": dup["items"][:1], "collisions": "x"}), 422)
    big = {"items": [{"item_id": f"n{k}", "embedding": x[k].tolist()} for k in range(30)]}  # ~250 KB
    assert "at most 200000" in error_of(client.post("/assign", json=big), 413)

    def chunks():  # no Content-Length: counted while streaming
        yield b'{"item_ids": ["' + b"a" * 150_000
        yield b"a" * 150_000 + b'"]}'
    assert "over 200000" in error_of(client.post("/sids/batch", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert error_of(client.get("/no/such/route"), 404)
    assert SemanticIDs.read(model_dir).version == 0  # no bad request wrote anything


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def start_server(model_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "sidkit.cli", "serve", str(model_dir), "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            call(port, "/healthz")
            return proc
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def test_assign_twice_restart_and_look_up(model_dir, scientific_prepared):
    x = scientific_prepared.embeddings
    ids = scientific_prepared.dataset.catalog.item_ids
    port = free_port()
    proc = start_server(model_dir, port)
    try:
        first = call(port, "/assign", {"items": [{"item_id": ids[r], "embedding": x[r].tolist()}
                                                 for r in range(N_FIT, N_FIT + 40)]})
        second = call(port, "/assign", {"items": [{"item_id": ids[r], "embedding": x[r].tolist()}
                                                  for r in range(N_FIT + 20, N_FIT + 80)], "collisions": "reassign"})
        before = call(port, "/sids/batch", {"item_ids": ids[:N_FIT + 80]})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (first["version"], second["version"], second["new"]) == (1, 2, 40)
    proc = start_server(model_dir, port)
    try:
        after = call(port, "/sids/batch", {"item_ids": ids[:N_FIT + 80]})
        assert call(port, "/healthz")["version"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert after == before and not after["missing"]
    assert first["items"][25] == after["items"][N_FIT + 25]  # answered the same by assign and by lookup
    assert len({tuple(a["sid"]) for a in after["items"]}) == N_FIT + 80


def b64(v) -> str:
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()


def test_reverse_lookup_by_sid_and_prefix(client, model_dir):
    import numpy as np

    table = SemanticIDs.read(model_dir)
    sid = table.sid[7].tolist()
    exact = client.get("/items", params={"sid": ",".join(map(str, sid))}).json()
    assert [a["item_id"] for a in exact["items"]] == [table.item_ids[7]] and exact["n_items"] == 1
    for depth in (1, 2, 3):
        prefix = sid[:depth]
        expect = {table.item_ids[r] for r in np.flatnonzero((table.sid[:, :depth] == prefix).all(axis=1))}
        got = client.get("/items", params={"prefix": ",".join(map(str, prefix)), "limit": 10_000}).json()
        assert {a["item_id"] for a in got["items"]} == expect and got["n_items"] == len(expect), depth
    few = client.get("/items", params={"prefix": str(sid[0]), "limit": 1}).json()
    assert len(few["items"]) == 1 and few["n_items"] >= 1
    assert client.get("/items", params={"prefix": "9999"}).json()["n_items"] == 0
    assert "expected one of ?sid" in error_of(client.get("/items"), 422)
    assert "comma-separated codes" in error_of(client.get("/items", params={"prefix": "a,b"}), 422)
    assert "expected 4" in error_of(client.get("/items", params={"sid": "1,2"}), 422)
    assert "each 0 or more" in error_of(client.get("/items", params={"prefix": "-1"}), 422)


def test_ids_with_slashes_and_length_limit(client, scientific_prepared):
    x = scientific_prepared.embeddings
    r = client.post("/assign", json={"items": [{"item_id": "shop/42/red", "embedding_b64": b64(x[N_FIT])}]})
    assert r.status_code == 200, r.text
    assert client.get("/sids/shop/42/red").json()["item_id"] == "shop/42/red"
    assert "at most 1024" in error_of(client.get("/sids/" + "a" * 1025), 422)
    too_long = {"items": [{"item_id": "a" * 1025, "embedding_b64": b64(x[0])}]}
    assert "1024" in error_of(client.post("/assign", json=too_long), 422)


def test_base64_embeddings_assign_like_json_numbers(client, scientific_prepared, model_dir):
    x = scientific_prepared.embeddings
    as_b64 = client.post("/assign", json={"items": [{"item_id": f"b{k}", "embedding_b64": b64(x[N_FIT + k])}
                                                    for k in range(5)]}).json()
    model = SIDStore(model_dir).tokenizer
    assert [a["codes"] for a in as_b64["items"]] == model.encode(x[N_FIT:N_FIT + 5]).tolist()
    assert "not base64" in error_of(client.post("/assign", json={"items": [{"item_id": "c", "embedding_b64": "@@"}]}), 422)
    odd = {"items": [{"item_id": "c", "embedding_b64": "AAAAAAA="}]}  # 5 bytes
    assert "multiple of 4" in error_of(client.post("/assign", json=odd), 422)
    both = {"items": [{"item_id": "c", "embedding_b64": b64(x[0]), "embedding": x[0].tolist()}]}
    assert "expected one" in error_of(client.post("/assign", json=both), 422)
    import numpy as np
    nan = {"items": [{"item_id": "c", "embedding_b64": b64(np.full(384, np.nan))}]}
    assert "NaN" in error_of(client.post("/assign", json=nan), 422)


def test_default_limits_fit_a_full_batch_of_base64_vectors():
    """--max-batch items of 384-d float32 as base64 fit under --max-body-mb (as JSON numbers they did not)."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(10_000, 384)).astype(np.float32)
    body = json.dumps({"items": [{"item_id": f"item-{k:07d}", "embedding_b64": b64(v)} for k, v in enumerate(x)]})
    as_numbers = json.dumps({"items": [{"item_id": f"item-{k:07d}", "embedding": v} for k, v in enumerate(x.tolist())]})
    assert len(body) < 32 * 2**20 < len(as_numbers)


@pytest.fixture
def guarded(model_dir):
    app = create_app(SIDStore(model_dir), token="s3cret-token-of-16+", allowed_hosts=("testserver",),
                     assign_in_worker=False)
    with TestClient(app) as c:
        yield c


def test_writes_need_the_token(guarded, scientific_prepared, model_dir):
    item = {"items": [{"item_id": "t1", "embedding_b64": b64(scientific_prepared.embeddings[N_FIT])}]}
    r = guarded.post("/assign", json=item)
    assert "Bearer" in error_of(r, 401) and r.headers["www-authenticate"] == "Bearer"
    assert "does not match" in error_of(guarded.post("/assign", json=item, headers={"authorization": "Bearer nope"}), 401)
    assert SemanticIDs.read(model_dir).version == 0
    ok = guarded.post("/assign", json=item, headers={"authorization": "Bearer s3cret-token-of-16+"})
    assert ok.status_code == 200 and ok.json()["version"] == 1
    assert guarded.get("/sids/t1").status_code == 200  # reads stay open unless protected


def test_protected_reads_and_open_health(model_dir):
    app = create_app(SIDStore(model_dir), token="s3cret-token-of-16+", protect_reads=True,
                     allowed_hosts=("testserver",), assign_in_worker=False)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        for path in ("/sids/x", "/quality", "/items?prefix=1"):
            error_of(c.get(path), 401)
        assert c.get("/quality", headers={"authorization": "Bearer s3cret-token-of-16+"}).status_code == 200


def test_beyond_loopback_without_token_writes_are_closed(model_dir):
    app = create_app(SIDStore(model_dir), writes_open=False, allowed_hosts=None, assign_in_worker=False)
    with TestClient(app) as c:
        assert "without a token" in error_of(c.post("/assign", json={"items": [{"item_id": "a", "fields": {"title": "t"}}]}), 403)
        assert c.get("/healthz").status_code == 200


def test_cross_site_writes_are_refused(client, model_dir):
    """A page in the operator's browser can send text/plain to localhost, or reach it under its own name."""
    body = json.dumps({"items": [{"item_id": "csrf", "fields": {"title": "planted"}}]})
    assert "expected application/json" in error_of(
        client.post("/assign", content=body, headers={"content-type": "text/plain"}), 415)
    assert "missing" in error_of(client.post("/assign", content=body, headers={"content-type": ""}), 415)
    assert "not served here" in error_of(client.get("/healthz", headers={"host": "evil.example:8000"}), 400)
    r = client.options("/assign", headers={"origin": "http://evil.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in r.headers  # no CORS: a browser will not send the JSON POST
    assert SemanticIDs.read(model_dir).version == 0


def test_host_names():
    from sidkit.serve.guard import host_name, is_loopback

    assert [host_name(h) for h in ("localhost:8000", "[::1]:8000", "Example.com", "::1")] == \
        ["localhost", "::1", "example.com", "::1"]
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0") and not is_loopback("a.b")


def test_token_from_file_and_env(tmp_path, monkeypatch):
    from sidkit.errors import SidkitError
    from sidkit.serve.app import read_token

    monkeypatch.delenv("SIDKIT_TOKEN", raising=False)
    assert read_token(None) is None
    (tmp_path / "t").write_text("a-long-enough-token-123\n")
    assert read_token(tmp_path / "t") == "a-long-enough-token-123"
    monkeypatch.setenv("SIDKIT_TOKEN", "short")
    with pytest.raises(SidkitError, match="at least 16"):
        read_token(None)
    with pytest.raises(SidkitError, match="cannot read"):
        read_token(tmp_path / "missing")


def test_lookups_never_wait_for_an_assign(model_dir, scientific_prepared):
    """An unknown id during an assign used to wait on the assign's lock on the event loop, freezing every
    client (47 s measured). The assign is held inside the store here; lookups and health must answer."""
    import threading

    store = SIDStore(model_dir)
    app = create_app(store, allowed_hosts=("testserver",), assign_in_worker=False)
    inside, release = threading.Event(), threading.Event()
    real_embed = store.embed

    def slow_embed(catalog):
        inside.set()
        release.wait(60)
        return real_embed(catalog)

    store.embed = slow_embed
    x = scientific_prepared.embeddings
    with TestClient(app) as c:
        result = {}
        writer = threading.Thread(target=lambda: result.update(r=c.post("/assign", json={"items": [
            {"item_id": "slow", "embedding_b64": b64(x[N_FIT])}]})))
        writer.start()
        try:
            assert inside.wait(30)
            assert c.get("/sids/unknown-id").status_code == 404
            assert c.get("/healthz").status_code == 200
            # answered while the assign is still held: a lookup that waited for it could only return after
            # the assign had finished (its hold ends by itself after 60 s), so no clock decides this
            assert writer.is_alive() and not release.is_set()
        finally:
            release.set()
            writer.join(60)
    assert result["r"].status_code == 200


def test_docs_page(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "/items" in client.get("/openapi.json").json()["paths"]


def test_serve_limits_from_the_command_line(model_dir):
    port = free_port()
    proc = start_server(model_dir, port, "--max-batch", "3", "--max-body-mb", "1")
    try:
        with pytest.raises(urllib.error.HTTPError) as too_many:
            call(port, "/sids/batch", {"item_ids": ["a", "b", "c", "d"]})
        assert too_many.value.code == 413 and "at most 3" in json.loads(too_many.value.read())["error"]
        # the body is declared, not sent: the server answers 413 from the header and may close the socket
        # at once, so a client still writing a real 1.2 MB body can see a broken pipe instead of the answer
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.putrequest("POST", "/sids/batch")
        conn.putheader("content-type", "application/json")
        conn.putheader("content-length", str(1_200_000))
        conn.endheaders()
        too_big = conn.getresponse()
        assert too_big.status == 413 and "at most 1048576" in json.loads(too_big.read())["error"]
        conn.close()
        assert call(port, "/sids/batch", {"item_ids": ["a", "b", "c"]})["missing"] == ["a", "b", "c"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["items", "item_id", "fields", "embedding", "embedding_b64", "collisions", "k", "capacity", "item_ids",
         "title", "x"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSONISH.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
       path=st.sampled_from(["/assign", "/sids/batch"]))
def test_any_body_gets_a_json_answer(client, body, path):
    """Whatever a client sends, the answer is JSON: a result, or {"error": one line} with a 4xx status."""
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 401, 413, 415, 422), (r.status_code, r.text[:300])
    data = r.json()
    if r.status_code != 200:
        assert set(data) == {"error"} and "\n" not in data["error"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["sid", "prefix", "limit"]), st.text(max_size=12), max_size=3),
       item=st.text(min_size=1, max_size=30))
def test_any_query_gets_a_json_answer(client, query, item):
    for r in (client.get("/items", params=query), client.get("/sids/" + urllib.parse.quote(item, safe=""))):
        assert r.status_code in (200, 404, 422), (r.status_code, r.text[:300])
        if r.status_code != 200:
            assert set(r.json()) == {"error"}
