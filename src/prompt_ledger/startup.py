"""What a server process checks before it starts, and the errors that stop a process: each one
says, in one line, what is wrong and what to do about it.

Nothing of the server is imported at module level: the command line imports this module on the
base install, where :func:`need` is what reports the missing extra."""

from __future__ import annotations

import errno
import importlib.metadata
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prompt_ledger.startup_errors import SettingsError, StartupError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from prompt_ledger.settings import Settings

DISTRIBUTION = "prompt-ledger"


class MissingExtra(StartupError):
    """The command needs an extra (``server``, ``local``) that is not installed."""

    def __init__(self, extra: str, missing: Sequence[str], alternative: str = "") -> None:
        self.extra = extra
        self.missing = list(missing)
        shown = ", ".join(self.missing[:4]) + (", ..." if len(self.missing) > 4 else "")
        super().__init__(
            f"This command needs the {extra} extra ({shown} not installed): "
            f"pip install 'prompt-ledger[{extra}]'{alternative}"
        )


class PortInUse(StartupError):
    """Another process listens on the port a server was asked to use."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        super().__init__(
            f"Port {port} on {host} is already in use (another `promptledger dev` or server?): "
            f"stop it or choose another port, e.g. PORT={_other_port(port)}"
        )


class DatabaseUnavailable(StartupError):
    """The database cannot be reached, refused us, or went away mid-command."""


# --- extras ------------------------------------------------------------------------------


def need(extra: str, *, alternative: str = "") -> None:
    """Raise :class:`MissingExtra` unless every distribution of ``extra`` is installed.

    Read from the installed package's metadata, so it follows pyproject.toml; without metadata
    (a source tree on ``sys.path``), there is nothing to check against."""
    try:
        required = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return
    missing = []
    for name in _extra_requirements(required, extra):
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise MissingExtra(extra, missing, alternative)


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _extra_requirements(requirements: Sequence[str], extra: str) -> list[str]:
    """Distribution names ``extra`` requires (following ``prompt-ledger[other]`` references)."""
    names: list[str] = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        found = _EXTRA_MARKER.search(marker)
        matched = _REQUIREMENT.match(spec)
        if found is None or found.group(1) != extra or matched is None:
            continue
        name, extras = matched.group(1), matched.group(2)
        if name.lower() == DISTRIBUTION:
            for other in (extras or "").split(","):
                names += _extra_requirements(requirements, other.strip())
        elif name not in names:
            names.append(name)
    return names


# --- settings ----------------------------------------------------------------------------


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment (and ``.env``), or :class:`SettingsError` naming each
    variable with a wrong value."""
    need("server")
    from pydantic import ValidationError

    from prompt_ledger.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise settings_error(exc) from None


def settings_error(exc: ValidationError) -> SettingsError:
    """One line for a validation error of :class:`~prompt_ledger.settings.Settings`."""
    from prompt_ledger.settings import Settings

    problems = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings: its message names them
            problems.append(message)
            continue
        field = str(error["loc"][0])
        if field == "function_urls":  # read from one <NAME>_URL per function: the message names it
            problems.append(message)
            continue
        info = Settings.model_fields.get(field)
        secret = field.endswith(("_key", "_url")) or (
            info is not None and "SecretStr" in str(info.annotation)
        )
        shown = "" if secret else f"={str(error.get('input', ''))[:40]!r}"
        problems.append(f"{field.upper()}{shown}: {message}")
    noun = "setting" if len(problems) == 1 else "settings"
    return SettingsError(f"Invalid {noun}: {'; '.join(problems)}. Fix the environment or .env.")


# --- the port ----------------------------------------------------------------------------


def claim_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening (uvicorn serves on it), or
    :class:`PortInUse`. Claimed before anything starts, so a busy port is said first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _other_port(port: int) -> int:
    return port + 1 if port < 65535 else 8081


# --- the database ------------------------------------------------------------------------


def check_database(url: str, timeout: float) -> None:
    """Connect once, or raise :class:`DatabaseUnavailable` (or :class:`SettingsError` for a URL
    that is not a PostgreSQL URL), so a command fails at once with the reason."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True):
            pass
    except psycopg.ProgrammingError as exc:
        reason = _first_line(exc).removeprefix("invalid dsn: ")
        raise SettingsError(f"DATABASE_URL is not a valid PostgreSQL URL: {reason}") from None
    except psycopg.Error as exc:
        raise database_unavailable(exc, url) from None


def database_unavailable(exc: BaseException, url: str | None = None) -> DatabaseUnavailable:
    """The one-line account of a database failure (psycopg, the pool, procrastinate)."""
    where = f" at {database_location(url)}" if url else ""
    reason = _first_line(exc) or type(exc).__name__
    return DatabaseUnavailable(
        f"The database{where} is unavailable: {reason}. Check DATABASE_URL and that "
        "PostgreSQL is running."
    )


def database_failure(error: BaseException) -> BaseException | None:
    """The database error behind ``error`` (itself, or in its causes), if there is one."""
    import sys

    kinds: list[type[BaseException]] = []
    if "psycopg" in sys.modules:
        kinds.append(sys.modules["psycopg"].OperationalError)
    if "psycopg_pool" in sys.modules:
        kinds.append(sys.modules["psycopg_pool"].PoolTimeout)
    if not kinds:
        return None
    return next((e for e in causes(error) if isinstance(e, tuple(kinds))), None)


SCHEMA_MISSING = (
    "The database has no PromptLedger schema, or an outdated one ({reason}): run "
    "`promptledger migrate` (DATABASE_URL names the database)"
)
_UNDEFINED = {"42P01", "42703", "42883", "3F000"}
"""SQLSTATEs of a missing table, column, function or schema: migrations not run."""


def schema_missing(error: BaseException) -> SettingsError | None:
    """:class:`SettingsError` when ``error`` (or a cause) says a table, column, function or
    schema does not exist: the database was not migrated (or not to this version)."""
    for found in causes(error):
        if getattr(found, "sqlstate", None) in _UNDEFINED:
            return SettingsError(SCHEMA_MISSING.format(reason=_first_line(found)))
    return None


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from (or while handling), outermost first,
    as a traceback would show them (``raise ... from None`` ends the chain)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain


def database_location(url: str) -> str:
    """``host:port/dbname`` of a libpq URL, never its password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)
    except Exception:
        return "DATABASE_URL"
    host = str(info.get("host") or "localhost")
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}".rstrip("/")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split()).rstrip(".")
    return ""
