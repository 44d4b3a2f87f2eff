"""The identity-number key: the secret that keys natural persons' digests, and its rotation.

gongshi keeps no identity number, so a stored digest cannot be computed again from the number
under a new key. A rotation keys what is stored once more instead: the key is a chain of secrets,
oldest first, and a digest is HMAC-SHA256 under each in turn of `sha256("gongshi/id/" + number)`.
The newest secret alone decides whether a copy of the database can be matched back, so an older
secret that leaked is worthless once a rotation has added a newer one.

The database keeps a check of the chain (the chain applied to a fixed text), so that a node given
the wrong key says so instead of writing digests that match no one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import sqlalchemy as sa

SECRET_BYTES = 32
_CHECK_TEXT = hashlib.sha256(b"gongshi/id-key-check").hexdigest()
_SEPARATORS = re.compile(r"\s*[,\n]\s*")


class IdKeyError(ValueError):
    """A key that cannot be read, or that is not the key of this database."""


@dataclasses.dataclass(frozen=True, repr=False)
class IdKey:
    """A chain of secrets, oldest first; its repr never shows them."""

    secrets: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.secrets:
            raise IdKeyError("an identity-number key needs at least one secret")

    def __repr__(self) -> str:
        return f"IdKey(<{len(self.secrets)} secret(s)>)"

    def apply(self, digest: str) -> str:
        """`digest` (hex) keyed under each secret of the chain in turn."""
        for secret in self.secrets:
            digest = rekey(digest, secret)
        return digest

    @property
    def check(self) -> str:
        """What the database keeps to recognise this chain."""
        return self.apply(_CHECK_TEXT)

    def rotated(self) -> IdKey:
        """This chain with a new random secret at its end."""
        return IdKey((*self.secrets, secrets.token_bytes(SECRET_BYTES)))

    def text(self) -> str:
        """The chain as the key file and GONGSHI_ID_KEY write it: hex secrets, oldest first."""
        return "".join(secret.hex() + "\n" for secret in self.secrets)

    @classmethod
    def parse(cls, text: str, origin: str) -> IdKey:
        """Hex secrets of at least SECRET_BYTES each, separated by commas or new lines."""
        parts = _SEPARATORS.split(text.strip())
        found = []
        for part in parts:
            try:
                secret = bytes.fromhex(part)
            except ValueError:
                secret = b""
            if len(secret) < SECRET_BYTES:
                each = " in each of its secrets" if len(parts) > 1 else ""
                raise IdKeyError(
                    f"{origin} is not a key of at least {SECRET_BYTES * 2} hex digits{each}"
                )
            found.append(secret)
        return cls(tuple(found))

    @classmethod
    def of(cls, *secrets_: bytes) -> IdKey:
        return cls(tuple(secrets_))

    @classmethod
    def new(cls) -> IdKey:
        return cls.of(secrets.token_bytes(SECRET_BYTES))


def rekey(digest: str, secret: bytes) -> str:
    """One link of the chain: HMAC-SHA256 under `secret` of a hex digest."""
    return hmac.new(secret, bytes.fromhex(digest), hashlib.sha256).hexdigest()


def write_new(path: Path, key: IdKey) -> None:
    """`key` written to `path`, which must not exist, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key that digests were made with
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.text())
        file.flush()
        os.fsync(file.fileno())


_check_table = sa.table("id_key_check", sa.column("id", sa.Integer), sa.column("value", sa.String))
_subject = sa.table(
    "subject", sa.column("id", sa.Integer), sa.column("id_number_digest", sa.String)
)


def stored_check(connection: sa.Connection) -> str | None:
    return connection.execute(sa.select(_check_table.c.value)).scalar()


def _store_check(connection: sa.Connection, key: IdKey) -> None:
    connection.execute(sa.delete(_check_table))
    connection.execute(sa.insert(_check_table).values(id=1, value=key.check))


def verify(connection: sa.Connection, key: IdKey | None) -> None:
    """Refuse a key that is not the one this database's digests were made with; the first key
    a database meets (a database of an earlier release keeps no check) becomes its key."""
    if key is None:
        return
    stored = stored_check(connection)
    if stored is None:
        _store_check(connection, key)
    elif not hmac.compare_digest(stored, key.check):
        raise IdKeyError(
            "the identity-number key is not the one this database's digests were made with: "
            "set GONGSHI_ID_KEY or GONGSHI_DATA_DIR/id.key to that key "
            "(after `gongshi init --rotate-id-key`, the one it wrote)"
        )


def rekey_database(connection: sa.Connection, current: IdKey, new: IdKey) -> int:
    """Every stored digest keyed once more under the newest secret of `new`, a rotation of
    `current`, in the caller's transaction; the number of digests."""
    if new.secrets[:-1] != current.secrets:
        raise IdKeyError("a rotation adds one secret to the key it rotates")
    verify(connection, current)
    rows = connection.execute(
        sa.select(_subject.c.id, _subject.c.id_number_digest).where(
            _subject.c.id_number_digest.is_not(None)
        )
    ).all()
    if rows:
        secret = new.secrets[-1]
        connection.execute(
            _subject.update()
            .where(_subject.c.id == sa.bindparam("row_id"))
            .values(id_number_digest=sa.bindparam("digest")),
            [{"row_id": row_id, "digest": rekey(digest, secret)} for row_id, digest in rows],
        )
    _store_check(connection, new)
    return len(rows)


@dataclasses.dataclass(frozen=True)
class Rotation:
    """What a rotation did: how many digests it keyed again, and where the new key is."""

    digests: int
    key_file: Path
    pending: bool  # the key lives in GONGSHI_ID_KEY: the operator must put the new one there


def rotate(engine: sa.Engine, current: IdKey, key_file: Path, in_env: bool) -> Rotation:
    """Rotate the key of the database behind `engine`. The new chain is written to
    `<key_file>.next` before the database changes, and replaces `key_file` after the database
    committed; a rotation killed at any point is finished or started again by the next run."""
    pending = key_file.with_name(key_file.name + ".next")
    if pending.exists():
        waiting = IdKey.parse(pending.read_text(encoding="ascii", errors="replace"), str(pending))
        with engine.connect() as connection:
            committed = stored_check(connection) == waiting.check
        if committed:  # killed after the database changed: only the key file is left to do
            return _settle(pending, key_file, in_env, digests=0)
        pending.unlink()  # killed before the database changed: that key keyed nothing
    with engine.begin() as connection:
        verify(connection, current)
    new = current.rotated()
    write_new(pending, new)
    with engine.begin() as connection:
        digests = rekey_database(connection, current, new)
    return _settle(pending, key_file, in_env, digests)


def _settle(pending: Path, key_file: Path, in_env: bool, digests: int) -> Rotation:
    if in_env:
        return Rotation(digests, pending, pending=True)
    os.replace(pending, key_file)
    return Rotation(digests, key_file, pending=False)
