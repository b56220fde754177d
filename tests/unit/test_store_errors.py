"""db/store.py's translate_errors: the driver's and the queue's failures become ours at the
boundary, with real psycopg, psycopg_pool and procrastinate exceptions (no database needed)."""

from __future__ import annotations

import psycopg
import psycopg_pool
import pytest
from procrastinate.exceptions import ConnectorException

from prompt_ledger.db.store import translate_errors
from prompt_ledger.errors import Conflict, NotFound, ServiceUnavailable


def translated(exc: BaseException) -> BaseException:
    """What leaves translate_errors when ``exc`` is raised inside it."""
    try:
        with translate_errors():
            raise exc
    except BaseException as error:
        return error
    raise AssertionError("translate_errors swallowed the exception")


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.OperationalError("connection refused"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    ],
)
def test_a_database_out_of_reach_is_503(exc: BaseException) -> None:
    error = translated(exc)
    assert isinstance(error, ServiceUnavailable)
    assert error.__cause__ is exc


def test_the_queue_s_wrapper_of_a_database_error_is_translated_as_that_error() -> None:
    """procrastinate's defer, on our connection, wraps psycopg's error in its own."""
    cause = psycopg.OperationalError("server closed the connection unexpectedly")
    wrapper = ConnectorException("defer failed")
    wrapper.__cause__ = cause

    error = translated(wrapper)

    assert isinstance(error, ServiceUnavailable)
    assert error.__cause__ is cause


def test_a_queue_error_of_another_cause_is_left_alone() -> None:
    wrapper = ConnectorException("defer failed")
    wrapper.__cause__ = ValueError("not a database error")
    assert translated(wrapper) is wrapper


def test_only_the_queue_s_wrapper_is_unwrapped() -> None:
    """Our own error raised from a driver error is our bug (a 500), not the driver's error."""
    ours = RuntimeError("our bug, while handling a database error")
    ours.__cause__ = psycopg.OperationalError("connection refused")
    assert translated(ours) is ours


def test_a_unique_violation_without_a_constraint_name_is_a_conflict_saying_unique() -> None:
    error = translated(psycopg.errors.UniqueViolation("duplicate key value"))
    assert isinstance(error, Conflict)
    assert "(unique)" in str(error)


@pytest.mark.parametrize(
    "exc",
    [NotFound("Prompt x not found."), ValueError("our bug"), psycopg.DataError("our bug too")],
)
def test_our_own_errors_and_bugs_pass_through_unchanged(exc: BaseException) -> None:
    """A PromptLedgerError is already ours; anything else is a bug, a 500 the HTTP layer logs
    (a DataError included: request values are refused at the edge)."""
    assert translated(exc) is exc
