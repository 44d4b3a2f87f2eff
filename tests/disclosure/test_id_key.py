"""The identity-number key: a copy of the database alone cannot be matched back to numbers."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from alembic import command
from sqlmodel import Session
from stdnum.cn import ric

from disclosure import db, models, privacy, settings
from tests import factories

NUMBER = "440802198706151236"
WRONG_KEY = bytes.fromhex("00" * 32)


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
    assert NUMBER.encode() not in stored and factories.ID_KEY.hex().encode() not in stored
    assert not [n for n in candidates if privacy.unkeyed_digest(n) == digest]
    assert not [n for n in candidates if privacy.id_digest(n, WRONG_KEY) == digest]
    assert [n for n in candidates if privacy.id_digest(n, factories.ID_KEY) == digest] == [NUMBER]


def test_the_migration_keys_the_digests_a_database_already_holds(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'gongshi.db'}")
    command.upgrade(db.alembic_config(engine), "0005")  # as a database of the last release
    with Session(engine) as session:
        old = {"id_number_masked": privacy.mask_id_number(NUMBER)}
        old["id_number_digest"] = privacy.unkeyed_digest(NUMBER)
        factories.add_subject(session, models.SubjectCategory.NATURAL_PERSON, **old)
        session.commit()
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
    assert key_file.read_text().strip() == made.hex()
    other = "ab" * 32
    with_env = environ | {"GONGSHI_ID_KEY": other}
    assert settings.Settings.from_env(with_env).id_key == bytes.fromhex(other)
    assert made.hex() not in repr(settings.Settings.from_env(environ))


@pytest.mark.parametrize("value", ["not hex", "ab" * 8])
def test_an_unusable_key_is_named_in_one_line(tmp_path: Path, value: str) -> None:
    environ = {"GONGSHI_DATA_DIR": str(tmp_path), "GONGSHI_ID_KEY": value}
    expected = r"^GONGSHI_ID_KEY is not a key of at least 64 hex digits$"
    with pytest.raises(settings.SettingsError, match=expected):
        settings.Settings.from_env(environ)
