"""PromptLedger: a self-hosted control plane for GenAI prompts."""

__version__ = "0.1.0"
