"""The published site of an API node: the current release, with 410 Gone for withdrawn pages."""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from disclosure import listing


class Site:
    """The published release under `releases_dir/current`, with 410 Gone for withdrawn pages."""

    def __init__(self, releases_dir: Path) -> None:
        self.current = releases_dir / "current"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        response = self.respond(request.path_params["path"], request.headers)
        await response(scope, receive, send)

    def respond(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        try:
            release = self.current.resolve(strict=True)
        except OSError:
            return PlainTextResponse("no release of the site has been published yet", 404)
        relative = path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        target = _inside(release, relative)
        if relative in _gone(release):
            if target is not None and target.is_file():
                return HTMLResponse(target.read_bytes(), status_code=410)
            return PlainTextResponse("停止公示 / no longer public", status_code=410)
        if target is not None and target.is_dir():
            target, relative = target / "index.html", f"{relative.rstrip('/')}/index.html"
        listed = _listing(release)
        if listed is not None and relative not in listed:
            target = None  # in the folder but not published (a file copied in): not the site's
        if target is None or not target.is_file():
            return PlainTextResponse("not found", 404)
        response = FileResponse(target, media_type=_media_type(relative), stat_result=target.stat())
        if headers is not None and _not_modified(headers, response.headers):
            kept = {k: response.headers[k] for k in ("etag", "last-modified")}
            return Response(status_code=304, headers=kept)
        return response


# Types the standard table lacks or gets wrong for the release's feeds and bulk files.
_MEDIA_TYPES = {
    ".xml": "application/rss+xml",  # feeds/*.xml are RSS; sitemaps keep application/xml
    ".atom": "application/atom+xml",
    ".gz": "application/gzip",
}


def _media_type(relative: str) -> str | None:
    """The content type of a release file, where the suffix alone does not tell it."""
    suffix = Path(relative).suffix
    if suffix == ".xml" and not relative.startswith("feeds/"):
        return None
    return _MEDIA_TYPES.get(suffix)


def _not_modified(request: Mapping[str, str], response: Mapping[str, str]) -> bool:
    """Whether a conditional GET's validators match the file (RFC 9110 §13.1.1–13.1.3)."""
    tags = request.get("if-none-match")
    if tags is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in wanted or response["etag"] in wanted
    since = request.get("if-modified-since")
    if since is None:
        return False
    try:
        asked = email.utils.parsedate_to_datetime(since)
        modified = email.utils.parsedate_to_datetime(response["last-modified"])
    except (TypeError, ValueError):
        return False
    return modified <= asked


def _inside(release: Path, relative: str) -> Path | None:
    """`relative` inside the release folder, or None when it would lead out of it."""
    if "\x00" in relative:  # no file's name holds NUL, and the file system refuses to look
        return None
    if any(part.startswith(".") for part in Path(relative).parts):
        return None  # a publish writes no dotfile: one in a release (.git, .env) is not the site's
    candidate = (release / relative).resolve()
    return candidate if candidate.is_relative_to(release) else None


@functools.lru_cache(maxsize=8)
def _listing(release: Path) -> listing.Listing | None:
    """The files a release publishes (releases never change once published)."""
    return listing.open_listing(release)


@functools.lru_cache(maxsize=8)
def _gone(release: Path) -> frozenset[str]:
    """The withdrawn pages of a release (releases never change once published)."""
    try:
        lines = (release / "gone.txt").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip().lstrip("/") for line in lines if line.strip())
