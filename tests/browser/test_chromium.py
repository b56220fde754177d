"""Closing Chromium is bounded (tests/browser/chromium.py): a Chromium that never closes is
killed, with Playwright's driver, and the close says so instead of hanging the run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.browser.chromium import children, drivers, running_chromium


def gone(pid: int) -> bool:
    """Exited (a zombie included), within a few seconds: SIGKILL takes effect asynchronously."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def close_a_frozen_chromium() -> tuple[int, int]:
    """(driver, Chromium) of a Chromium frozen before its close, which raises."""
    before = drivers()
    with (  # noqa: PT012 - the close, at the block's end, raises
        pytest.raises(RuntimeError, match=r"did not close within 2 s and were killed"),
        running_chromium(close_within=2) as browser,
    ):
        assert browser.is_connected()
        (driver,) = drivers() - before
        (chromium,) = children(driver)
        os.killpg(chromium, signal.SIGSTOP)  # frozen: it never answers the close
    return driver, chromium


def test_a_chromium_that_never_closes_is_killed_and_the_close_says_so() -> None:
    # In a thread of its own: the sync API runs one Playwright per thread, and the package's
    # browser fixture may hold this one's.
    done: list[tuple[int, int]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(close_a_frozen_chromium())
        except BaseException as exc:  # raised again below
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "closing a frozen Chromium hung"
    if failed:
        raise failed[0]
    driver, chromium = done[0]
    assert gone(driver)
    assert gone(chromium)
