"""The web pages in Debian's headless Chromium: the forms work as a person
uses them, no page logs a console error (a CSP violation is one), and no
page carries inline script.

WATCH287G_SCREENSHOTS=docs/web python -m pytest tests/test_web_browser.py
refreshes the screenshots in docs/web.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from watch287g.alerts.links import STOP
from watch287g.testing.smtp import SmtpServer
from watch287g.testing.web_client import SECRET, links_in

from tests.support.browser import chromium, console_errors  # noqa: F401 - chromium is a fixture
from tests.support.web_site import READER, Site

# A browser per test: left out of the quick run (test_web.py drives the same
# forms over HTTP there).
pytestmark = pytest.mark.slow

INLINE_HANDLERS = ("return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
                   ".filter(a => a.name.startsWith('on')).map(a => a.name)")


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


class Visit:
    """Look at each page as a reader does, and check what every page must be."""

    def __init__(self, driver, shots: Path) -> None:
        self.driver, self.shots = driver, shots

    def check(self, name: str, status: int = 200) -> str:
        """The page's text; ``status``: the error status the page is meant
        to answer with (Chromium logs it, and only it may be logged)."""
        driver = self.driver
        own = f"{driver.current_url} - Failed to load resource: the server responded with a status of {status} "
        errors = console_errors(driver)
        assert [e for e in errors if not (status >= 400 and e.startswith(own))] == [], name
        assert status < 400 or len(errors) == 1, name
        assert driver.find_elements(By.CSS_SELECTOR, "script:not([src])") == [], name
        assert driver.execute_script(INLINE_HANDLERS) == [], name
        # The whole page in one picture: the window as tall as the page.
        driver.set_window_size(1000, 300)
        driver.set_window_size(1000, driver.execute_script("return document.documentElement.scrollHeight") + 200)
        driver.save_screenshot(str(self.shots / f"{name}.png"))
        return driver.find_element(By.TAG_NAME, "body").text

    def press(self, button: str) -> None:
        self.driver.find_element(By.XPATH, f"//button[normalize-space()='{button}']").click()

    def follow(self, link: str) -> None:
        self.driver.find_element(By.XPATH, f"//main//a[normalize-space()='{link}']").click()


def test_a_reader_signs_up_confirms_pauses_and_unsubscribes_in_chromium(tmp_path, smtp, chromium, monkeypatch):
    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)
    report = tmp_path / "report"
    report.mkdir()
    # A report page as the report builder writes them: inline SVG styled inline.
    (report / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Report</title>'
        '<link rel="icon" href="data:,"></head><body><h1 style="color:#1f4e79">287(g) report</h1>'
        '<svg width="40" height="20"><rect width="40" height="20" style="fill:#c33"/></svg></body></html>')
    shots = Path(os.environ.get("WATCH287G_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    site = Site(tmp_path, smtp, web_extra=f'report_dir = "{report}"')
    visit = Visit(chromium, shots)
    try:
        chromium.get(site.base + "/")
        assert "Sign up for e-mail alerts" in visit.check("home")
        visit.follow("Sign up for e-mail alerts")
        visit.check("subscribe")
        chromium.find_element(By.ID, "email").send_keys(READER)
        for value in ("FL", "GA"):
            chromium.find_element(By.CSS_SELECTOR, f"input[name=state][value={value}]").click()
        chromium.find_element(By.ID, "counties").send_keys("Polk, Cobb")
        chromium.find_element(By.CSS_SELECTOR, "input[name=model][value=TFM]").click()
        chromium.find_element(By.CSS_SELECTOR, "input[name=cadence][value=daily]").click()
        visit.press("Sign up")
        assert "Check your inbox" in visit.check("check-your-inbox")

        [mail] = site.wait_mails(READER, 1)
        [confirm] = links_in(mail.get_content(), "/confirm/")
        chromium.get(confirm)
        page = visit.check("confirm")
        assert "Florida, Georgia" in page and "Polk, Cobb" in page and "a daily digest" in page
        visit.press("Confirm")
        assert "You are subscribed" in visit.check("subscribed")
        assert site.subscription("s1")["status"] == "active"

        visit.follow("Manage this subscription")
        visit.check("manage")
        visit.press("Pause")
        assert "Paused" in visit.check("paused") and site.subscription("s1")["status"] == "paused"

        chromium.get(site.link(STOP, "s1"))
        visit.check("unsubscribe")
        visit.press("Unsubscribe")
        assert "Unsubscribed" in visit.check("unsubscribed") and site.subscription("s1")["status"] == "removed"

        chromium.get(site.link(STOP, "s1")[:-2] + "xx")
        assert "was altered or forged" in visit.check("bad-link", status=400)

        chromium.get(site.base + "/report/")
        assert "287(g) report" in visit.check("report")
    finally:
        site.close()
