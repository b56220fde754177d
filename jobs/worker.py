"""Worker deploy surface: ``python jobs/worker.py`` (same as ``promptledger worker``, with its
start-up checks and one-line errors)."""

import sys

from prompt_ledger.cli import app

if __name__ == "__main__":
    app(["worker", *sys.argv[1:]])
