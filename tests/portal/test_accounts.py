"""`gongshi user create` and the one-time link where the account's password is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from disclosure import accounts, db, models, settings
from disclosure import portal_models as pm
from gongshi import cli
from tests import conftest, factories
from tests.portal import helpers


def test_user_create_prints_a_link_that_sets_the_password_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = conftest.cli_runner(tmp_path, monkeypatch)
    monkeypatch.setenv("GONGSHI_ID_KEY", factories.ID_KEY_TEXT)
    assert runner.invoke(cli.main, ["init"]).exit_code == 0
    env = settings.Settings.from_env(
        {
            "GONGSHI_ID_KEY": factories.ID_KEY_TEXT,
            **({"DATABASE_URL": conftest.POSTGRES_URL} if conftest.POSTGRES_URL else {}),
        },
        cwd=tmp_path,
    )
    engine = db.create_engine(env.database_url)
    with Session(engine) as session:
        unit = factories.add_department(session)
        session.commit()
        code = unit.credit_code
    created = runner.invoke(
        cli.main, ["user", "create", "--unit", code, "--role", "department", "--name", "王芳"]
    )
    assert created.exit_code == 0, created.output
    link = created.output.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/portal/password/")
    again = runner.invoke(cli.main, ["user", "create", "--unit", code, "--name", "王芳"])
    assert again.exit_code == 1 and "登录名 王芳 已被使用" in again.output
    unknown = runner.invoke(cli.main, ["user", "create", "--unit", "X" * 18, "--name", "李四"])
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output

    web = helpers.client(env, engine)
    path = link.removeprefix("http://127.0.0.1:8000")
    form = web.get(path)
    assert "王芳，请设置您的登录密码" in form.text
    short = web.post(path, data={"csrf": helpers.csrf(form.text), "password": "短", "repeat": "短"})
    assert short.status_code == 400 and "密码至少 12 个字符" in short.text
    done = web.post(
        path,
        data={
            "csrf": helpers.csrf(form.text),
            "password": helpers.PASSWORD,
            "repeat": helpers.PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.headers["location"] == "/portal/login"
    assert web.get(path).status_code == 404  # spent
    assert helpers.sign_in(web, "王芳").headers["location"] == "/portal/"
    with Session(engine) as session:
        account = session.exec(select(pm.Account)).one()
        assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
        assert helpers.PASSWORD not in repr(account)
        assert account.role is models.Role.DEPARTMENT
    audited = runner.invoke(cli.main, ["audit", "--since", "2000-01-01"])
    assert (
        "user=1\tportal.password_set" in audited.output and "user=1\tportal.login" in audited.output
    )
    engine.dispose()
    assert accounts.PASSWORD_MIN == 12
