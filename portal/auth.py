"""Who is asking: the signed session cookie, the CSRF token of every form, the client address.

The session cookie is HttpOnly, SameSite=Strict and scoped to the portal's path, so the browser
sends it neither to /graphql nor from another site's page; the API reads bearer tokens only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import itsdangerous
from starlette.requests import Request
from starlette.responses import Response

from disclosure import accounts, secret_files, settings

SESSION_COOKIE = "gongshi_portal"
VISITOR_COOKIE = "gongshi_visitor"  # an anonymous visitor's random id, for its forms' CSRF token
KEY_FILE = "portal.key"  # under GONGSHI_DATA_DIR, when GONGSHI_PORTAL_KEY is not set
PATH = "/portal/"


def portal_key(app_settings: settings.Settings) -> bytes:
    """The key that signs the portal's cookies and CSRF tokens: GONGSHI_PORTAL_KEY, else the key
    file under the data folder, made on first use and readable by its owner only."""
    if app_settings.portal_key is not None:
        return app_settings.portal_key
    return secret_files.read_or_make(app_settings.data_dir / KEY_FILE)


class Cookies:
    """Signing and reading the portal's cookies."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.signer = itsdangerous.TimestampSigner(key, salt="gongshi.portal.session")

    def session_secret(self, request: Request) -> str | None:
        """The session id in the request's cookie, if its signature holds and it is not old."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            max_age = int(accounts.SESSION_VALID.total_seconds())
            return self.signer.unsign(value, max_age=max_age).decode()
        except itsdangerous.BadSignature:
            return None

    def set_session(self, response: Response, secret: str, secure: bool) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.signer.sign(secret).decode(),
            max_age=int(accounts.SESSION_VALID.total_seconds()),
            path=PATH,
            secure=secure,
            httponly=True,
            samesite="strict",
        )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=PATH, httponly=True, samesite="strict")

    def visitor(self, request: Request) -> str | None:
        return request.cookies.get(VISITOR_COOKIE) or None

    def set_visitor(self, response: Response, visitor: str, secure: bool) -> None:
        response.set_cookie(
            VISITOR_COOKIE, visitor, path=PATH, secure=secure, httponly=True, samesite="strict"
        )

    def csrf_token(self, bound_to: str) -> str:
        """The CSRF token of forms shown to the holder of `bound_to` (a session or visitor id)."""
        return hmac.new(self.key, b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, token: str) -> bool:
        return bound_to is not None and hmac.compare_digest(self.csrf_token(bound_to), token)


def client_address(request: Request, trusted_proxies: tuple[str, ...]) -> str:
    """The client's address: the peer, or the last address a trusted proxy forwarded for."""
    peer = request.client.host if request.client else "unknown"
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]
    try:
        trusted = any(ipaddress.ip_address(peer) in network for network in networks)
    except ValueError:
        trusted = False
    forwarded = request.headers.get("x-forwarded-for", "")
    if trusted and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return peer


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from the portal's own pages: an Origin (or, when a
    browser sends none, a Referer) naming another site is refused."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True  # not a browser form on another site: those always send Origin on POST
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own or origin.startswith(own + "/")
