"""The shared model catalogue, projects (the instance operator) and API keys (a project's
admin, or the operator): the same methods on both clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from prompt_ledger.sdk import _specs_admin as admin_specs
from prompt_ledger.sdk._specs import Spec
from prompt_ledger.sdk.types import ApiKey, CreatedKey, Model, Page, Project

T = TypeVar("T")


class SyncAdmin:
    """Models, projects and keys of :class:`PromptLedger`."""

    def _request(self, spec: Spec[T]) -> T:  # the client's
        raise NotImplementedError

    def list_models(
        self, *, provider: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Model]:
        return self._request(admin_specs.list_models(provider, limit, cursor))

    def set_model(
        self,
        provider: str,
        model_name: str,
        *,
        max_tokens: int | None = None,
        supports_streaming: bool = False,
        input_price_per_mtok: float | None = None,
        output_price_per_mtok: float | None = None,
    ) -> Model:
        """Create or replace a model of the shared catalogue and its prices (USD per 1M tokens).
        Needs the instance operator's key."""
        return self._request(
            admin_specs.set_model(
                provider,
                model_name,
                max_tokens=max_tokens,
                supports_streaming=supports_streaming,
                input_price_per_mtok=input_price_per_mtok,
                output_price_per_mtok=output_price_per_mtok,
            )
        )

    def create_project(self, name: str) -> Project:
        """Create a project (409 when the name is taken). Needs the instance operator's key."""
        return self._request(admin_specs.create_project(name))

    def list_projects(self, *, limit: int = 50, cursor: str | None = None) -> Page[Project]:
        return self._request(admin_specs.list_projects(limit, cursor))

    def create_key(
        self,
        project_id: str | UUID,
        name: str,
        *,
        scopes: Sequence[str] | None = None,
        requests_per_minute: int | None = None,
        executions_per_minute: int | None = None,
    ) -> CreatedKey:
        """Create an API key of a project. ``key`` of the answer is the secret, shown once.
        Without ``scopes`` the server grants prompts:read, prompts:write and execute. A
        project's ``admin`` key manages that project's keys; the operator's, any project's.
        ``requests_per_minute`` / ``executions_per_minute``: the key's own rate limits (unset:
        the server's defaults; 0: none)."""
        limits = {
            "requests_per_minute": requests_per_minute,
            "executions_per_minute": executions_per_minute,
        }
        return self._request(admin_specs.create_key(project_id, name, scopes, limits))

    def list_keys(
        self, project_id: str | UUID, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ApiKey]:
        """A project's keys (prefixes and scopes; never the secrets)."""
        return self._request(admin_specs.list_keys(project_id, limit, cursor))

    def revoke_key(self, project_id: str | UUID, key_id: str | UUID) -> ApiKey:
        """Revoke a key at once, in every server process (revoking twice is harmless)."""
        return self._request(admin_specs.revoke_key(project_id, key_id))


class AsyncAdmin:
    """Models, projects and keys of :class:`AsyncPromptLedger`."""

    async def _request(self, spec: Spec[T]) -> T:  # the client's
        raise NotImplementedError

    async def list_models(
        self, *, provider: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Model]:
        return await self._request(admin_specs.list_models(provider, limit, cursor))

    async def set_model(
        self,
        provider: str,
        model_name: str,
        *,
        max_tokens: int | None = None,
        supports_streaming: bool = False,
        input_price_per_mtok: float | None = None,
        output_price_per_mtok: float | None = None,
    ) -> Model:
        """Create or replace a model of the shared catalogue and its prices (USD per 1M tokens).
        Needs the instance operator's key."""
        return await self._request(
            admin_specs.set_model(
                provider,
                model_name,
                max_tokens=max_tokens,
                supports_streaming=supports_streaming,
                input_price_per_mtok=input_price_per_mtok,
                output_price_per_mtok=output_price_per_mtok,
            )
        )

    async def create_project(self, name: str) -> Project:
        """Create a project (409 when the name is taken). Needs the instance operator's key."""
        return await self._request(admin_specs.create_project(name))

    async def list_projects(self, *, limit: int = 50, cursor: str | None = None) -> Page[Project]:
        return await self._request(admin_specs.list_projects(limit, cursor))

    async def create_key(
        self,
        project_id: str | UUID,
        name: str,
        *,
        scopes: Sequence[str] | None = None,
        requests_per_minute: int | None = None,
        executions_per_minute: int | None = None,
    ) -> CreatedKey:
        """Create an API key of a project. ``key`` of the answer is the secret, shown once.
        Without ``scopes`` the server grants prompts:read, prompts:write and execute. A
        project's ``admin`` key manages that project's keys; the operator's, any project's.
        ``requests_per_minute`` / ``executions_per_minute``: the key's own rate limits (unset:
        the server's defaults; 0: none)."""
        limits = {
            "requests_per_minute": requests_per_minute,
            "executions_per_minute": executions_per_minute,
        }
        return await self._request(admin_specs.create_key(project_id, name, scopes, limits))

    async def list_keys(
        self, project_id: str | UUID, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ApiKey]:
        """A project's keys (prefixes and scopes; never the secrets)."""
        return await self._request(admin_specs.list_keys(project_id, limit, cursor))

    async def revoke_key(self, project_id: str | UUID, key_id: str | UUID) -> ApiKey:
        """Revoke a key at once, in every server process (revoking twice is harmless)."""
        return await self._request(admin_specs.revoke_key(project_id, key_id))
