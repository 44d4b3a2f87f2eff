"""Signing in and out, and setting a password from the one-time link."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from disclosure import accounts
from portal import web


def home_of(visitor: web.Visitor) -> str:
    """Where an account's work starts."""
    assert visitor.account is not None
    return "/portal/bureau" if visitor.account.role.value == "operator" else "/portal/"


async def login(portal: web.Portal, request: Request) -> Response:
    visitor = await portal.visitor(request)
    if request.method == "GET":
        if visitor.account is not None:
            return web.redirect(home_of(visitor))
        return portal.page(request, visitor, "login.html", error=None, login="")
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form
    login_name, password = web.field(form, "login"), web.field(form, "password")
    address = portal.address(request)

    def work() -> Response:
        now = portal.now()
        with portal.writing() as session:
            try:
                signed = accounts.sign_in(session, login_name, password, address=address, now=now)
            except accounts.LockedOut as locked:
                portal.audit(session, None, "login", "locked_out")
                error = (
                    f"登录失败次数过多，请于 {web.zh_time(locked.until)}后再试 / too many failed "
                    f"sign-ins: try again after {locked.until:%Y-%m-%d %H:%M} UTC"
                )
                return portal.page(
                    request, visitor, "login.html", status_code=429, error=error, login=login_name
                )
            except accounts.BadCredentials:
                portal.audit(session, None, "login", "bad_credentials")
                error = "登录名或密码不正确 / wrong login or password"
                return portal.page(
                    request, visitor, "login.html", status_code=401, error=error, login=login_name
                )
            portal.audit(session, None, "login", "ok", account=signed.account)
            if visitor.session is not None:  # a session already on: it ends, a new one starts
                accounts.sign_out(session, visitor.session, now)
        response = web.redirect(home_of(web.Visitor(account=signed.account)))
        portal.cookies.set_session(response, signed.secret, request.url.scheme == "https")
        return response

    return await web.threaded(work)


async def logout(portal: web.Portal, request: Request) -> Response:
    visitor = await portal.visitor(request)
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form

    def work() -> Response:
        if visitor.session is not None:
            with portal.writing() as session:
                row = session.merge(visitor.session)
                accounts.sign_out(session, row, portal.now())
                portal.audit(session, visitor, "logout", "ok")
        response = web.redirect("/portal/login")
        portal.cookies.clear_session(response)
        return response

    return await web.threaded(work)


async def password(portal: web.Portal, request: Request) -> Response:
    visitor = await portal.visitor(request)
    secret = request.path_params["secret"]
    with Session(portal.engine) as session:
        account = accounts.setup_account(session, secret, portal.now())
        name = account.name if account is not None else ""
    if account is None:
        return portal.page(
            request,
            visitor,
            "message.html",
            status_code=404,
            heading="链接已失效",
            message="设置密码的链接不存在、已使用或已过期，请联系平台管理员重新生成。",
        )
    if request.method == "GET":
        return portal.page(request, visitor, "password.html", name=name, error=None)
    form = await portal.form(request, visitor)
    if isinstance(form, Response):
        return form

    def work() -> Response:
        with portal.writing() as session:
            found = accounts.setup_account(session, secret, portal.now())
            if found is None:
                return portal.refusal(request, visitor, "链接已失效 / the link has expired", 404)
            try:
                accounts.set_password(
                    session, found, web.field(form, "password"), web.field(form, "repeat")
                )
            except accounts.AccountError as error:
                return portal.page(
                    request, visitor, "password.html", status_code=400, name=name, error=str(error)
                )
            portal.audit(session, None, "password_set", "ok", account=found)
        return web.redirect("/portal/login")

    return await web.threaded(work)
