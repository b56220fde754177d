"""Business rules. No HTTP, no SQL text, no os.environ: services call named queries through
the store and raise domain errors."""
