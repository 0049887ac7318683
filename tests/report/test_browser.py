"""The report rendered in headless Debian chromium: every section in the rendered page, no console
errors, and screenshots kept under tests/artifacts/ for a person to look at."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deltarad.report.html import DEVELOPMENT_ONLY, SECTIONS

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Offline, quiet, reproducible: no sync, updates, first-run pages or background traffic.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\].*|Uncaught .*")


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).is_file():
        pytest.fail("Debian's chromium is not installed: run `make setup` (apt-get install chromium)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def console_messages(stderr: str) -> list[str]:
    """Console output of the page (chromium logs every console message and uncaught error)."""
    return CONSOLE.findall(stderr)


def test_console_check_catches_a_page_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>throw new Error('report broke');</script></body></html>")
    run = chromium(page, tmp_path / "profile", "--dump-dom")
    assert any("report broke" in m for m in console_messages(run.stderr)), run.stderr[-2000:]


def rendered_dom(page: Path, profile: Path) -> str:
    run = chromium(page, profile, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_messages(run.stderr) == []
    return run.stdout


def screenshots(page: Path, profile: Path, shots: dict[str, str]) -> None:
    """Screenshots `name: "width,height"` under tests/artifacts/, each without console errors."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in shots.items():
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        run = chromium(page, profile, f"--screenshot={shot}", f"--window-size={size}")
        assert run.returncode == 0, run.stderr[-2000:]
        assert console_messages(run.stderr) == []
        assert shot.read_bytes().startswith(b"\x89PNG")
        print(f"screenshot: {shot}")


def test_report_renders_without_console_errors(report: Path, tmp_path: Path) -> None:
    dom = rendered_dom(report, tmp_path / "profile")
    for anchor, title, _ in SECTIONS:
        assert re.search(rf'<section id="{anchor}">\s*<h2>', dom), anchor
        assert title.replace("&", "&amp;") in dom
    assert "Not available" not in dom
    assert dom.count('src="data:image/png;base64,') == 12
    for figure in ("fig-selection_frequency", "fig-nomogram"):
        assert re.search(rf'<figure id="{figure}">\s*<img src="data:image/png;base64,', dom), figure
    assert re.search(r'<section id="validation">.*?<td>Combined</td><td>AUC</td>', dom, re.DOTALL)
    screenshots(report, tmp_path / "profile", {"report_top.png": "1280,4000", "report_full.png": "1280,14000"})


def test_external_validation_report_renders_without_console_errors(cli_runs: dict, tmp_path: Path) -> None:
    page = cli_runs["ext"] / "report.html"
    dom = rendered_dom(page, tmp_path / "profile")
    assert "<h1>External validation of" in dom
    assert "Not available" not in dom
    shown = re.findall(r'<section id="([\w-]+)">', dom)
    assert shown == [a for a, _, _ in SECTIONS if a not in DEVELOPMENT_ONLY]
    screenshots(page, tmp_path / "profile", {"report_external.png": "1280,9000"})
