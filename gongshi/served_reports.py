"""`gongshi serve`'s credit reports: /reports/<key>.pdf (a subject's 公共信用信息报告 of today, made
from the database and cached by the data version and the day, with an entity tag for 304s) and
/reports/verify/<code> (whether a report still matches the records of its day: an HTML page for
a browser, plain text for curl)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html

import anyio.to_thread
import sqlalchemy as sa
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from api import cache
from api import standing as api_standing
from disclosure import lifecycle, privacy, report_codes, settings, urls
from disclosure.queries import change_log
from gongshi import credit_report, report_pdf

REPORT_PATH = "/" + urls.report_path("{key}")
VERIFY_PATH = "/" + urls.verify_path("{code}")
MEDIA_TYPE = "application/pdf"
CACHE_ENTRIES = 256
CACHE_BYTES = 64 * 1024 * 1024
MAX_AGE = 60  # seconds a client may keep a report before asking again (it may then get a 304)


class ReportRoutes:
    """The credit reports' endpoints over one node's database."""

    def __init__(
        self, app_settings: settings.Settings, engine: sa.Engine, as_of: dt.date | None = None
    ) -> None:
        self.settings = app_settings
        self.engine = engine
        self.as_of = as_of
        self.cache = cache.ResponseCache(CACHE_ENTRIES, CACHE_BYTES)
        self.secret = report_codes.report_key(app_settings)
        # a report takes the better part of a second of CPU (its CJK font subset): one at a time,
        # so that a burst of them cannot take the node's every thread
        self.limiter = anyio.CapacityLimiter(1)

    def routes(self) -> list[Route]:
        """The routes, to come before the site's."""
        return [
            Route(REPORT_PATH, self.report, methods=["GET", "HEAD"]),
            Route(VERIFY_PATH, self.verify, methods=["GET", "HEAD"]),
        ]

    @functools.cached_property
    def rules(self) -> lifecycle.Rules:
        """The publicity rules, read on first use (a mistake in their file answers like any
        other request the node cannot serve)."""
        return lifecycle.load_rules(self.settings.rules_path)

    def _on(self) -> dt.date:
        return self.as_of or settings.today()

    async def report(self, request: Request) -> Response:
        key = request.path_params["key"].strip()
        on = self._on()
        with Session(self.engine) as session:
            version = change_log.last_event_id(session)
        name = hashlib.blake2b(
            f"report\n{key.upper()}\n{on.isoformat()}\n{version}".encode(), digest_size=16
        ).hexdigest()
        entry = self.cache.get(name)
        if entry is None:
            made = await anyio.to_thread.run_sync(self._make, key, on, limiter=self.limiter)
            if isinstance(made, Response):
                return made
            entry = self.cache.put(name, made.pdf)
        headers = {
            "ETag": entry.etag,
            "Cache-Control": f"public, max-age={MAX_AGE}",
            "Content-Disposition": f'inline; filename="{credit_report.filename(key.upper(), on)}"',
        }
        match = request.headers.get("if-none-match")
        if match is not None and (
            entry.etag in [tag.strip() for tag in match.split(",")] or match.strip() == "*"
        ):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else entry.body
        return Response(body, media_type=MEDIA_TYPE, headers=headers)

    def _make(self, key: str, on: dt.date) -> credit_report.Made | Response:
        try:
            with Session(self.engine) as session:
                made = credit_report.make(
                    session,
                    key,
                    on,
                    rules=self.rules,
                    catalogue=api_standing.catalogue(self.settings, session),
                    secret=self.secret,
                    links=self.settings.urls,
                )
        except report_pdf.FontMissing as error:
            return PlainTextResponse(str(error), status_code=503)
        if made is None:
            return PlainTextResponse(credit_report.not_found(key, on), status_code=404)
        return made

    async def verify(self, request: Request) -> Response:
        code = request.path_params["code"]
        wants = request.query_params.get("format")
        browser = wants == "html" or (wants != "text" and "text/html" in _accept(request))
        answer = await anyio.to_thread.run_sync(self._verify, code)
        headers = {"Cache-Control": "no-cache", "Vary": "Accept"}
        status = 404 if answer is None else 200
        if browser:
            page = verify_page(answer, code, self.settings.urls)
            return HTMLResponse(page, status_code=status, headers=headers)
        return PlainTextResponse(verify_text(answer), status_code=status, headers=headers)

    def _verify(self, code: str) -> Answer | None:
        with Session(self.engine) as session:
            try:
                found = report_codes.verify(
                    session,
                    code,
                    self.secret,
                    rules=self.rules,
                    catalogue=api_standing.catalogue(self.settings, session),
                )
            except report_codes.ForgedCode:
                return None
        # a subject none of whose records of that day is still public is named by its key only
        return Answer(found, found.content.subject.name if found.content is not None else None)


def _accept(request: Request) -> str:
    return request.headers.get("accept", "")


class Answer:
    """What the verification page says: the check, and the subject's name where it may be shown."""

    def __init__(self, verification: report_codes.Verification, name: str | None) -> None:
        self.verification = verification
        self.name = name

    @property
    def subject(self) -> str:
        key = self.verification.code.key
        return f"{self.name}（{key}）" if self.name else key


REFUSED = (
    "REFUSED / 无效：此验证码不是本平台出具的报告验证码 / this is not the verification code of a "
    "report this platform issued"
)


def verify_text(answer: Answer | None) -> str:
    """The plain answer: its first line MATCHES, NO LONGER MATCHES or REFUSED, then why."""
    if answer is None:
        return REFUSED + "\n"
    found = answer.verification
    on = found.code.on
    if found.matches:
        content = found.content
        assert content is not None
        return (
            f"MATCHES / 一致：{answer.subject} {on} 的信用报告与该日的公示记录一致"
            f"（{content.record_count} 条记录，{len(content.measures)} 项联合奖惩措施）\n"
            f"the credit report of {found.code.key} on {on} matches the records of that day\n"
        )
    lines = [
        f"NO LONGER MATCHES / 不再一致：{answer.subject} {on} 的信用报告与该日的记录已不一致",
        f"the credit report of {found.code.key} on {on} no longer matches the records of that day",
    ]
    if found.changes:
        lines.append("原因 / because:")
        lines += [f"- {change.describe()}" for change in found.changes]
    else:
        lines.append(
            "原因 / because: 该日的记录或适用的规则此后有变化 / the records of that day, or the "
            "rules applied to them, have changed since"
        )
    return "\n".join(lines) + "\n"


def verify_page(answer: Answer | None, code: str, links: urls.Urls) -> str:
    """The HTML page of an answer (zh-CN), with the plain answer's words."""
    text = verify_text(answer)
    first, *rest = text.rstrip("\n").split("\n")
    state = "refused" if answer is None else "match" if answer.verification.matches else "stale"
    items = "".join(f"<li>{html.escape(line.removeprefix('- '))}</li>" for line in rest)
    fresh = ""
    if answer is not None:
        key = answer.verification.code.key
        link = links.report(key)
        fresh = f'<p><a href="{html.escape(link)}">今日的信用报告 / today\'s report</a></p>'
    shown = html.escape(privacy.scrub(code, person=True) or "")
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>信用报告核验</title>"
        "<style>body{font-family:sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}"
        ".match{color:#1a7f37}.stale,.refused{color:#b42318}code{word-break:break-all}</style>"
        "</head><body><h1>信用报告核验</h1>"
        f"<p>验证码 <code>{shown}</code></p>"
        f'<p class="{state}"><strong>{html.escape(first)}</strong></p>'
        f"<ul>{items}</ul>{fresh}"
        f'<p><a href="{html.escape(links.base)}">公示网站</a></p></body></html>\n'
    )
