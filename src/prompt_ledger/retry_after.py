"""The one parser of a server's "retry later" headers, shared by the worker (a provider's 429 or
503, ``providers/base.py``) and the SDK (our own 429 or 503, ``sdk/errors.py``).

Three forms, the first present wins:

- ``retry-after-ms: 1500`` (milliseconds; OpenAI and Anthropic send it),
- ``Retry-After: 2`` (delta-seconds, RFC 9110),
- ``Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`` (an HTTP date: the seconds until then).

Anything else (garbage, a negative or non-finite number) is ignored, as if absent. A moment in
the past is 0. Standard library only, so the SDK stays importable without the server's
dependencies."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]


def parse_retry_after(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    *,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Seconds to wait, or None when no header says (or none can be read). Header names are
    matched case-insensitively; ``now`` (epoch seconds) is a port for tests of the date form."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for name, value in items:
        found.setdefault(str(name).lower(), str(value))
    if (millis := _number(found.get("retry-after-ms"))) is not None:
        return millis / 1000.0
    value = found.get("retry-after")
    if value is None:
        return None
    if (seconds := _number(value)) is not None:
        return seconds
    return _until(value, now())


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _until(value: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - now)
