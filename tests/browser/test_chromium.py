"""Closing Chromium is bounded (tests/browser/chromium.py): a Chromium that never closes is
killed, with Playwright's driver, and the close says so instead of hanging the run."""

from __future__ import annotations

import os
import signal
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


def test_a_chromium_that_never_closes_is_killed_and_the_close_says_so() -> None:
    before = drivers()
    with (  # noqa: PT012 - the close, at the block's end, raises
        pytest.raises(RuntimeError, match=r"did not close within 2 s and were killed"),
        running_chromium(close_within=2) as browser,
    ):
        assert browser.is_connected()
        (driver,) = drivers() - before
        (chromium,) = children(driver)
        os.killpg(chromium, signal.SIGSTOP)  # frozen: it never answers the close
    assert gone(driver)
    assert gone(chromium)
