"""Platform-cron deploy surface: ``python jobs/cron.py recover|prune`` runs one periodic task
once (Railway cronSchedule, Render cron jobs). Same as ``promptledger jobs <name>``."""

import sys

from prompt_ledger.cli import app

if __name__ == "__main__":
    app(["jobs", *sys.argv[1:]])
