"""The engine's one exception tree: every failure a person may hear about, as data.

```
Exception
├── TaskmasterError          a run or a request failed; `kind` (an ErrorKind),
│   │                        `message` for people, `retryable`
│   ├── ServiceError         an outside service (Jira, GitHub, OpenAI, ...) failed;
│   │   │                    `service` and `host` name it
│   │   ├── AuthRefused      auth: `setting` names the key or token to check
│   │   ├── RateLimited      rate_limited: `wait`, the seconds the service asked for
│   │   ├── ServiceTimeout   timeout: no answer within `seconds`
│   │   └── ServiceUnreachable  connection: a 5xx (`status`) or no connection at all
│   └── BudgetExhausted      budget_exhausted: `budget` (steps, tokens, minutes,
│                            context, window), its `setting`, `limit` and `used`
└── RunRefused               the lifecycle will not do what was asked: `reason`
                             (a `RefusalReason`), the `run` as it stands
```

Integrations raise these with data, never with prose assembled at the raise site:
each class writes its message for people once, from its fields ("GITHUB_TOKEN was
refused by api.github.com"). Raw details (status codes, response bodies, tracebacks)
go to the log, never into a message. Anything that escapes unclassified becomes
`internal` through `classify()`. Surfaces word refusals for their medium from
`reason`; they may show `message` as it is.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.runs.store import RunRecord


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
    STORAGE = "storage"  # the data folder cannot be written: read-only, full, locked
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
    ErrorKind.STORAGE: "TaskMaster's data folder cannot be written.",
    ErrorKind.INTERNAL: "Something went wrong inside TaskMaster; the details are in its log.",
}
# Kinds where the same request may work later with nothing changed.
_RETRYABLE = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.TIMEOUT, ErrorKind.CONNECTION})


def _rebuild(cls: type[Exception], state: dict[str, Any]) -> Exception:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, state.get("message", ""))
    return error


class TaskmasterError(Exception):
    """An error with a kind and a message written for the person who asked."""

    def __init__(self, kind: ErrorKind, message: str | None = None) -> None:
        self.kind = kind
        self.message = message or _DEFAULT_MESSAGES[kind]
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        """Whether the same step may succeed later with nothing changed."""
        return self.kind in _RETRYABLE

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses keep their data through a pickle (checkpoint writes, processes).
        return (_rebuild, (type(self), dict(self.__dict__)))


class ServiceError(TaskmasterError):
    """An outside service failed; `service` is its name for people, `host` where it is."""

    def __init__(self, kind: ErrorKind, service: str, host: str | None, message: str) -> None:
        self.service = service
        self.host = host
        super().__init__(kind, message)


class AuthRefused(ServiceError):
    """401/403 (or no key at all): `setting` is the credential a person should check."""

    def __init__(
        self,
        service: str,
        host: str | None,
        setting: str,
        *,
        hint: str = "",
        missing: bool = False,
    ) -> None:
        self.setting = setting
        self.hint = hint
        self.missing = missing
        if missing:
            message = f"{setting} is not set: TaskMaster needs it to use {service}."
        else:
            message = f"{setting} was refused by {host or service} ({hint or f'check {setting}'})"
        super().__init__(ErrorKind.AUTH, service, host, message)


class RateLimited(ServiceError):
    """429, or a 403 that is a rate limit: `wait` is the seconds the service asked for.

    `bound` is set when TaskMaster would not wait that long (TASKMASTER_RATE_LIMIT_WAIT).
    """

    def __init__(
        self, service: str, host: str | None, wait: float | None = None, bound: float | None = None
    ) -> None:
        self.wait = wait
        self.bound = bound
        asked = ""
        if wait is not None and wait >= 1:
            asked = f" and asked it to wait {_seconds(wait)}"
            if bound is not None:
                asked += f" (more than TASKMASTER_RATE_LIMIT_WAIT={bound:g}s)"
        message = f"{_where(service, host)} is rate limiting TaskMaster{asked}; try again later."
        super().__init__(ErrorKind.RATE_LIMITED, service, host, message)


class ServiceTimeout(ServiceError):
    """No answer within `seconds` (after the client's own retries)."""

    def __init__(self, service: str, host: str | None, seconds: float, setting: str = "") -> None:
        self.seconds = seconds
        self.setting = setting
        limit = f" ({setting})" if setting else ""
        message = f"{_where(service, host)} did not answer within {seconds:g}s{limit}."
        super().__init__(ErrorKind.TIMEOUT, service, host, message)


class ServiceUnreachable(ServiceError):
    """A server error (`status`, after retries) or no connection at all (`status` None)."""

    def __init__(self, service: str, host: str | None, status: int | None = None) -> None:
        self.status = status
        if status is None:
            message = f"{_where(service, host)} could not be reached."
        else:
            message = f"{_where(service, host)} answered with a server error; try again later."
        super().__init__(ErrorKind.CONNECTION, service, host, message)


class Budget(StrEnum):
    STEPS = "steps"
    TOKENS = "tokens"
    MINUTES = "minutes"
    CONTEXT = "context"  # the fixed part of the conversation alone exceeds the budget
    WINDOW = "window"  # the provider says the request exceeds the model's window


BUDGET_SETTINGS: dict[Budget, str] = {
    Budget.STEPS: "TASKMASTER_MAX_STEPS",
    Budget.TOKENS: "TASKMASTER_MAX_TOKENS",
    Budget.MINUTES: "TASKMASTER_MAX_MINUTES",
    Budget.CONTEXT: "TASKMASTER_CONTEXT_TOKENS",
    Budget.WINDOW: "TASKMASTER_CONTEXT_TOKENS",
}


class BudgetExhausted(TaskmasterError):
    """A run reached one of its budgets; raising `setting` and resuming continues it."""

    def __init__(self, budget: Budget, limit: float, used: float | None = None) -> None:
        self.budget = budget
        self.setting = BUDGET_SETTINGS[budget]
        self.limit = limit
        self.used = used
        super().__init__(ErrorKind.BUDGET_EXHAUSTED, self._describe())

    def _describe(self) -> str:
        limit, used, setting = self.limit, self.used or 0, self.setting
        match self.budget:
            case Budget.STEPS:
                return (
                    f"The agent used all {limit:g} steps without finishing ({setting}); "
                    "raise it to continue the run."
                )
            case Budget.TOKENS:
                return (
                    f"The run used {used:,.0f} of its {limit:,.0f} tokens ({setting}); "
                    "raise it to continue the run."
                )
            case Budget.MINUTES:
                return (
                    f"The run worked {used:.1f} of its {limit:g} minutes ({setting}); "
                    "raise it to continue the run."
                )
            case Budget.CONTEXT:
                return (
                    f"The conversation needs about {used:,.0f} tokens even with old tool "
                    f"output shortened, more than {setting}={limit:,.0f}; raise it (within "
                    "the model's context window) to continue the run."
                )
            case Budget.WINDOW:
                return (
                    f"The model's context window is smaller than {setting}={limit:,.0f}; "
                    "lower it below the model's window to continue the run."
                )


class RefusalReason(StrEnum):
    DECIDED = "decided"  # somebody else already decided: no error for the loser of a race
    UNKNOWN = "unknown"  # no such run
    STALE = "stale"  # the review or run is not in the state the request assumed
    NOT_ALLOWED = "not_allowed"  # the lifecycle's rules forbid it
    FINISHED = "finished"  # the run has ended: it takes no more messages


class RunRefused(Exception):
    """A request the lifecycle will not carry out; `message` is for the person who asked."""

    def __init__(
        self, reason: RefusalReason | str, message: str, run: RunRecord | None = None
    ) -> None:
        super().__init__(message)
        self.reason = RefusalReason(reason)
        self.message = message
        self.run = run


def classify(exc: BaseException) -> TaskmasterError:
    """Map any exception to a `TaskmasterError` without leaking its text to people."""
    if isinstance(exc, TaskmasterError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TaskmasterError(ErrorKind.TIMEOUT)
    if isinstance(exc, (ConnectionError, OSError)) and not isinstance(exc, FileNotFoundError):
        return TaskmasterError(ErrorKind.CONNECTION)
    return TaskmasterError(ErrorKind.INTERNAL)


def _where(service: str, host: str | None) -> str:
    return f"{service} at {host}" if host else service


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f} minutes"
