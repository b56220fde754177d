"""How a command fails, in one place: whatever a command raises becomes one line on stderr (a
JSON document with ``--json``) and a documented exit code (:data:`EXIT_CODES`); the traceback
is shown only with ``--debug`` or ``DEBUG=true``.

:class:`GuardedGroup`, the root command's group, applies :func:`explain` to every command, so a
command raises and never formats its own failure."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard

import typer
from typer.core import TyperGroup

from prompt_ledger.errors import PromptLedgerError
from prompt_ledger.startup import (
    DatabaseUnavailable,
    MissingExtra,
    PortInUse,
    causes,
    database_failure,
    database_unavailable,
    need,
    schema_missing,
    settings_error,
)
from prompt_ledger.startup_errors import SettingsError, StartupError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from prompt_ledger.sdk.errors import PromptLedgerAPIError


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    VALIDATION = 5
    AUTH = 6
    UNAVAILABLE = 7
    FAILED = 8
    CONFIG = 9
    MISSING_EXTRA = 10
    PORT_IN_USE = 11


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error (a bug: rerun with --debug and report the traceback)",
    ExitCode.USAGE: "usage error: unknown command or option, missing or invalid argument",
    ExitCode.NOT_FOUND: "not found: prompt, version, label, execution, project or key",
    ExitCode.CONFLICT: "conflict: e.g. editing a tracking-mode prompt, a duplicate project",
    ExitCode.VALIDATION: (
        "invalid input: refused by the server (400/422: template errors, missing variables, "
        "unknown model) or a template file that cannot be read"
    ),
    ExitCode.AUTH: "no API key, or the key is unknown, revoked or lacks the scope",
    ExitCode.UNAVAILABLE: (
        "server or database unreachable, unavailable or too slow (5xx, 429, timeouts), "
        "or the database went away mid-command"
    ),
    ExitCode.FAILED: "the execution failed: the provider failed, or it ended failed/cancelled",
    ExitCode.CONFIG: (
        "a setting is missing or wrong: DATABASE_URL unset or not migrated, a value of the "
        "wrong type, the default API_KEY in production, a --url that is not PromptLedger"
    ),
    ExitCode.MISSING_EXTRA: (
        "the command needs an extra that is not installed: "
        "pip install 'prompt-ledger[server]' ('prompt-ledger[local]' for dev)"
    ),
    ExitCode.PORT_IN_USE: "the port is already in use: stop the other process, or set PORT",
}

JSON_MODE = "promptledger.json"
"""``ctx.meta`` key: the command was given ``--json`` (errors are JSON on stderr)."""
DEBUG_MODE = "promptledger.debug"
"""``ctx.meta`` key: ``--debug`` was given (tracebacks are shown)."""
TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


class CLIError(Exception):
    """A failure of a command, with its exit code and, for ``--json``, its details."""

    def __init__(
        self, message: str, code: ExitCode, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = dict(details or {})


# --- exceptions to messages and exit codes --------------------------------------------------

_STARTUP_CODES: list[tuple[type[StartupError], ExitCode]] = [
    (SettingsError, ExitCode.CONFIG),
    (MissingExtra, ExitCode.MISSING_EXTRA),
    (PortInUse, ExitCode.PORT_IN_USE),
    (DatabaseUnavailable, ExitCode.UNAVAILABLE),
]
"""Any other :class:`StartupError` is a configuration problem."""
_STATUS_CODES = {
    400: ExitCode.VALIDATION,
    401: ExitCode.AUTH,
    403: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    422: ExitCode.VALIDATION,
    429: ExitCode.UNAVAILABLE,
    502: ExitCode.FAILED,
    503: ExitCode.UNAVAILABLE,
}


def explain(error: BaseException) -> CLIError:
    """The one line and the exit code for anything a command raised."""
    chain = causes(error)
    for found in chain:
        if isinstance(found, CLIError):
            return found
        if _is_sdk_error(found):
            return as_cli_error(found)
    database = database_failure(error)  # before our errors that wrap it: it has the reason
    if database is not None:
        return CLIError(str(database_unavailable(database)), ExitCode.UNAVAILABLE)
    if (unmigrated := schema_missing(error)) is not None:
        return CLIError(str(unmigrated), ExitCode.CONFIG)
    for found in chain:
        if isinstance(found, StartupError):
            code = next((c for kind, c in _STARTUP_CODES if isinstance(found, kind)), None)
            return CLIError(str(found), code or ExitCode.CONFIG)
        if isinstance(found, PromptLedgerError):
            return CLIError(found.detail, code_for_status(found.status))
        if isinstance(found, ModuleNotFoundError) and (missing := _missing_extra()) is not None:
            return CLIError(str(missing), ExitCode.MISSING_EXTRA)
        if isinstance(found, OSError) and found.errno == errno.EADDRINUSE:
            return CLIError(
                f"{found.strerror}: stop the other process, or set PORT", ExitCode.PORT_IN_USE
            )
        if _is_settings_error(found):
            return CLIError(str(settings_error(found)), ExitCode.CONFIG)
    reason = " ".join(str(error).split())[:300].rstrip(".")
    return CLIError(
        f"Unexpected error: {type(error).__name__}"
        + (f": {reason}" if reason else "")
        + ". Rerun with --debug for the traceback.",
        ExitCode.UNEXPECTED,
    )


def code_for_status(status: int) -> ExitCode:
    """The exit code of a PromptLedger error answer with HTTP ``status``."""
    if status >= 500 and status != 502:
        return ExitCode.UNAVAILABLE
    return _STATUS_CODES.get(status, ExitCode.UNEXPECTED)


def _is_sdk_error(error: BaseException) -> TypeGuard[PromptLedgerAPIError]:
    """Without importing the SDK: a command that raised one has imported it."""
    sdk = sys.modules.get("prompt_ledger.sdk.errors")
    return sdk is not None and isinstance(error, sdk.PromptLedgerAPIError)


def _is_settings_error(error: BaseException) -> TypeGuard[ValidationError]:
    """A validation error of the settings (``Settings()`` built outside ``load_settings``)."""
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None
        and isinstance(error, pydantic.ValidationError)
        and error.title == "Settings"
    )


def _missing_extra() -> MissingExtra | None:
    for extra in ("server", "local"):
        try:
            need(extra)
        except MissingExtra as missing:
            return missing
    return None


def exit_code_for(error: PromptLedgerAPIError) -> ExitCode:
    """The exit code of an SDK error."""
    from prompt_ledger.sdk import errors

    if isinstance(error, errors.APIStatusError) and _not_ours(error) and error.status in (404, 405):
        return ExitCode.CONFIG  # --url points at a server that is not PromptLedger
    mapping: list[tuple[type[Exception], ExitCode]] = [
        (errors.ProviderError, ExitCode.FAILED),
        (errors.NotFoundError, ExitCode.NOT_FOUND),
        (errors.ConflictError, ExitCode.CONFLICT),
        (errors.ValidationError, ExitCode.VALIDATION),
        (errors.BadRequestError, ExitCode.VALIDATION),
        (errors.AuthenticationError, ExitCode.AUTH),
        (errors.PermissionDeniedError, ExitCode.AUTH),
        (errors.ConfigurationError, ExitCode.AUTH),
        (errors.APIConnectionError, ExitCode.UNAVAILABLE),
        (errors.ServerError, ExitCode.UNAVAILABLE),
        (errors.RateLimitError, ExitCode.UNAVAILABLE),
        (errors.WaitTimeoutError, ExitCode.UNAVAILABLE),
    ]
    return next((code for kind, code in mapping if isinstance(error, kind)), ExitCode.UNEXPECTED)


def as_cli_error(error: PromptLedgerAPIError) -> CLIError:
    """The SDK error as the CLI reports it: the server's explanation (``detail``) with the
    field problems it lists, or the SDK's message; for ``--json`` the problem document."""
    from prompt_ledger.sdk import errors

    details: dict[str, Any] = {"status": error.status}
    if error.body:
        details["problem"] = error.body
    code = exit_code_for(error)
    if isinstance(error, errors.APIStatusError) and _not_ours(error):
        what = f"{error.status} {error.title or ''}".strip()
        return CLIError(
            f"The server answered {what}, not as PromptLedger does: is --url "
            "(PROMPT_LEDGER_URL) the address of a PromptLedger server?",
            code,
            details,
        )
    if isinstance(error, errors.APIConnectionError):
        return CLIError(
            f"{error.message}. Is the server running? Check --url or PROMPT_LEDGER_URL.",
            code,
            details,
        )
    explained = isinstance(error, errors.APIStatusError) and bool(error.body.get("detail"))
    lines = [error.detail if explained else error.message]
    if not (isinstance(error, errors.ValidationError) and error.missing):  # the detail names them
        for problem in error.errors or []:
            where = ".".join(str(part) for part in problem.get("loc", []))
            lines.append(f"  {where}: {problem.get('msg', '')}" if where else f"  {problem}")
    if isinstance(error, errors.PermissionDeniedError) and error.body.get("required_scope"):
        lines.append(f"  required scope: {error.body['required_scope']}")
    if isinstance(error, errors.APIStatusError) and error.execution_id:
        lines.append(f"  execution: {error.execution_id}")
    return CLIError("\n".join(lines), code, details)


def _not_ours(error: PromptLedgerAPIError) -> bool:
    """An error answer without a PromptLedger problem document (another server, a proxy)."""
    from prompt_ledger.sdk.errors import PROBLEM_BASE

    return error.status is not None and not (error.type or "").startswith(PROBLEM_BASE)


# --- reporting -------------------------------------------------------------------------------


def report(failure: CLIError, *, json_mode: bool) -> NoReturn:
    """Print ``failure`` on stderr (JSON with ``--json``) and exit with its code."""
    if json_mode:
        document = {"error": failure.message, "exit_code": int(failure.code), **failure.details}
        typer.echo(json.dumps(document, ensure_ascii=False, default=str), err=True)
    else:
        typer.echo(f"Error: {failure.message}", err=True)
    raise typer.Exit(int(failure.code))


def debugging(ctx: Any = None) -> bool:
    """``--debug`` was given, or ``DEBUG`` is true in the environment."""
    flagged = ctx is not None and bool(ctx.meta.get(DEBUG_MODE))
    return flagged or os.environ.get("DEBUG", "").strip().lower() in TRUE


class GuardedGroup(TyperGroup):
    """The root group: a command's exception is reported by :func:`explain` and :func:`report`
    (or, when debugging, left to Python, which prints the traceback)."""

    def invoke(self, ctx: Any) -> Any:  # a click (or, from typer 0.24, typer's own) Context
        try:
            return super().invoke(ctx)
        except Exception as error:
            if _signals_the_framework(error) or debugging(ctx):
                raise
            report(explain(error), json_mode=bool(ctx.meta.get(JSON_MODE)))


def _signals_the_framework(error: Exception) -> bool:
    """``typer.Exit``, ``typer.Abort`` and usage errors (click's or typer's ``ClickException``,
    which carry their exit code): handled by the framework, which prints what it must."""
    return isinstance(error, typer.Exit | typer.Abort) or hasattr(error, "exit_code")
