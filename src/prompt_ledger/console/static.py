"""The console's own static files (stylesheet, scripts, vendored htmx / uPlot / Swagger UI),
served from the package so that every page works with no internet.

URLs carry a hash of the file (``asset_url``), so browsers may keep them for a year."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePosixPath

from prompt_ledger.errors import NotFound
from prompt_ledger.http.endpoint import Call, Endpoint, Reply

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = (".js", ".css", ".json", ".svg", ".txt", "")


@dataclass(frozen=True, slots=True)
class Asset:
    data: bytes
    gzipped: bytes | None
    media_type: str
    digest: str


@cache
def asset(path: str) -> Asset:
    parts = PurePosixPath(path).parts
    if not parts or any(part in {"..", "."} or part.startswith(".") for part in parts):
        raise NotFound(f"No static file '{path[:100]}'.")
    node = resources.files("prompt_ledger.console").joinpath("static", *parts)
    if not node.is_file():
        raise NotFound(f"No static file '{path[:100]}'.")
    data = node.read_bytes()
    suffix = PurePosixPath(path).suffix
    gzipped = gzip.compress(data, mtime=0) if suffix in COMPRESSIBLE and len(data) > 1024 else None
    return Asset(
        data,
        gzipped,
        TYPES.get(suffix, "text/plain; charset=utf-8"),
        hashlib.sha256(data).hexdigest()[:12],
    )


def asset_url(path: str) -> str:
    return f"/static/{path}?v={asset(path).digest}"


async def static(call: Call) -> Reply:
    found = asset(str(call.path["path"]))
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if found.gzipped is not None and "gzip" in call.request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Reply(found.gzipped, headers=headers, media_type=found.media_type)
    return Reply(found.data, headers=headers, media_type=found.media_type)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/static/{path:path}",
        static,
        "Static files of the console",
        None,
        tag="console",
        in_schema=False,
    )
]
