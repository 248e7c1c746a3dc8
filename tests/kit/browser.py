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
