"""The portal's application, mounted under /portal/ by `gongshi serve`."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from disclosure import settings
from portal import bureau, desk, public, queue, signing, web

ASSETS = Path(__file__).with_name("assets")
PREFIX = "/portal"
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Every portal response: no framing, no sniffing, no caching, scripts from nowhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(
    app_settings: settings.Settings, engine: sa.Engine, *, as_of: dt.date | None = None
) -> Starlette:
    """The portal; its paths begin with /portal/ (the caller routes them here)."""
    portal = web.Portal(app_settings, engine, as_of)

    def bound(
        handler: Callable[[web.Portal, Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        return functools.partial(handler, portal)

    routes = [
        Route(PREFIX + "/", bound(desk.home), methods=["GET"]),
        Route(PREFIX + "/login", bound(signing.login), methods=["GET", "POST"]),
        Route(PREFIX + "/logout", bound(signing.logout), methods=["POST"]),
        Route(PREFIX + "/password/{secret}", bound(signing.password), methods=["GET", "POST"]),
        Route(PREFIX + "/upload", bound(desk.upload), methods=["POST"]),
        Route(PREFIX + "/rejects/{token}/{name}", bound(desk.rejects), methods=["GET"]),
        Route(
            PREFIX + "/records/{kind}/{record_id:int}/withdraw",
            bound(desk.withdraw),
            methods=["GET", "POST"],
        ),
        Route(PREFIX + "/{what:str}/{item_id:int}/decide", bound(queue.decide), methods=["POST"]),
        Route(PREFIX + "/objections/{item_id:int}/correct", bound(queue.correct), methods=["POST"]),
        Route(PREFIX + "/queue.csv", bound(queue.export), methods=["GET"]),
        Route(
            PREFIX + "/attachments/{attachment_id:int}", bound(queue.attachment), methods=["GET"]
        ),
        Route(PREFIX + "/bureau", bound(bureau.home), methods=["GET"]),
        Route(
            PREFIX + "/apply/{kind}/{record_id:int}", bound(public.apply), methods=["GET", "POST"]
        ),
        Route(PREFIX + "/report", bound(public.report), methods=["GET", "POST"]),
        Route(PREFIX + "/track", bound(public.track), methods=["GET"]),
        Route(PREFIX + "/track/{number}", bound(public.track), methods=["GET"]),
        Mount(PREFIX + "/assets", StaticFiles(directory=ASSETS), name="assets"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
