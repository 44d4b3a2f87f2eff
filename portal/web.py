"""What every page of the portal shares: templates, the signed-in account, CSRF, audit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from disclosure import (
    accounts,
    audit,
    db,
    lifecycle,
    models,
    settings,
    workdays,
    workflows,
)
from disclosure import portal_models as pm
from portal import auth

TEMPLATES = Path(__file__).with_name("templates")
MAX_FORM_BYTES = 12 * 1024 * 1024  # attachments are 5 MB each at most; uploads of templates too


def zh_date(value: dt.date | None) -> str:
    """A date as the pages show it: 2026年6月1日."""
    return "" if value is None else f"{value.year}年{value.month}月{value.day}日"


def zh_time(value: dt.datetime) -> str:
    """An instant in Beijing time, to the minute."""
    local = value.astimezone(settings.TIMEZONE)
    return f"{zh_date(local.date())} {local:%H:%M}（北京时间）"


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["zh_date"] = zh_date
ENVIRONMENT.globals["KIND_ZH"] = {kind.value: kind.zh for kind in models.RecordKind}


@dataclasses.dataclass
class Visitor:
    """Who the request comes from: an account's session, or an anonymous visitor."""

    account: pm.Account | None = None
    session: pm.PortalSession | None = None
    unit: models.Department | None = None
    bound_to: str | None = None  # the session or visitor id the CSRF token is bound to
    new_visitor: str | None = None  # a visitor id to set in a cookie with the response


class Portal:
    """The portal's settings, engine and cookies, and the helpers its pages use."""

    def __init__(
        self, app_settings: settings.Settings, engine: sa.Engine, as_of: dt.date | None
    ) -> None:
        self.settings = app_settings
        self.engine = engine
        self.as_of = as_of
        self.cookies = auth.Cookies(auth.portal_key(app_settings))
        self.rules = lifecycle.load_rules(app_settings.rules_path)
        self.calendar = workdays.Calendar.load(app_settings.holidays_path)

    def today(self) -> dt.date:
        return self.as_of or settings.today()

    def now(self) -> dt.datetime:
        return settings.utcnow()

    def ctx(self, actor: str) -> workflows.Context:
        return workflows.Context(
            actor=actor,
            on=self.today(),
            rules=self.rules,
            calendar=self.calendar,
            id_key=self.settings.id_key,
        )

    def address(self, request: Request) -> str:
        """The client's address, keyed: what the tables keep of it."""
        raw = auth.client_address(request, self.settings.trusted_proxies)
        return accounts.address_key(raw, self.cookies.key)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One all-or-nothing transaction as the one writer."""
        with db.transaction(self.engine) as session:
            db.lock_for_writing(session)
            yield session

    async def visitor(self, request: Request) -> Visitor:
        """The account signed in by the request's cookie, or an anonymous visitor (looked up in
        a worker thread: the node's event loop serves the API too)."""
        return await run_in_threadpool(self._visitor, request)

    def _visitor(self, request: Request) -> Visitor:
        secret = self.cookies.session_secret(request)
        if secret is not None:
            with Session(self.engine, expire_on_commit=False) as session:
                found = accounts.current(session, secret, self.now())
                if found is not None:
                    row, account = found
                    unit = accounts.unit_of(session, account)
                    return Visitor(account, row, unit, bound_to=secret)
        visitor = self.cookies.visitor(request)
        if visitor is None:
            new = accounts.digest(secrets.token_urlsafe(24))
            return Visitor(bound_to=new, new_visitor=new)
        return Visitor(bound_to=visitor)

    def page(
        self,
        request: Request,
        visitor: Visitor,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A rendered page with the visitor's CSRF token in every form."""
        assert visitor.bound_to is not None
        body = ENVIRONMENT.get_template(template).render(
            csrf=self.cookies.csrf_token(visitor.bound_to),
            account=visitor.account,
            unit=visitor.unit,
            today=self.today(),
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        if visitor.new_visitor is not None:
            self.cookies.set_visitor(response, visitor.new_visitor, request.url.scheme == "https")
        return response

    async def form(self, request: Request, visitor: Visitor) -> FormData | Response:
        """The posted form if it carries this visitor's CSRF token and comes from the portal's
        own pages; else the refusal to answer with."""
        if not auth.same_origin(request):
            return self.refusal(
                request, visitor, "请求来自其他网站，已拒绝 / cross-site request refused"
            )
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return self.refusal(request, visitor, "提交的内容过大 / the request is too large", 413)
        form = await request.form(max_part_size=MAX_FORM_BYTES)
        token = form.get("csrf")
        if not isinstance(token, str) or not self.cookies.csrf_ok(
            visitor.bound_to if visitor.new_visitor is None else None, token
        ):
            return self.refusal(
                request,
                visitor,
                "表单已失效，请返回刷新页面后重新提交 / the form has expired: reload the page and "
                "send it again",
            )
        return form

    def refusal(
        self, request: Request, visitor: Visitor, message: str, status_code: int = 403
    ) -> HTMLResponse:
        return self.page(
            request,
            visitor,
            "message.html",
            status_code=status_code,
            heading="无法办理",
            message=message,
        )

    def audit(
        self,
        session: Session,
        visitor: Visitor | None,
        operation: str,
        outcome: str,
        records: list[tuple[models.RecordKind, int]] | None = None,
        account: pm.Account | None = None,
    ) -> None:
        """Append the action to the audit trail, naming the account and its department."""
        who = account or (visitor.account if visitor else None)
        audit.append(
            session,
            operation=f"portal.{operation}",
            outcome=outcome,
            records=records or [],
            user_id=who.id if who else None,
            unit_id=who.unit_id if who else None,
        )


def redirect(path: str) -> RedirectResponse:
    """See other: after a POST, the browser fetches `path`."""
    return RedirectResponse(path, status_code=303)


def field(form: FormData, name: str) -> str:
    """A text field of the form ('' when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


Handler = Callable[[Portal, Request], Any]


async def threaded(fn: Callable[..., Response], *args: Any) -> Response:
    """Run the database work of a page in a worker thread, off the event loop."""
    return await run_in_threadpool(fn, *args)
