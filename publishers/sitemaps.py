"""sitemap.xml (an index of parts past the per-file URL limit) and robots.txt."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from disclosure import urls

LIMIT = 50_000  # URLs per sitemap file (sitemaps.org)

Entry = tuple[str, str | None]  # site path, lastmod (ISO date) or None


def _urlset(links: urls.Urls, entries: Sequence[Entry]) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for path, lastmod in entries:
        loc = escape(links(path))
        stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        lines.append(f"<url><loc>{loc}</loc>{stamp}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def render_sitemaps(
    links: urls.Urls, entries: Sequence[Entry], limit: int = LIMIT
) -> dict[str, str]:
    """Site path → text of the sitemap files: one urlset, or an index and its parts."""
    ordered = sorted(entries)
    if len(ordered) <= limit:
        return {urls.SITEMAP: _urlset(links, ordered)}
    files: dict[str, str] = {}
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for number, start in enumerate(range(0, len(ordered), limit), start=1):
        part = ordered[start : start + limit]
        path = urls.sitemap_part_path(number)
        files[path] = _urlset(links, part)
        stamps = [lastmod for _, lastmod in part if lastmod]
        stamp = f"<lastmod>{max(stamps)}</lastmod>" if stamps else ""
        lines.append(f"<sitemap><loc>{escape(links(path))}</loc>{stamp}</sitemap>")
    lines.append("</sitemapindex>")
    files[urls.SITEMAP] = "\n".join(lines) + "\n"
    return files


def render_robots(links: urls.Urls) -> str:
    """robots.txt: everything may be crawled; the sitemap is named."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {links(urls.SITEMAP)}\n"
