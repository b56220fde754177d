"""Container health check of the web services: GET http://127.0.0.1:$PORT/health must answer 200.

Used by the image's HEALTHCHECK (the slim image has no curl). Exit 0 when healthy, 1 otherwise.
The worker, cron and migrate containers serve no HTTP and disable the check.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    port = os.environ.get("PORT", "8080")
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            status: int = response.status
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
