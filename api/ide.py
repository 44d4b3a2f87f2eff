"""GraphiQL, from files this package carries (api/graphiql/): it works without the internet."""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

ASSETS = Path(__file__).resolve().parent / "graphiql"
PATH = "/graphql/ide"  # where the files are served
# every file name but the page's own script carries its version: a browser may keep it a year
_IMMUTABLE = "public, max-age=31536000, immutable"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@functools.cache
def _page() -> str:
    return (ASSETS / "index.html").read_text(encoding="utf-8").replace("{assets}", PATH)


def page() -> HTMLResponse:
    """The GraphiQL page, loading its scripts and styles from this node only."""
    return HTMLResponse(_page(), headers={"cache-control": "no-cache"})


async def asset(request: Request) -> Response:
    """One of GraphiQL's files, by name; 404 for any other name."""
    name = request.path_params["name"]
    target = ASSETS / name
    media_type = _TYPES.get(target.suffix)
    if media_type is None or "/" in name or name.startswith(".") or not target.is_file():
        return PlainTextResponse("not found", status_code=404)
    cache = "no-cache" if name == "start.js" else _IMMUTABLE
    return FileResponse(target, media_type=media_type, headers={"cache-control": cache})
