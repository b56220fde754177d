"""Which adapter answers which provider name, built from Settings on first use."""

from __future__ import annotations

from prompt_ledger.errors import ValidationFailed
from prompt_ledger.providers.base import Provider
from prompt_ledger.providers.demo import DemoProvider
from prompt_ledger.settings import Settings

KNOWN = ("openai", "anthropic", "demo")


class Providers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._built: dict[str, Provider] = {}

    def configured(self, name: str) -> bool:
        s = self._settings
        return (
            name == "demo"
            or (
                name == "openai" and (s.openai_api_key is not None or s.openai_base_url is not None)
            )
            or (name == "anthropic" and s.anthropic_api_key is not None)
        )

    def any_configured(self) -> bool:
        """Whether any real provider has credentials (DEMO_FALLBACK=auto stops answering then)."""
        return any(self.configured(name) for name in KNOWN if name != "demo")

    def serving(self, name: str) -> str:
        """The adapter that will answer for ``name``: itself, or ``demo`` when the demo fallback
        is on and ``name`` has no credentials. Never a silent substitution otherwise."""
        if name not in KNOWN:
            raise ValidationFailed(
                f"Unknown provider '{name}'; known providers: {', '.join(KNOWN)}.",
                errors=[
                    {
                        "loc": ["body", "model", "provider"],
                        "msg": "unknown provider",
                        "type": "provider",
                    }
                ],
            )
        if self.configured(name):
            return name
        fallback = self._settings.demo_fallback
        if fallback is True or (fallback == "auto" and not self.any_configured()):
            return "demo"
        key = "OPENAI_API_KEY (or OPENAI_BASE_URL)" if name == "openai" else "ANTHROPIC_API_KEY"
        raise ValidationFailed(
            f"Provider '{name}' is not configured on this server: set {key}.",
            errors=[
                {
                    "loc": ["body", "model", "provider"],
                    "msg": "provider not configured",
                    "type": "provider",
                }
            ],
        )

    def get(self, served_by: str) -> Provider:
        if served_by not in self._built:
            self._built[served_by] = self._build(served_by)
        return self._built[served_by]

    def _build(self, name: str) -> Provider:
        s = self._settings
        if name == "openai":
            from prompt_ledger.providers.openai import OpenAIProvider

            key = s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed"
            return OpenAIProvider(
                api_key=key, base_url=s.openai_base_url, timeout=s.provider_timeout
            )
        if name == "anthropic":
            from prompt_ledger.providers.anthropic import AnthropicProvider

            assert s.anthropic_api_key is not None
            return AnthropicProvider(
                api_key=s.anthropic_api_key.get_secret_value(),
                base_url=s.anthropic_base_url,
                timeout=s.provider_timeout,
            )
        return DemoProvider()

    async def aclose(self) -> None:
        for provider in self._built.values():
            await provider.aclose()
        self._built.clear()
