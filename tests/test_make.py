"""`make test` brings the browser the site's tests drive, as CI does."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _fake_apt_get(folder: Path) -> tuple[Path, Path]:
    log = folder / "apt-get.log"
    fake = folder / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    return fake, log


def test_make_test_installs_chromium_when_it_is_missing(tmp_path: Path) -> None:
    fake, log = _fake_apt_get(tmp_path)
    missing = tmp_path / "no-chromium"
    done = _make("-s", "chromium", f"CHROMIUM={missing}", f"APT_GET={fake}")
    assert done.returncode == 0, done.stderr
    if os.geteuid() == 0:
        assert log.read_text() == "update -qq\ninstall -y -qq chromium chromium-driver\n"
    else:
        assert not log.exists()
        assert done.stderr == (
            f"note: no {missing}, and installing it needs root and apt-get: the browser tests "
            "will be skipped\n"
        )
    planned = _make("-n", "test", f"CHROMIUM={missing}", f"APT_GET={fake}").stdout
    assert f"{fake} install -y -qq chromium chromium-driver" in planned
    assert planned.index(f"{fake} install") < planned.index("-m pytest")


def test_make_test_leaves_an_installed_chromium_alone(tmp_path: Path) -> None:
    fake, log = _fake_apt_get(tmp_path)
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    done = _make("-s", "chromium", f"CHROMIUM={present}", f"APT_GET={fake}")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not log.exists()


def test_make_test_installs_the_cjk_font_and_poppler_when_they_are_missing(
    tmp_path: Path,
) -> None:
    fake, log = _fake_apt_get(tmp_path)
    missing = f"CJK_FONT={tmp_path / 'no-font.ttc'}"
    done = _make("-s", "pdf-tools", missing, f"APT_GET={fake}")
    assert done.returncode == 0, done.stderr
    if os.geteuid() == 0:
        assert log.read_text() == "update -qq\ninstall -y -qq fonts-noto-cjk poppler-utils\n"
    else:
        assert not log.exists()
        assert "the credit report's tests will be skipped" in done.stderr
    log.unlink(missing_ok=True)
    font = tmp_path / "font.ttc"
    tool = tmp_path / "pdftotext"
    font.write_bytes(b"")
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    present = _make("-s", "pdf-tools", f"CJK_FONT={font}", f"PDFTOTEXT={tool}", f"APT_GET={fake}")
    assert (present.returncode, present.stdout, present.stderr) == (0, "", "")
    assert not log.exists()
    for target in ("test", "coverage"):
        planned = _make("-n", target, missing, f"APT_GET={fake}").stdout
        assert f"{fake} install -y -qq fonts-noto-cjk poppler-utils" in planned
        assert planned.index("fonts-noto-cjk") < planned.index("-m pytest")
