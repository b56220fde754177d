"""The SDK's in-process cache of resolved prompts, with stale-while-revalidate.

An entry is *fresh* for ``ttl`` seconds after it was fetched (or revalidated): served with no
I/O. For ``stale_ttl`` seconds after that it is *stale*: still served at once, while one
background refresh per key revalidates it (``If-None-Match``; the server answers 304 when
nothing changed). After that it is *expired*: the next read fetches (conditionally) in the
foreground, and serves the expired entry anyway if the server cannot be reached.

The read path takes no lock and does no I/O; writers hold a lock only for dict updates.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from prompt_ledger.sdk.types import Prompt

Key = tuple[str, str | None, int | None]
"""(name, label, version)"""


@dataclass(slots=True)
class Entry:
    prompt: Prompt
    etag: str | None
    fresh_until: float
    stale_until: float


class PromptCache:
    __slots__ = ("_entries", "_generations", "_lock", "_refreshing", "clock", "stale_ttl", "ttl")

    def __init__(
        self, ttl: float, stale_ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = max(0.0, ttl)
        self.stale_ttl = max(0.0, stale_ttl)
        self.clock = clock
        """Seconds on a monotonic scale (a port: tests move a fake clock instead of sleeping)."""
        self._entries: dict[Key, Entry] = {}
        self._refreshing: set[Key] = set()
        self._generations: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def lookup(self, key: Key) -> tuple[Prompt | None, bool]:
        """The hot path: ``(prompt to serve now or None, start a background refresh?)``."""
        entry = self._entries.get(key)
        if entry is None:
            return None, False
        now = self.clock()
        if now < entry.fresh_until:
            return entry.prompt, False
        if now < entry.stale_until:
            return entry.prompt, self._claim(key)
        return None, False

    def entry(self, key: Key) -> Entry | None:
        """Whatever is stored, even expired (for conditional requests and stale-if-error)."""
        return self._entries.get(key)

    def generation(self, name: str) -> int:
        """Capture before fetching; a local write in between makes ``store`` drop the result."""
        return self._generations.get(name, 0)

    def store(self, key: Key, prompt: Prompt, etag: str | None, generation: int) -> None:
        now = self.clock()
        with self._lock:
            if self._generations[key[0]] != generation:
                return
            self._entries[key] = Entry(
                prompt, etag, now + self.ttl, now + self.ttl + self.stale_ttl
            )

    def renew(self, key: Key, generation: int) -> Prompt | None:
        """A 304: the stored entry is current again. None when it vanished meanwhile."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._generations[key[0]] != generation:
                return None
            entry.fresh_until = now + self.ttl
            entry.stale_until = now + self.ttl + self.stale_ttl
            return entry.prompt

    def invalidate(self, *names: str) -> None:
        """Drop every entry of ``names`` (after a write through this client)."""
        wanted = set(names)
        with self._lock:
            for name in wanted:
                self._generations[name] += 1
            for key in [k for k in self._entries if k[0] in wanted]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            for name in {k[0] for k in self._entries}:
                self._generations[name] += 1
            self._entries.clear()

    def release(self, key: Key) -> None:
        with self._lock:
            self._refreshing.discard(key)

    def _claim(self, key: Key) -> bool:
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def __len__(self) -> int:
        return len(self._entries)
