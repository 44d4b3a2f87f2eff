"""The site's pages that show no records: search, open data and the publicity rules, each as
(path, template, context)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from disclosure import lifecycle, urls
from publishers import bulk, page_data, records

StaticPage = tuple[str, str, dict[str, Any]]


def search_feed_url(links: urls.Urls) -> str:
    """The serving node's feed of any search (`/feeds/search.atom?q=…`, answered by `gongshi
    serve` at the site's address), without a query yet: the search page adds it."""
    return links.feed("search", "atom")


def static_pages(
    on: dt.date, links: urls.Urls, rules: lifecycle.Rules, catalogue: Sequence[dict[str, str]]
) -> Iterator[StaticPage]:
    """The search, open-data and rules pages; `catalogue` lists the bulk files."""
    yield (
        urls.SEARCH,
        "search.html",
        records.page_context(
            urls.SEARCH,
            "搜索",
            links,
            base_path=links.path,
            search_feed=search_feed_url(links),
        ),
    )
    yield (
        urls.OPEN_DATA,
        "open_data.html",
        records.page_context(
            urls.OPEN_DATA,
            "开放数据",
            links,
            api_url=links(urls.API),
            catalogue=list(catalogue),
            license=bulk.DATA_LICENSE,
            plain_limit_mb=bulk.PLAIN_CSV_LIMIT // 2**20,
            page_license=page_data.LICENSE,
            example=page_data.path_for(urls.kind_path(next(iter(urls.KIND_FOLDERS))), "csv"),
        ),
    )
    in_force = [
        {
            "severity": rule.severity.zh,
            "published": "是" if rule.published_by_default else "仅在处罚机关确定公示期限时",
            "min_months": rule.min_months,
            "max_months": rule.max_months,
            "source": rule.source,
        }
        for rule in sorted(rules.rules, key=lambda r: (r.effective_on, r.min_months))
        if rule.effective_on <= on or rule is rules.rule_for(rule.severity, on)
    ]
    yield (
        urls.RULES,
        "rules.html",
        records.page_context(urls.RULES, "公示与信用修复规则", links, rules=in_force),
    )
