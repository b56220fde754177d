"""The specs of the shared model catalogue, projects and API keys (see :mod:`._specs`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from prompt_ledger.sdk._specs import Spec, _model, _page, _query
from prompt_ledger.sdk.types import ApiKey, CreatedKey, Model, Page, Project


def list_models(provider: str | None, limit: int, cursor: str | None) -> Spec[Page[Model]]:
    return Spec(
        "GET",
        "/v1/models",
        _page(Model),
        params=_query(provider=provider, limit=limit, cursor=cursor),
    )


def set_model(
    provider: str,
    model_name: str,
    *,
    max_tokens: int | None,
    supports_streaming: bool,
    input_price_per_mtok: float | None,
    output_price_per_mtok: float | None,
) -> Spec[Model]:
    # An upsert of the whole entry: sending it twice leaves the same row, so it may be resent.
    return Spec(
        "PUT",
        f"/v1/models/{quote(provider, safe='')}/{quote(model_name, safe='/')}",
        _model(Model),
        body={
            "max_tokens": max_tokens,
            "supports_streaming": supports_streaming,
            "input_price_per_mtok": input_price_per_mtok,
            "output_price_per_mtok": output_price_per_mtok,
        },
    )


# --- projects (the instance operator) and API keys (a project's admin) ----------------------


def create_project(name: str) -> Spec[Project]:
    # A second create of the same name is refused (409): not resent after a lost answer.
    return Spec("POST", "/v1/projects", _model(Project), body={"name": name}, replay_safe=False)


def list_projects(limit: int, cursor: str | None) -> Spec[Page[Project]]:
    return Spec("GET", "/v1/projects", _page(Project), params=_query(limit=limit, cursor=cursor))


def _keys(project_id: str | uuid.UUID) -> str:
    return f"/v1/projects/{quote(str(project_id), safe='')}/keys"


def create_key(
    project_id: str | uuid.UUID,
    name: str,
    scopes: Sequence[str] | None,
    limits: Mapping[str, int | None] | None = None,
) -> Spec[CreatedKey]:
    body: dict[str, Any] = {"name": name}
    if scopes is not None:
        body["scopes"] = list(scopes)
    body |= {name: value for name, value in (limits or {}).items() if value is not None}
    # A resend would create a second key: not resent after a lost answer.
    return Spec("POST", _keys(project_id), _model(CreatedKey), body=body, replay_safe=False)


def list_keys(project_id: str | uuid.UUID, limit: int, cursor: str | None) -> Spec[Page[ApiKey]]:
    return Spec("GET", _keys(project_id), _page(ApiKey), params=_query(limit=limit, cursor=cursor))


def revoke_key(project_id: str | uuid.UUID, key_id: str | uuid.UUID) -> Spec[ApiKey]:
    # Idempotent on the server (the first revocation time is kept): safe to resend.
    return Spec("DELETE", f"{_keys(project_id)}/{quote(str(key_id), safe='')}", _model(ApiKey))
