"""Testing utilities shipped with PromptLedger (used by its own tests and benchmarks)."""
