"""The Coaching section of My work in a real browser (Debian's chromium driven by Playwright) against a real
worker: a team lead sees their team's rep behind on acknowledgement times, assigns the suggested training and
marks it done with the keyboard; a rep of another team sees no Coaching section at all."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_board_browser import (
    CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, SCREENSHOTS, browser_or_skip, fits_the_phone,
)
from tests.support.coaching import observe_days, tokened_directory

pytestmark = pytest.mark.e2e


def test_a_lead_assigns_and_closes_training_from_my_work(make_worker, db_url, run_id, tmp_path):
    sync_playwright = browser_or_skip()
    directory, path, tokens = tokened_directory(tmp_path, run_id)
    w = make_worker(SALESPULSE_PATHS__DIRECTORY=path)
    w.wait_ready()
    observe_days(db_url, directory, lambda at: {"rep-3": {"ack_minutes": 240.0}, "rep-4": {"ack_minutes": 20.0}},
                 range(3))
    lead = {"Authorization": f"Bearer {tokens['lead-south']}"}
    [item] = httpx.get(f"{w.base_url}/coaching", headers=lead, timeout=10).json()["items"]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=DESKTOP)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{w.base_url}/board/mine")
            page.get_by_label("API token").fill(tokens["lead-south"])
            page.keyboard.press("Enter")
            card = page.locator(f'#coaching article[data-id="{item["id"]}"]')
            card.wait_for(timeout=10000)
            text = card.inner_text()
            assert "rep-3" in text and "240 min" in text and "20 min" in text and "Answering incidents fast" in text
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "mine-coaching.png"), full_page=True)
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(300)
            fits_the_phone(page, "#coaching article button")
            page.screenshot(path=str(SCREENSHOTS / "mine-coaching-phone.png"), full_page=True)
            page.set_viewport_size(DESKTOP)
            card.get_by_role("button", name="Assign training").focus()
            page.keyboard.press("Enter")
            page.locator(f'#coaching article[data-id="{item["id"]}"][data-state="assigned"]').wait_for(timeout=10000)
            card.get_by_role("button", name="Done").click()
            card.wait_for(state="detached", timeout=10000)   # done work leaves the list
            [done] = httpx.get(f"{w.base_url}/coaching?state=done", headers=lead, timeout=10).json()["items"]
            assert done["assignment"]["assigned_by"] == "lead-south" and done["assignment"]["done_by"] == "lead-south"

            other = browser.new_page(viewport=DESKTOP)
            other.goto(f"{w.base_url}/board/mine")
            other.get_by_label("API token").fill(tokens["rep-1"])
            other.keyboard.press("Enter")
            other.locator("#summary").wait_for(timeout=10000)
            other.wait_for_function("document.getElementById('summary').textContent.length > 0", timeout=10000)
            assert other.locator("#coaching-section").is_hidden()
            assert errors == []
        finally:
            browser.close()
