"""Reading the PDFs gongshi writes as a user's tools do: poppler's pdftotext, and the skip
mark for a machine without the CJK font or poppler (`make pdf-tools` installs both)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from gongshi import report_pdf


def pdf_tools_missing() -> str | None:
    """Why the PDF tests cannot run here, or None."""
    missing = report_pdf.font_missing()
    if missing is not None:
        return str(missing)
    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            return f"{tool} (poppler-utils) is not installed: make pdf-tools installs it"
    return None


needs_pdf = pytest.mark.skipif(pdf_tools_missing() is not None, reason=str(pdf_tools_missing()))


def pdf_text(data: bytes) -> str:
    """The text pdftotext reads from a PDF."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode()


def flat(text: str) -> str:
    """`text` without white space: pdftotext breaks long lines where the page did."""
    return re.sub(r"\s+", "", text)
