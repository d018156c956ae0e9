"""The HTTP service: every route, every bad request, and a real `sidkit serve` restarted between assigns."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sidkit.serve.app import create_app
from sidkit.sid_store import SIDStore
from sidkit.sids import SemanticIDs
from conftest import N_FIT


@pytest.fixture
def client(model_dir, cache_dir):
    return TestClient(create_app(SIDStore(model_dir, cache_dir=cache_dir), max_batch=100, max_body_bytes=200_000))


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


def start_server(model_dir: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "sidkit.cli", "serve", str(model_dir), "--port", str(port)],
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
