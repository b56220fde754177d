"""Settings refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prompt_ledger.settings import Settings

STRONG = "a-strong-operator-key-0123456789"


@pytest.mark.parametrize("environment", ["production", "prod", " Production "])
@pytest.mark.parametrize("value", ["true", "1", "on", True])
def test_production_refuses_demo_fallback_true(environment: str, value: object) -> None:
    with pytest.raises(ValidationError, match="DEMO_FALLBACK=true cannot be enabled"):
        Settings(_env_file=None, environment=environment, api_key=STRONG, demo_fallback=value)


def test_production_refuses_demo_fallback_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("API_KEY", STRONG)
    monkeypatch.setenv("DEMO_FALLBACK", "true")
    with pytest.raises(ValidationError, match="DEMO_FALLBACK=true"):
        Settings(_env_file=None)


def test_production_allows_auto_and_off_and_development_allows_true() -> None:
    for value in ("auto", "false"):
        kept = Settings(
            _env_file=None, environment="production", api_key=STRONG, demo_fallback=value
        )
        assert kept.demo_fallback == (value if value == "auto" else False)
    assert Settings(_env_file=None, environment="development", demo_fallback="true").demo_fallback
