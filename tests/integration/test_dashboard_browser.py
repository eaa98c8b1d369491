"""The live dashboard in a real headless browser (Debian's chromium through Playwright), against a worker
fed by `hcp simulate` with an injected incident: the incident tops the redesign priorities with its reason,
the heat map and trend lines are drawn, and the page refreshes by itself. A screenshot is kept in
test-artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from haochaping.settings import Settings
from producers.topics import ensure_topics
from tests.integration.conftest import ROOT
from tests.integration.test_analysts_e2e import INCIDENT, AnalystWorker, feed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def test_dashboard_shows_the_incident(pipeline_settings: Settings, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk (the Makefile's set-up does)")
    from playwright.sync_api import sync_playwright

    settings = pipeline_settings
    ensure_topics(settings)
    worker = AnalystWorker(settings, tmp_path / "worker.log")
    worker.start()
    try:
        announced = worker.wait_for_web()
        feed(settings)
        worker.wait_until_drained(timeout=600)
        url = f"http://127.0.0.1:{announced['web_port']}/dashboard?refresh=2"
        ARTIFACTS.mkdir(exist_ok=True)
        profile = tmp_path / "chromium-profile"  # a fresh --user-data-dir for every run
        errors: list[str] = []
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1500, "height": 1100},
            )
            try:
                page = context.new_page()
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.goto(url)
                page.wait_for_selector("#priorities-table tbody tr", timeout=60_000)

                top = page.locator("#priorities-table tbody tr").first
                assert top.get_attribute("data-province") == INCIDENT["province"]
                assert top.get_attribute("data-matter") == INCIDENT["matter"]
                assert top.get_attribute("data-step") == INCIDENT["step"]
                assert top.get_attribute("data-reason") == INCIDENT["reason"]
                text = top.inner_text()
                assert "安徽" in text and "异地就医备案" in text and "数据共享/电子证照核验" in text, text
                assert "数据未共享" in text

                incident_cell = page.locator(
                    f'#heatmap-svg rect[data-province="{INCIDENT["province"]}"][data-step="{INCIDENT["step"]}"]'
                )
                assert incident_cell.count() == 1 and float(incident_cell.get_attribute("data-rate") or 0) > 0
                assert page.locator("#heatmap-svg rect").count() >= 12 * 5
                first_trend = page.locator("#trends .chart").first
                assert first_trend.get_attribute("data-step") == INCIDENT["step"]
                assert first_trend.locator("path.rate-line").count() == 1
                assert page.locator("#alerts").inner_text().strip() != ""
                # The worker's own input counters: everything came through `hcp publish`, none misplaced.
                assert page.locator("#input p.empty").count() == 1

                # It refreshes by itself (every 2 s here).
                page.wait_for_function("Number(document.body.dataset.refreshes || 0) >= 2", timeout=30_000)
                assert "实时" in page.locator("#status").inner_text()
                page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            finally:
                context.close()
        assert errors == [], errors
    finally:
        stopped = worker.stop()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
    assert stopped == 0, worker.log_tail()
