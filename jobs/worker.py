"""Worker deploy surface: ``python jobs/worker.py`` (same as ``promptledger worker``)."""

from prompt_ledger.worker import main

if __name__ == "__main__":
    main()
