"""Debian's Chromium driven by Playwright, for the browser tests and `make screenshots`.

Playwright's own browser downloads are never used (build machines reach no browser CDN):
`apt-get install -y chromium` provides /usr/bin/chromium, which .ci/run installs when missing.

Closing is bounded. Debian's Chromium starts its crash handlers (chrome_crashpad_handler) in
sessions of their own, outside Chromium's process group, holding Chromium's output pipes;
Playwright's driver waits until every holder of those pipes has closed them before
``browser.close()`` returns, and stops itself only after that. A handler that lingers would
make both wait forever (a known Playwright issue with a Chromium it did not bundle), so past
``CLOSE_WITHIN`` seconds Chromium's processes and the driver are killed, and the close raises
saying so instead of hanging the test run."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

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
CLOSE_WITHIN = 60.0


@contextlib.contextmanager
def running_chromium(close_within: float = CLOSE_WITHIN) -> Iterator[Browser]:
    """Playwright's driver and Chromium, until the block exits; then both stop, or are killed
    after ``close_within`` seconds (RuntimeError)."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`); "
            ".ci/run does it on CI machines."
        )
    before = drivers()
    playwright = sync_playwright().start()
    ours = drivers() - before  # this Playwright's driver (another one may be running)
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    except BaseException:
        with _killed_after(close_within, ours):
            playwright.stop()
        raise
    try:
        yield browser
    finally:
        with _killed_after(close_within, ours):
            try:
                browser.close()
            finally:
                playwright.stop()


@contextlib.contextmanager
def _killed_after(seconds: float, driver: set[int]) -> Iterator[None]:
    """Kill ``driver`` and its browsers if the block has not returned within ``seconds`` (the
    block then returns, or raises that the connection closed); RuntimeError if it had to."""
    killed = threading.Event()

    def on_time() -> None:
        killed.set()
        kill(driver)

    timer = threading.Timer(seconds, on_time)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if killed.is_set():
            raise RuntimeError(_stuck(seconds)) from exc
        raise
    finally:
        timer.cancel()
        timer.join()
    if killed.is_set():
        raise RuntimeError(_stuck(seconds))


def _stuck(seconds: float) -> str:
    return (
        f"Chromium and Playwright's driver did not close within {seconds:g} s and were killed "
        "(Debian's Chromium's crash handlers run outside its process group and can keep its "
        "output open, and Playwright waits for that forever)"
    )


def kill(driver: set[int]) -> None:
    """SIGKILL each driver's browsers (Playwright starts each in a process group of its own)
    and then the driver."""
    for pid in driver:
        for child in children(pid):
            with contextlib.suppress(OSError):
                os.killpg(child, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def drivers() -> set[int]:
    """This process's children that are a Playwright driver (``node ... run-driver``)."""
    found = set()
    for pid in children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"run-driver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
    return found


def children(parent: int) -> set[int]:
    """The processes whose parent is ``parent`` (Linux: from /proc)."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.add(int(entry.name))
    return found
