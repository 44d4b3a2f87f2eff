"""Settings: the only place that reads the environment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from disclosure import db, idkey, urls

TIMEZONE = ZoneInfo("Asia/Shanghai")
SearchBackend = Literal["whoosh", "database"]
SEARCH_BACKENDS: tuple[SearchBackend, ...] = ("whoosh", "database")


DEFAULT_PORT = 8000  # of `gongshi serve` and `gongshi demo`


class SettingsError(ValueError):
    """A setting is present but unusable."""


ID_KEY_FILE = "id.key"  # under GONGSHI_DATA_DIR: the identity-number key, when not in the env


def local_base_url(port: int) -> str:
    """The address of a node serving the site on this machine's `port`."""
    return f"http://127.0.0.1:{port}/"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where gongshi keeps its data and which rules it applies."""

    database_url: str
    data_dir: Path
    rules_path: Path | None = None
    holidays_path: Path | None = None
    measures_path: Path | None = None  # the measures list (TOML or CSV), extending the built-in
    site_dir: Path | None = None  # where releases are published; `current` points at the live one
    base_url: str = local_base_url(DEFAULT_PORT)  # the public site's address, for every output
    # whether GONGSHI_BASE_URL gave base_url: a publish for the public must not use the default
    base_url_given: bool = False
    # the API's per-client rate limit (cost units); None: the API's default
    rate_bucket: int | None = None
    rate_leak: float | None = None  # cost units a second
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For is believed
    # the secret that keys identity-number digests (GONGSHI_ID_KEY, else DATA_DIR/id.key); never
    # in the database, so that a copy of it cannot be matched back to the numbers
    id_key: idkey.IdKey | None = dataclasses.field(default=None, repr=False)
    id_key_in_env: bool = False  # GONGSHI_ID_KEY gave id_key: a rotation cannot write it there
    # the key signing the portal's cookies and forms (GONGSHI_PORTAL_KEY, else DATA_DIR/portal.key)
    portal_key: bytes | None = dataclasses.field(default=None, repr=False)
    # the key of the credit reports' verification codes (GONGSHI_REPORT_KEY, else
    # DATA_DIR/report.key): every node that verifies them needs the one that issued them
    report_key: bytes | None = dataclasses.field(default=None, repr=False)
    # where the API searches (GONGSHI_SEARCH): this node's whoosh index folder, or the
    # database's search rows, written with the data
    search: SearchBackend = "whoosh"

    @functools.cached_property
    def urls(self) -> urls.Urls:
        """The public site's addresses, at `base_url`."""
        return urls.Urls(self.base_url)

    @property
    def id_key_file(self) -> Path:
        """Where `gongshi init` keeps the identity-number key when GONGSHI_ID_KEY is not set."""
        return self.data_dir / ID_KEY_FILE

    @property
    def index_dir(self) -> Path:
        """The whoosh index folder of this node."""
        return self.data_dir / "index"

    @property
    def releases_dir(self) -> Path:
        """The folder of published releases (`gongshi publish --out`, served by `gongshi serve`)."""
        return self.site_dir if self.site_dir is not None else self.data_dir / "site"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """Settings from `GONGSHI_*` / `DATABASE_URL` variables, defaulting to files under cwd."""
        base = cwd if cwd is not None else Path.cwd()
        data_dir = Path(environ.get("GONGSHI_DATA_DIR", str(base / "var")))
        given_url = environ.get("DATABASE_URL")
        url = given_url or f"sqlite:///{data_dir / 'gongshi.db'}"
        if "://" not in url:
            raise SettingsError(f"DATABASE_URL is not a database URL: {url!r}")
        if reason := db.unsupported(url):
            raise SettingsError(f"DATABASE_URL {reason}")
        sqlite_file = db.sqlite_file(url)
        # only the default folder is made for the database: a named one must exist, or a typo
        # in DATABASE_URL would start a new empty database beside the real one
        if given_url and sqlite_file is not None and not sqlite_file.parent.exists():
            raise SettingsError(
                f"DATABASE_URL names a SQLite file in a folder that does not exist: "
                f"{sqlite_file.parent}"
            )
        base_url = environ.get("GONGSHI_BASE_URL") or cls.base_url
        if not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"GONGSHI_BASE_URL is not an http(s) URL: {base_url!r}")
        site = environ.get("GONGSHI_SITE_DIR")
        return cls(
            database_url=url,
            data_dir=data_dir,
            rules_path=_optional_file(environ, "GONGSHI_RULES_FILE"),
            holidays_path=_optional_file(environ, "GONGSHI_HOLIDAYS_FILE"),
            measures_path=_optional_file(environ, "GONGSHI_MEASURES_FILE"),
            site_dir=Path(site) if site else None,
            base_url=urls.Urls(base_url).base,
            base_url_given=bool(environ.get("GONGSHI_BASE_URL")),
            rate_bucket=_positive(environ, "GONGSHI_RATE_BUCKET", int),
            rate_leak=_positive(environ, "GONGSHI_RATE_LEAK", float),
            trusted_proxies=_networks(environ, "GONGSHI_TRUSTED_PROXIES"),
            id_key=_id_key(environ, data_dir / ID_KEY_FILE),
            id_key_in_env=bool(environ.get("GONGSHI_ID_KEY")),
            portal_key=(
                _secret_text(environ["GONGSHI_PORTAL_KEY"], "GONGSHI_PORTAL_KEY")
                if environ.get("GONGSHI_PORTAL_KEY")
                else None
            ),
            report_key=(
                _secret_text(environ["GONGSHI_REPORT_KEY"], "GONGSHI_REPORT_KEY")
                if environ.get("GONGSHI_REPORT_KEY")
                else None
            ),
            search=_search(environ),
        )


def _search(environ: Mapping[str, str]) -> SearchBackend:
    value = environ.get("GONGSHI_SEARCH", "whoosh")
    if value not in SEARCH_BACKENDS:
        raise SettingsError(
            f"GONGSHI_SEARCH is {value!r}: it must be one of {', '.join(SEARCH_BACKENDS)}"
        )
    return value


def _key_text(text: str, origin: str) -> idkey.IdKey:
    try:
        return idkey.IdKey.parse(text, origin)
    except idkey.IdKeyError as error:
        raise SettingsError(str(error)) from None


def _secret_text(text: str, origin: str) -> bytes:
    """One secret of at least 32 bytes, in hex (a key that is not a chain)."""
    key = _key_text(text, origin)
    if len(key.secrets) > 1:
        raise SettingsError(f"{origin} is one secret, not a list of them")
    return key.secrets[0]


def _id_key(environ: Mapping[str, str], path: Path) -> idkey.IdKey | None:
    """GONGSHI_ID_KEY when set (it wins: a deployment keeps its key in a secret store), else the
    key file `gongshi init` writes, else None."""
    value = environ.get("GONGSHI_ID_KEY")
    if value:
        return _key_text(value, "GONGSHI_ID_KEY")
    if not path.is_file():
        return None
    return _key_text(path.read_text(encoding="ascii", errors="replace"), str(path))


def create_id_key(settings: Settings) -> idkey.IdKey:
    """The settings' identity-number key; when there is none, a new one written to
    DATA_DIR/id.key, readable by its owner only."""
    if settings.id_key is not None:
        return settings.id_key
    key = idkey.IdKey.new()
    idkey.write_new(settings.id_key_file, key)
    return key


N = TypeVar("N", int, float)


def _positive(environ: Mapping[str, str], name: str, kind: type[N]) -> N | None:
    value = environ.get(name)
    if not value:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = kind(0)
    if number <= 0:
        raise SettingsError(f"{name} is not a positive {kind.__name__}: {value!r}")
    return number


def _networks(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    proxies = tuple(part.strip() for part in environ.get(name, "").split(",") if part.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as error:
            raise SettingsError(
                f"{name} holds what is not an address or network: {proxy!r}"
            ) from error
    return proxies


def _optional_file(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise SettingsError(f"{name} names a file that does not exist: {value}")
    return path


def today() -> dt.date:
    """Today's date in Asia/Shanghai, the default `as of` of every date-dependent step."""
    return dt.datetime.now(TIMEZONE).date()


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)
