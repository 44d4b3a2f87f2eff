"""Where things live on the public site: the one place URLs are built, for pages, the API's
record links, feeds and bulk files alike. Paths are relative to the site's base URL."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urljoin, urlsplit

from disclosure import models, privacy

KIND_FOLDERS = {
    models.RecordKind.LICENSE: "licenses",
    models.RecordKind.PENALTY: "penalties",
    models.RecordKind.LIST_ENTRY: "list-entries",
}


def record_path(kind: models.RecordKind, record_id: int) -> str:
    """A record's page: records/<kind>/<id>.html (stays, as a tombstone, once it is withdrawn)."""
    return f"records/{KIND_FOLDERS[kind]}/{record_id}.html"


def kind_path(kind: models.RecordKind, page: int = 1) -> str:
    """The newest-first list of one kind, page by page."""
    return paged(f"{KIND_FOLDERS[kind]}/index.html", page)


def subject_path(subject: models.Subject) -> str:
    """A subject's page, by credit code (never by a person's identity number)."""
    return subject_key_path(privacy.subject_key(subject))


def department_path(credit_code: str) -> str:
    """A department's page, by its credit code."""
    return f"departments/{credit_code}.html"


def list_path(code: str) -> str:
    """A named list's page: its active entries and exit announcements."""
    return f"lists/{code}.html"


# a relative path whose segments are plain names (no "." or "..", query or fragment): joined to
# a base URL ending with a slash, it is simply appended (what urljoin does, at a tenth the cost:
# a sitemap of 100,000 records joins that many)
_PLAIN_PATH = re.compile(r"(?:[\w-][\w.-]*/)*(?:[\w-][\w.-]*)?")


def application_path(kind: models.RecordKind, record_id: int, application: str) -> str:
    """The portal's form of an objection or repair application about a record (served by
    `gongshi serve` beside the site, at the same base URL)."""
    return f"portal/apply/{kind.value}/{record_id}?type={application}"


def subject_key_path(key: str) -> str:
    """A subject's page by its public key (what `privacy.SubjectPublic.key` holds)."""
    return f"subjects/{key}.html"


# Pages of the static site besides records, kinds, subjects, departments and lists.
HOME = "index.html"
SEARCH = "search/index.html"
SEARCH_BUNDLE = "search/pagefind/"  # Pagefind's indexes (one per bundle) and scripts
SEARCH_BUNDLES = "search/pagefind/bundles.json"  # the bundles the search page searches
OPEN_DATA = "open-data.html"
RULES = "rules.html"
MEASURES = "measures.html"  # 措施清单
DEPARTMENTS = "departments/index.html"
LISTS = "lists/index.html"
CATEGORIES = "categories/index.html"
ROBOTS = "robots.txt"
SITEMAP = "sitemap.xml"
GONE = "gone.txt"  # URL paths that answer 410 Gone with their tombstone page
CURRENT = "current"  # beside the releases: the link to the release being served
API = "graphql"
PORTAL = "portal/"  # served by `gongshi serve` beside the site, at the same base URL


def report_path(key: str) -> str:
    """A subject's credit report (served by `gongshi serve`, made on the day it is asked for)."""
    return f"reports/{key}.pdf"


def verify_path(code: str) -> str:
    """Where a credit report's verification code is checked (served by `gongshi serve`)."""
    return f"reports/verify/{code}"


def paged(path: str, page: int) -> str:
    """Page `page` of the paginated list whose first page is `path` (`x/index.html` or
    `x.html`): later pages are `x/<page>.html`."""
    if page == 1:
        return path
    stem = path.removesuffix(".html").removesuffix("/index")
    return f"{stem}/{page}.html"


def category_path(kind: models.RecordKind, category: str) -> str:
    """The list of one kind's records in one category (许可类别, or one 处罚类别 label)."""
    return f"categories/{KIND_FOLDERS[kind]}/{category}.html"


def search_bundle_path(name: str) -> str:
    """The folder of one search index bundle (Pagefind's output for some record pages)."""
    return f"{SEARCH_BUNDLE}{name}/"


def sitemap_part_path(number: int) -> str:
    """One file of a sitemap split past its URL limit."""
    return f"sitemap-{number}.xml"


# Feeds (RSS 2.0 as .xml, Atom as .atom) and bulk data files.
FEEDS = "feeds/"
FEED_FORMATS = {"rss": "xml", "atom": "atom"}
DATA = "data/"
DATAPACKAGE = "data/datapackage.json"
CHECKSUMS = "data/SHA256SUMS"
RELEASES = "data/releases.json"


def feed_path(name: str, fmt: str) -> str:
    """A feed: `name` is all, exits, withdrawals, repairs, a kind folder, departments/<code>,
    lists/<code> or list-kinds/<kind>; `fmt` is rss or atom."""
    return f"{FEEDS}{name}.{FEED_FORMATS[fmt]}"


def data_path(kind: models.RecordKind, suffix: str) -> str:
    """A bulk file of one record kind: `suffix` is csv.gz or jsonl.gz."""
    return f"{DATA}{KIND_FOLDERS[kind]}.{suffix}"


def changes_path(release_id: str) -> str:
    """The changes (ADD/MOD/DEL) of release `release_id` since the one before it."""
    return f"{DATA}changes-{release_id}.jsonl.gz"


@dataclasses.dataclass(frozen=True)
class Urls:
    """The site at one base URL: every absolute address a caller needs, so that none of them
    joins the base URL itself."""

    base: str

    def __post_init__(self) -> None:
        if not self.base.endswith("/"):
            object.__setattr__(self, "base", self.base + "/")

    @property
    def path(self) -> str:
        """Where the site sits on its host: `/`, or the base's path (`/credit/`)."""
        return urlsplit(self.base).path or "/"

    def __call__(self, path: str) -> str:
        """Any path of the site (one of this module's paths or constants), made absolute."""
        plain_base = "?" not in self.base and "#" not in self.base
        if plain_base and _PLAIN_PATH.fullmatch(path):
            return self.base + path
        return urljoin(self.base, path)

    def record(self, kind: models.RecordKind, record_id: int) -> str:
        return self(record_path(kind, record_id))

    def subject(self, key: str) -> str:
        return self(subject_key_path(key))

    def feed(self, name: str, fmt: str) -> str:
        return self(feed_path(name, fmt))

    def report(self, key: str) -> str:
        return self(report_path(key))

    def verify(self, code: str) -> str:
        return self(verify_path(code))

    def portal(self, path: str = "") -> str:
        return self(PORTAL + path)
