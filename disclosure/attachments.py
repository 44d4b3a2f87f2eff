"""Attachments of the public's applications: PDF, JPEG or PNG, told by their content (never by
their name), size-limited, stored under their digest in a folder outside the published site."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024  # each file
MAX_FILES = 5  # each application
FOLDER = "attachments"  # under GONGSHI_DATA_DIR, never under the site's releases


class AttachmentRefused(ValueError):
    """A file that is not accepted; the message names it and says why (中文 / English)."""


@dataclasses.dataclass(frozen=True)
class Checked:
    """A file whose content is what it must be."""

    filename: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _pdf(content: bytes) -> bool:
    # a PDF begins with its header and ends with %%EOF (readers allow trailing whitespace)
    return content.startswith((b"%PDF-1.", b"%PDF-2.")) and b"%%EOF" in content[-1024:]


def _jpeg(content: bytes) -> bool:
    return content.startswith(b"\xff\xd8\xff") and content.rstrip(b"\x00").endswith(b"\xff\xd9")


def _png(content: bytes) -> bool:
    return content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR"


_SUFFIXES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_KINDS = (("application/pdf", _pdf), ("image/jpeg", _jpeg), ("image/png", _png))


def media_type(content: bytes) -> str | None:
    """The media type the content is, of those accepted, or None."""
    for name, test in _KINDS:
        if test(content):
            return name
    return None


def check(filename: str, content: bytes) -> Checked:
    """The file if its content is a PDF, JPEG or PNG within the size limit; else refused."""
    name = Path(filename.replace("\\", "/")).name[:200] or "attachment"
    if not content:
        raise AttachmentRefused(f"附件 {name} 是空文件 / the attachment {name} is empty")
    if len(content) > MAX_BYTES:
        raise AttachmentRefused(
            f"附件 {name} 超过 {MAX_BYTES // (1024 * 1024)} MB / the attachment {name} is larger "
            f"than {MAX_BYTES // (1024 * 1024)} MB"
        )
    kind = media_type(content)
    if kind is None:
        raise AttachmentRefused(
            f"附件 {name} 不是 PDF、JPEG 或 PNG 文件（按内容判断，与文件名无关）/ the attachment "
            f"{name} is not a PDF, JPEG or PNG file by its content, whatever its name"
        )
    # the name keeps its stem and gets the suffix of what the file is
    name = name.rsplit(".", 1)[0] + _SUFFIXES[kind]
    return Checked(name, kind, content)


def store(folder: Path, checked: Checked) -> tuple[Path, bool]:
    """Write the file under its digest in `folder`; returns its path and whether it is new."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checked.sha256
    if path.exists():
        return path, False
    part = path.with_name(path.name + f".{os.getpid()}.part")
    part.write_bytes(checked.content)
    part.replace(path)
    return path, True
