"""Every number a request can carry (API bodies and queries, console forms) is bounded by what
the database (or a provider) holds, so too large a value is refused by request validation, never
by the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from prompt_ledger.bodies import Body


def request_models() -> list[type[Body]]:
    """Every request model (a :class:`Body`): the API's, and the console's forms."""
    import prompt_ledger.functions  # noqa: F401 - imports every function's modules

    found: list[type[Body]] = []
    pending = list(Body.__subclasses__())
    while pending:
        model = pending.pop()
        if model not in found and "[" not in model.__name__:  # not a generic's parametrisation
            found.append(model)
            pending += model.__subclasses__()
    return sorted(found, key=lambda m: (m.__module__, m.__name__))


def unbounded(schema: Any, where: str = "") -> Iterator[str]:
    """Paths of integer and number fields with no maximum, in a JSON schema."""
    if isinstance(schema, dict):
        if schema.get("type") in {"integer", "number"} and not (
            {"maximum", "exclusiveMaximum"} & schema.keys()
        ):
            yield where
        for key, value in schema.items():
            yield from unbounded(value, f"{where}.{key}" if where else key)
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from unbounded(value, f"{where}[{index}]")


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__name__)
def test_every_number_of_a_request_is_bounded(model: type[Body]) -> None:
    found = list(unbounded(model.model_json_schema(mode="validation")))
    assert not found, f"{model.__name__}: give these fields a maximum (le=/lt=): {found}"


def test_the_models_are_found() -> None:
    names = {m.__name__ for m in request_models()}
    assert {"PutPromptBody", "RunBody", "ExecutionParams", "PromptQuery", "ModelBody"} <= names
    assert {"MoveForm", "PlayForm"} <= names  # the console's forms
