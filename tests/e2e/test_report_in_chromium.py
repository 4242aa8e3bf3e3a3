"""The HTML report opened in a real browser: headless Chromium renders it (screenshot), its
script runs (the threshold read-out is filled in) and it logs nothing to the console.

Needs /usr/bin/chromium (Debian package `chromium`). Console messages are read from Chromium's
own log (`--enable-logging=stderr`), where every console call and uncaught error appears as a
`CONSOLE` line; the last test proves that check catches a page that does log an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from headless_chromium import WINDOW, chromium, console_messages, png_size
from typer.testing import CliRunner

from sync.cli import app

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def learn_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    report = folder / "learn.html"
    model = Path(__file__).parents[2] / "examples" / "scoring.yaml"
    result = CliRunner().invoke(
        app,
        [
            "learn",
            "-m",
            str(model),
            "--sandbox",
            "1500",
            "--folds",
            "2",
            "-o",
            str(folder / "learned.yaml"),
            "--report",
            str(report),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    return report


def test_the_report_renders_in_headless_chromium_without_a_console_message(
    learn_report: Path, tmp_path: Path
) -> None:
    screenshot = tmp_path / "report.png"
    run = chromium(learn_report, tmp_path / "profile", f"--screenshot={screenshot}")
    assert console_messages(run.stderr) == []
    assert png_size(screenshot) == WINDOW
    assert screenshot.stat().st_size > 50_000  # charts and tables, not a blank page


def test_the_reports_threshold_slider_script_runs_in_the_browser(
    learn_report: Path, tmp_path: Path
) -> None:
    run = chromium(learn_report, tmp_path / "profile", "--dump-dom")
    readout = re.search(r"<output id=\"threshold-readout\">(.*?)</output>", run.stdout)
    assert readout is not None
    assert re.fullmatch(
        r"Score ≥ \d+: [\d,]+ leads \(\d+\.\d%\), precision \d+\.\d%, recall \d+\.\d%, "
        r"lift \d+\.\d\d×",
        readout.group(1),
    )
    assert console_messages(run.stderr) == []


def test_the_console_check_catches_a_page_that_logs_an_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><body><p>broken</p><script>"
        "console.error('report failed'); missingFunction();</script></body></html>",
        encoding="utf-8",
    )
    run = chromium(page, tmp_path / "profile", f"--screenshot={tmp_path / 'broken.png'}")
    messages = console_messages(run.stderr)
    assert messages[0].startswith('"report failed", source: file://')
    assert messages[1].startswith('"Uncaught ReferenceError: missingFunction is not defined"')


def test_the_go_live_preview_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    from sandbox.hubspot import start_hubspot

    model = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
    page = tmp_path / "preview.html"
    with start_hubspot(leads=300, seed=7, rate_limit=(10_000, 10.0)) as hubspot:
        env = {
            "COLUMNS": "200",
            **hubspot.leadq_environment(),
            "LEADQ_HUBSPOT_RATE_LIMIT": "10000",
            "LEADQ_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "LEADQ_MODEL_PATH": str(model),
        }
        assert CliRunner().invoke(app, ["setup"], env=env).exit_code == 0
        result = CliRunner().invoke(
            app, ["preview", "--html", str(page), "--now", "2026-11-02T09:00Z"], env=env
        )
    assert result.exit_code == 0, result.output
    assert "Go-live preview" in result.output and "Wrote" in result.output
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    screenshot = tmp_path / "preview.png"
    run = chromium(page, tmp_path / "profile", f"--screenshot={screenshot}")
    assert console_messages(run.stderr) == []
    assert png_size(screenshot) == WINDOW
    dom = chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert "would become mql at go-live" in dom and "Routing at go-live" in dom
