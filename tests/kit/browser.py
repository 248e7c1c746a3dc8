"""A real browser for the tests: the system Chromium (Debian's chromium and chromium-driver), headless, driven by
Selenium, with the network cut off and every request it tries recorded (its performance log)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
# Schemes a page opened from disk may use without the network: the file itself, inline data, the blank page.
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")


def system_chromium() -> tuple[str, str] | None:
    """(browser, driver) paths of the system Chromium, or None when either is missing."""
    browser = next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), shutil.which("chromium"))
    driver = next((p for p in DRIVER_CANDIDATES if Path(p).exists()), shutil.which("chromedriver"))
    return (browser, driver) if browser and driver else None


def offline_chromium(browser: str, driver: str):
    """A headless Chromium session that cannot reach any host (every name resolves to nothing, and the DevTools
    network is emulated offline) and logs every request it makes."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in CI and here: Chromium refuses to start sandboxed as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1200,2000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.execute_cdp_cmd("Network.enable", {})
    session.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    return session


def requested_urls(session) -> list[str]:
    """Every URL the page asked for since the last call (DevTools' Network.requestWillBeSent events)."""
    urls = []
    for entry in session.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def network_requests(urls: list[str]) -> list[str]:
    """The URLs among `urls` that would need the network."""
    return [url for url in urls if not url.startswith(LOCAL_SCHEMES)]


def open_report_offline(page: Path, browser: str, driver: str, seconds: float = 30) -> dict:
    """Open a report page (`dps report`) in an offline headless Chromium and wait for its charts; returns what it
    showed: `charts` [(key, rendered state, data marks drawn)], `totals` (the totals table's cells per row), the
    page's `text` and every URL it `asked` for."""
    from tests.kit.runs import wait_until

    session = offline_chromium(browser, driver)
    try:
        session.get(page.as_uri())
        charts = "[...document.querySelectorAll('.chart')]"
        wait_until(
            lambda: session.execute_script(f"return {charts}.every(e => e.dataset.rendered)"),
            seconds,
            what="the report's charts to render",
        )
        # Vega's SVG puts a chart's data marks (bars, ticks, rules) under g.role-mark; axes and legends elsewhere.
        drawn = session.execute_script(
            f"return {charts}.map(e => [e.dataset.chart, e.dataset.rendered, "
            "e.querySelectorAll('svg g.role-mark > path, svg g.role-mark > line').length])"
        )
        totals = session.execute_script(
            "return [...document.querySelectorAll('table.totals tbody tr')]"
            ".map(tr => [...tr.cells].map(td => td.textContent))"
        )
        text = session.execute_script("return document.body.innerText")
        return {
            "charts": [tuple(c) for c in drawn],
            "totals": totals,
            "text": text,
            "asked": requested_urls(session),
        }
    finally:
        session.quit()
