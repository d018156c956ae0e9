"""What a request must be before any route sees it: for this host, within size, JSON when it writes, and
with the token when it needs one. Pure ASGI, so a refused request costs no parsing.

- **Host**: a web page can reach a loopback service through a name it controls (DNS rebinding); the
  Host header then carries that name, so only the names the operator expects are served.
- **Content type**: a cross-site form or ``fetch`` may POST ``text/plain`` without asking first; only
  ``application/json`` needs a CORS preflight, which this service never grants (no CORS headers).
- **Size**: bodies over ``max_bytes`` get 413, by Content-Length or while streaming.
- **Token**: ``Authorization: Bearer <token>`` on writes (and on reads with ``protect_reads``),
  compared in constant time. Without a configured token, writes are open only on loopback.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException
from fastapi.responses import JSONResponse

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
OPEN = ("/healthz",)  # always readable: a load balancer's probe carries no token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class RequestGuard:
    def __init__(self, app, *, max_bytes: int, allowed_hosts: tuple[str, ...] | None, token: str | None,
                 protect_reads: bool, writes_open: bool, write_paths: tuple[str, ...]) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.token, self.protect_reads, self.writes_open = token, protect_reads, writes_open
        self.write_paths = write_paths

    def _refusal(self, scope) -> JSONResponse | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if self.allowed_hosts is not None:
            name = host_name(headers.get("host", ""))
            if name not in self.allowed_hosts:
                return error(400, f"Host {name!r} is not served here; expected one of {sorted(self.allowed_hosts)} "
                                  "(sidkit serve --allowed-host NAME)")
        path, method = scope.get("path", ""), scope.get("method", "GET")
        writes = method == "POST" and path in self.write_paths
        if writes and not self.writes_open and self.token is None:
            return error(403, f"{path} is closed: this service is bound beyond loopback without a token; "
                              "expected sidkit serve --token-file FILE or SIDKIT_TOKEN")
        if self.token is not None and (writes or (self.protect_reads and path not in OPEN)):
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token.encode()):
                return error(401, f"{path} needs 'Authorization: Bearer <token>'"
                             + (" (the one given does not match)" if given else ""),
                             {"WWW-Authenticate": "Bearer"})
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return error(415, f"Content-Type {kind or 'missing'!r}; expected application/json")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return error(413, f"request body of {length} bytes; expected at most {self.max_bytes}")
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is not None:
            return await refusal(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # a chunked body with no Content-Length; FastAPI re-raises this one
                raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)
