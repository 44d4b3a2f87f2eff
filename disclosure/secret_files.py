"""A node's own secret kept as a file under its data folder: read it, or make it on first use,
readable by its owner only. The portal's signing key and the credit reports' key are kept so
when no setting gives them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_make(path: Path) -> bytes:
    """The 32-byte key in `path` (hex), made there first when missing; two processes making it
    at once both end with the one that was written first."""
    if path.is_file():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex() + "\n")
    return key
