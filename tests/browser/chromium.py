"""Debian's Chromium driven by Playwright, for the browser tests and `make screenshots`.

Playwright's own browser downloads are never used (build machines reach no browser CDN):
`apt-get install -y chromium` provides /usr/bin/chromium, which .ci/run installs when missing."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`); "
            ".ci/run does it on CI machines."
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
