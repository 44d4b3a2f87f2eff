"""The identity-number key: a copy of the database alone cannot be matched back to numbers;
`gongshi init --rotate-id-key` keys every stored digest again under a new secret, so that a key
that leaked no longer matches, and a rotation killed at any point is finished or started again by
the next run; a node given a key that is not its database's refuses to start."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlmodel import Session
from stdnum.cn import ric

from disclosure import db, idkey, models, privacy, settings
from gongshi import cli
from tests import conftest, factories

NUMBER = "440802198706151236"
WRONG_KEY = idkey.IdKey.of(bytes(32))


def _candidates(masked: str) -> tuple[int, list[str]]:
    """The birth dates 1900–2026 tried, and every valid number with the masked form's region
    and tail born on one of them."""
    region, tail = masked[:6], masked[-4:]
    day, days, found = dt.date(1900, 1, 1), 0, []
    while day <= dt.date(2026, 12, 31):
        days += 1
        number = f"{region}{day:%Y%m%d}{tail}"
        if ric.is_valid(number):
            found.append(number)
        day += dt.timedelta(days=1)
    return days, found


def test_a_copy_of_the_database_cannot_be_matched_back_without_the_key(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    db.upgrade(engine)
    with Session(engine) as session:
        factories.add_subject(
            session,
            models.SubjectCategory.NATURAL_PERSON,
            **privacy.person_identity(NUMBER, factories.ID_KEY),
        )
        session.commit()
    engine.dispose()
    copy = shutil.copy(tmp_path / "gongshi.db", tmp_path / "backup.db")
    with sqlite3.connect(copy) as connection:
        ((masked, digest),) = connection.execute(
            "SELECT id_number_masked, id_number_digest FROM subject"
        ).fetchall()
    days, candidates = _candidates(masked)
    assert days > 46_000 and NUMBER in candidates
    stored = Path(copy).read_bytes()
    assert NUMBER.encode() not in stored and factories.ID_KEY_TEXT.encode() not in stored
    assert not [n for n in candidates if privacy.unkeyed_digest(n) == digest]
    assert not [n for n in candidates if privacy.id_digest(n, WRONG_KEY) == digest]
    assert [n for n in candidates if privacy.id_digest(n, factories.ID_KEY) == digest] == [NUMBER]


def test_the_migration_keys_the_digests_a_database_already_holds(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    command.upgrade(db.alembic_config(engine), "0005")  # as a database of the last release
    with engine.begin() as connection:  # a row of the 0005 schema, in its own SQL
        connection.execute(
            sa.text(
                "INSERT INTO subject (category, name, id_type, id_number_masked, id_number_digest)"
                " VALUES ('natural_person', '陈志强', '身份证', :masked, :digest)"
            ),
            {
                "masked": privacy.mask_id_number(NUMBER),
                "digest": privacy.unkeyed_digest(NUMBER),
            },
        )
    with pytest.raises(privacy.MissingKeyError, match="gongshi init"):
        db.upgrade(engine)
    assert db.upgrade(engine, factories.ID_KEY) == db.head_revision(engine)
    with engine.connect() as connection:
        (digest,) = connection.exec_driver_sql("SELECT id_number_digest FROM subject").one()
    assert digest == privacy.id_digest(NUMBER, factories.ID_KEY)
    engine.dispose()


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    environ = {"DATABASE_URL": "sqlite://", "GONGSHI_DATA_DIR": str(tmp_path)}
    assert settings.Settings.from_env(environ).id_key is None
    made = settings.create_id_key(settings.Settings.from_env(environ))
    key_file = tmp_path / settings.ID_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.Settings.from_env(environ).id_key == made
    # init again keeps the key the digests were made with
    assert settings.create_id_key(settings.Settings.from_env(environ)) == made
    assert key_file.read_text() == made.text()
    other = "ab" * 32
    with_env = environ | {"GONGSHI_ID_KEY": other}
    assert settings.Settings.from_env(with_env).id_key == idkey.IdKey.parse(other, "")
    assert made.text().strip() not in repr(settings.Settings.from_env(environ))


@pytest.mark.parametrize("value", ["not hex", "ab" * 8])
def test_an_unusable_key_is_named_in_one_line(tmp_path: Path, value: str) -> None:
    environ = {"GONGSHI_DATA_DIR": str(tmp_path), "GONGSHI_ID_KEY": value}
    expected = r"^GONGSHI_ID_KEY is not a key of at least 64 hex digits$"
    with pytest.raises(settings.SettingsError, match=expected):
        settings.Settings.from_env(environ)


def _key_in_env() -> dict[str, str]:
    value = os.environ.get("GONGSHI_ID_KEY")
    return {"GONGSHI_ID_KEY": value} if value else {}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("GONGSHI_ID_KEY", raising=False)
    return conftest.cli_runner(tmp_path, monkeypatch)


def _engine(tmp_path: Path) -> sa.Engine:
    return db.create_engine(conftest.POSTGRES_URL or f"sqlite:///{tmp_path / 'var/gongshi.db'}")


def _key_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / settings.ID_KEY_FILE


def _read_key(path: Path) -> idkey.IdKey:
    return idkey.IdKey.parse(path.read_text(encoding="ascii"), str(path))


def _init_with_a_person(run: CliRunner, tmp_path: Path) -> idkey.IdKey:
    """`gongshi init`, and a natural person stored under the key it made."""
    result = run.invoke(cli.main, ["init"])
    assert result.exit_code == 0, result.output
    environ = {"GONGSHI_DATA_DIR": str(tmp_path / "var")}
    key = settings.Settings.from_env(environ | _key_in_env()).id_key
    assert key is not None
    engine = _engine(tmp_path)
    with Session(engine) as session:
        factories.add_subject(
            session,
            models.SubjectCategory.NATURAL_PERSON,
            **privacy.person_identity(NUMBER, key),
        )
        session.commit()
    engine.dispose()
    return key


def _stored_digest(tmp_path: Path) -> str:
    engine = _engine(tmp_path)
    with engine.connect() as connection:
        digest = connection.exec_driver_sql(
            "SELECT id_number_digest FROM subject WHERE id_number_digest IS NOT NULL"
        ).scalar_one()
    engine.dispose()
    assert isinstance(digest, str)
    return digest


def test_a_rotation_keys_every_digest_again_and_the_old_key_matches_nothing(
    run: CliRunner, tmp_path: Path
) -> None:
    old = _init_with_a_person(run, tmp_path)
    result = run.invoke(cli.main, ["init", "--rotate-id-key"])
    assert result.exit_code == 0, result.output
    assert "identity-number key rotated: 1 digests keyed again" in result.output

    key_file = _key_file(tmp_path)
    new = _read_key(key_file)
    assert new.secrets[:-1] == old.secrets and len(new.secrets) == 2
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.with_name("id.key.next").exists()

    digest = _stored_digest(tmp_path)
    assert digest == privacy.id_digest(NUMBER, new)
    # the old key, or the new secret alone, against every birth date: nothing matches
    _, tried = _candidates(privacy.mask_id_number(NUMBER))
    newest_alone = idkey.IdKey.of(new.secrets[-1])
    assert not [n for n in tried if privacy.id_digest(n, old) == digest]
    assert not [n for n in tried if privacy.id_digest(n, newest_alone) == digest]
    assert [n for n in tried if privacy.id_digest(n, new) == digest] == [NUMBER]

    # the commands go on with the new key, and refuse the old one, naming it
    assert run.invoke(cli.main, ["lifecycle"]).exit_code == 0
    refused = run.invoke(cli.main, ["lifecycle"], env={"GONGSHI_ID_KEY": old.text()})
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1
    assert "identity-number key is not the one this database's digests were made with" in (
        refused.output
    )


def test_a_rotation_killed_before_the_database_changed_starts_again(
    run: CliRunner, tmp_path: Path
) -> None:
    old = _init_with_a_person(run, tmp_path)
    pending = _key_file(tmp_path).with_name("id.key.next")
    idkey.write_new(pending, old.rotated())  # written, then killed: the database never changed

    result = run.invoke(cli.main, ["init", "--rotate-id-key"])
    assert result.exit_code == 0, result.output
    new = _read_key(_key_file(tmp_path))
    assert new.secrets[:-1] == old.secrets and len(new.secrets) == 2
    assert _stored_digest(tmp_path) == privacy.id_digest(NUMBER, new)
    assert not pending.exists()


def test_a_rotation_killed_after_the_database_changed_is_finished_not_repeated(
    run: CliRunner, tmp_path: Path
) -> None:
    old = _init_with_a_person(run, tmp_path)
    pending = _key_file(tmp_path).with_name("id.key.next")
    new = old.rotated()
    idkey.write_new(pending, new)
    engine = _engine(tmp_path)
    with engine.begin() as connection:
        idkey.rekey_database(connection, old, new)  # committed, then killed before the rename
    engine.dispose()

    result = run.invoke(cli.main, ["init", "--rotate-id-key"])
    assert result.exit_code == 0, result.output
    assert "0 digests keyed again" in result.output
    assert _read_key(_key_file(tmp_path)) == new
    assert _stored_digest(tmp_path) == privacy.id_digest(NUMBER, new)  # keyed once, not twice


def test_a_key_in_the_environment_is_rotated_through_a_file_the_operator_moves(
    run: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GONGSHI_ID_KEY", factories.ID_KEY_TEXT)
    _init_with_a_person(run, tmp_path)
    result = run.invoke(cli.main, ["init", "--rotate-id-key"])
    assert result.exit_code == 0, result.output
    pending = _key_file(tmp_path).with_name("id.key.next")
    said = "".join(result.output.split())  # the console wraps long lines
    assert f"thenewkeyisin{pending}" in said and "intoGONGSHI_ID_KEYforeverynode" in said
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    new = _read_key(pending)
    assert _stored_digest(tmp_path) == privacy.id_digest(NUMBER, new)

    assert run.invoke(cli.main, ["lifecycle"]).exit_code == 2  # the old key, still in the env
    monkeypatch.setenv("GONGSHI_ID_KEY", ",".join(secret.hex() for secret in new.secrets))
    assert run.invoke(cli.main, ["lifecycle"]).exit_code == 0
