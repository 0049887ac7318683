"""The report rendered in headless Debian chromium: every section in the rendered page, no console
errors, and screenshots kept under tests/artifacts/ for a person to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deltarad.report.sections import DEVELOPMENT_ONLY, SECTIONS

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Offline, quiet, reproducible: no sync, updates, first-run pages or background traffic.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\].*|Uncaught .*")


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).is_file():
        pytest.fail("Debian's chromium is not installed: run `make setup` (apt-get install chromium)")
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


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


def test_region_qc_gallery_has_every_patient_and_flagged_cases_first(
    report: Path, run_folder: Path, air_patient: str, tmp_path: Path
) -> None:
    dom = rendered_dom(report, tmp_path / "profile")
    gallery = dom[dom.index('<section id="qc">') : dom.index("</section>", dom.index('<section id="qc">'))]
    cards = re.findall(r'<li class="qc-card( flagged)?" id="qc-([^"]+)"', gallery)
    patients = (run_folder / "predictions.csv").read_text().splitlines()[1:]
    analysed = [line.split(",")[0] for line in patients]
    assert set(analysed) <= {pid for _, pid in cards}
    for pid in analysed:
        for tp in ("baseline", "early"):
            src = f"regions/{pid}/qc_{tp}.png"
            assert f'src="{src}"' in gallery and (report.parent / src).is_file(), src
    flagged = [bool(f) for f, _ in cards]
    assert flagged[0] and flagged == sorted(flagged, reverse=True)  # flagged cases first
    assert cards[0][1] == air_patient  # its ring reaches into air
    assert "ring cut by" in gallery[: gallery.index(f'id="qc-{cards[1][1]}"')]
    shot = ARTIFACTS / "report_qc_gallery.png"
    ARTIFACTS.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    page = report.parent / "gallery_view.html"
    # the gallery section alone, with the report's styles: what a reader scans first
    html = report.read_text(encoding="utf-8")
    start, end = html.index('<section id="qc">'), html.index("</section>", html.index('<section id="qc">'))
    page.write_text(html[: html.index("<body>") + 6] + html[start:end] + "</section></body></html>", encoding="utf-8")
    run = chromium(page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400")
    page.unlink()
    assert run.returncode == 0 and console_messages(run.stderr) == []
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_patient_sheet_prints_on_a4(run_folder: Path, tmp_path: Path) -> None:
    from test_sheets import sheet_fixture

    sheet = sheet_fixture(run_folder, tmp_path, n=1)[0]
    dom = rendered_dom(sheet, tmp_path / "profile")
    assert dom.count('src="data:image/png;base64,') == 2 and "Nomogram term" in dom
    screenshots(sheet, tmp_path / "profile", {"patient_sheet.png": "794,1123"})  # A4 at 96 dpi
    pdf = tmp_path / "sheet.pdf"
    run = chromium(sheet, tmp_path / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert run.returncode == 0 and pdf.read_bytes().startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes())) == 1  # one A4 page
