"""A node serving the API, the site and the portal, and the steps of a portal visit."""

from __future__ import annotations

import re

import httpx2
import sqlalchemy as sa
from sqlmodel import Session
from starlette.testclient import TestClient

from api import app as api_app
from disclosure import accounts, models, settings
from disclosure import portal_models as pm
from gongshi import serving
from portal import app as portal_app
from tests import factories

PASSWORD = "长城-Great-Wall-2026"
ON = factories.DEFAULT_ON


def node(app_settings: settings.Settings, engine: sa.Engine) -> object:
    """The application `gongshi serve` runs, on `engine`, as of ON."""
    return serving.compose(
        api_app.create_app(app_settings, engine, as_of=ON),
        portal_app.create_app(app_settings, engine, as_of=ON),
    )


def client(app_settings: settings.Settings, engine: sa.Engine) -> TestClient:
    return TestClient(node(app_settings, engine))  # type: ignore[arg-type]


def account(
    session: Session,
    unit: models.Department,
    login: str,
    role: models.Role = models.Role.DEPARTMENT,
) -> pm.Account:
    """An account of `unit` whose password is PASSWORD; committed."""
    created, _secret = accounts.create(
        session, unit_code=unit.credit_code, role=role, name=login, login=login
    )
    accounts.set_password(session, created, PASSWORD, PASSWORD)
    session.commit()
    return created


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(web: TestClient, login: str, password: str = PASSWORD) -> httpx2.Response:
    """Sign in through the login form; returns the POST's response (not followed)."""
    page = web.get("/portal/login")
    return web.post(
        "/portal/login",
        data={"csrf": csrf(page.text), "login": login, "password": password},
        follow_redirects=False,
    )
