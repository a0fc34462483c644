"""Errors classified into the fixed kinds of DESIGN section 4, each with words for people.

Integrations raise `TaskmasterError` with a kind and a message a user can act on
("JIRA_API_TOKEN was refused by acme.atlassian.net"). Raw details (status codes,
response bodies, tracebacks) go to the log, never into the message. Anything that
escapes unclassified becomes `internal` through `classify()`.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum


class ErrorKind(StrEnum):
    TICKET_NOT_FOUND = "ticket_not_found"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MODEL_OUTPUT = "model_output"
    GIT = "git"
    TESTS = "tests"
    BUDGET_EXHAUSTED = "budget_exhausted"
    INVALID_INPUT = "invalid_input"
    INTERNAL = "internal"


_DEFAULT_MESSAGES: dict[ErrorKind, str] = {
    ErrorKind.TICKET_NOT_FOUND: "The ticket could not be found.",
    ErrorKind.AUTH: "A service refused our credentials.",
    ErrorKind.RATE_LIMITED: "A service is rate limiting us; try again in a minute.",
    ErrorKind.TIMEOUT: "A service took too long to answer.",
    ErrorKind.CONNECTION: "A service could not be reached.",
    ErrorKind.MODEL_OUTPUT: "The model answered something TaskMaster could not use.",
    ErrorKind.GIT: "A git operation failed.",
    ErrorKind.TESTS: "The tests could not be run.",
    ErrorKind.BUDGET_EXHAUSTED: "The agent ran out of steps or time before finishing.",
    ErrorKind.INVALID_INPUT: "That input is not valid.",
    ErrorKind.INTERNAL: "Something went wrong inside TaskMaster; the details are in its log.",
}


class TaskmasterError(Exception):
    """An error with a kind and a message written for the person who asked."""

    def __init__(self, kind: ErrorKind, message: str | None = None) -> None:
        self.kind = kind
        self.message = message or _DEFAULT_MESSAGES[kind]
        super().__init__(self.message)

    def __reduce__(self) -> tuple[type[TaskmasterError], tuple[ErrorKind, str]]:
        return (type(self), (self.kind, self.message))


def classify(exc: BaseException) -> TaskmasterError:
    """Map any exception to a `TaskmasterError` without leaking its text to people."""
    if isinstance(exc, TaskmasterError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TaskmasterError(ErrorKind.TIMEOUT)
    if isinstance(exc, (ConnectionError, OSError)) and not isinstance(exc, FileNotFoundError):
        return TaskmasterError(ErrorKind.CONNECTION)
    return TaskmasterError(ErrorKind.INTERNAL)
