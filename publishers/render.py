"""Rendering pages from templates: pure functions from a context to text, no file access but the
templates themselves."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

STATIC_SITE = Path(__file__).resolve().parent.parent / "static_site"
TEMPLATES = STATIC_SITE / "templates"
ASSETS = STATIC_SITE / "assets"


def yuan(wan: str | Decimal | None) -> str:
    """An amount in 万元 as the template shows it, with its value in 元 beside it."""
    if wan is None or wan == "":
        return ""
    amount = Decimal(str(wan))
    in_yuan = (amount * 10_000).quantize(Decimal("0.01"))
    return f"{amount.normalize():f} 万元（{in_yuan:,} 元）"


def zh_date(value: str | dt.date | None) -> str:
    """A date as 2026年6月1日; None as empty text."""
    if value is None or value == "":
        return ""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    return f"{day.year}年{day.month}月{day.day}日"


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: autoescaped HTML, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["yuan"] = yuan
    env.filters["zh_date"] = zh_date
    return env


def render_page(name: str, **context: Any) -> str:
    """The text of template `name` rendered with `context`."""
    return environment().get_template(name).render(**context)


@functools.cache
def templates_digest() -> str:
    """A digest of every template and asset: when it changes, every page is rendered again."""
    digest = hashlib.sha256()
    for folder in (TEMPLATES, ASSETS):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(STATIC_SITE)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
