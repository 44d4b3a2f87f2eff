"""The published site of an API node: the current release, with 410 Gone for withdrawn pages."""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from disclosure import listing, urls


class Site(StaticFiles):
    """The published release under `releases_dir/current`, as Starlette serves static files
    (ETags and 304, HEAD), with 410 Gone and the tombstone page for the paths of the release's
    `gone.txt`, and only the files its listing publishes."""

    def __init__(self, releases_dir: Path) -> None:
        self.current = releases_dir / urls.CURRENT
        super().__init__(directory=self.current, check_dir=False)

    async def check_config(self) -> None:
        """Nothing to check: a node serves before its first release (and answers 404)."""

    def get_path(self, scope: Scope) -> str:
        """The path as the route matched it: a trailing slash asks for the folder's index."""
        return str(scope["path_params"]["path"])

    async def get_response(self, path: str, scope: Scope) -> Response:
        return self.respond(path, Headers(scope=scope))

    def respond(self, path: str, headers: Headers | None = None) -> Response:
        """The response to a GET or HEAD of `path`, with the request's `headers`."""
        try:
            # resolved once: a publish may switch `current` while the request is answered
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
        if headers is not None and self.is_not_modified(response.headers, headers):
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
    if suffix == ".xml" and not relative.startswith(urls.FEEDS):
        return None
    return _MEDIA_TYPES.get(suffix)


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
        lines = (release / urls.GONE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip().lstrip("/") for line in lines if line.strip())
