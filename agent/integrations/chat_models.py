"""The chat model for a run, chosen by TASKMASTER_MODEL (`provider:model`).

A registry maps a provider name to the factory that understands the rest of the
setting; every provider not in it goes to LangChain's `init_chat_model`, which knows
them all. `langchain` itself is an optional extra, so it is imported only when a real
provider is configured, and its absence is a settings error, not a traceback.

Every model call has a timeout (TASKMASTER_MODEL_TIMEOUT, per attempt) and a bounded
number of retries (TASKMASTER_MODEL_RETRIES), both handed to the provider's own
client. `model_error` turns what a provider raises into the engine's errors: LangChain
classifies the providers' HTTP failures (`langchain_core.exceptions.ModelError`) the
same way for all of them, and this module adds the words: which key to check, which
setting to change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.language_models import BaseChatModel

from agent.errors import (
    AuthRefused,
    Budget,
    BudgetExhausted,
    ErrorKind,
    RateLimited,
    ServiceTimeout,
    ServiceUnreachable,
    TaskmasterError,
)
from agent.integrations.base import ModelFactory
from agent.integrations.scripted_model import ScriptedChatModel, load_script
from agent.settings import SettingsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallLimits:
    """How long one model request may take (seconds) and how often the client retries it."""

    timeout: float = 300.0
    retries: int = 2


ProviderFactory = Callable[[str, str, CallLimits], ModelFactory]
"""Builds the per-run model factory from the provider and the text after the colon."""

# The providers with an extra in pyproject.toml; others are installed by hand.
EXTRAS = frozenset({"anthropic", "openai"})
# Names for people, and the setting that holds each provider's key.
SERVICES = {"anthropic": "Anthropic", "openai": "OpenAI", "scripted": "The scripted model"}
KEY_SETTINGS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def _scripted(provider: str, location: str, _: CallLimits) -> ModelFactory:
    path = Path(location).expanduser()
    if not path.exists():
        raise SettingsError(f"TASKMASTER_MODEL={provider}:{location}: {path} does not exist")

    def factory(key: str) -> BaseChatModel:
        # Read per run, so a script edited between runs is picked up without a restart.
        script = load_script(path, key)
        return ScriptedChatModel(
            script.turns, then=script.then, seconds_per_turn=script.seconds_per_turn
        )

    return factory


def _langchain(provider: str, model: str, limits: CallLimits) -> ModelFactory:
    spec = f"{provider}:{model}"
    install = (
        f"pip install 'taskmaster[{provider}]'"
        if provider in EXTRAS
        else f"pip install langchain langchain-{provider}"
    )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise SettingsError(
            f"TASKMASTER_MODEL={spec} needs the provider extra: {install}"
        ) from None

    made: list[BaseChatModel] = []  # one client for every run and call of this process

    def factory(key: str) -> BaseChatModel:
        if made:
            return made[0]
        try:
            chat_model: BaseChatModel = init_chat_model(
                spec, timeout=limits.timeout, max_retries=limits.retries
            )
        except ImportError:
            raise TaskmasterError(
                ErrorKind.INVALID_INPUT, f"TASKMASTER_MODEL={spec} needs: {install}"
            ) from None
        except ValueError:  # an unknown provider or model; LangChain's words go to the log
            log.warning("init_chat_model(%r) failed", spec, exc_info=True)
            raise TaskmasterError(
                ErrorKind.INVALID_INPUT, f"TASKMASTER_MODEL={spec} is not a model LangChain knows."
            ) from None
        except Exception as exc:  # a client that refuses to start: no key, most often
            error = model_error(exc, spec)
            if error is None:
                raise
            raise error from None
        made.append(chat_model)
        return chat_model

    return factory


PROVIDERS: dict[str, ProviderFactory] = {"scripted": _scripted}


def model_factory(spec: str, limits: CallLimits | None = None) -> ModelFactory:
    """The `ModelFactory` for TASKMASTER_MODEL; a `SettingsError` when it cannot work."""
    provider, colon, rest = spec.partition(":")
    if not colon or not provider.strip() or not rest.strip():
        raise SettingsError(
            f"TASKMASTER_MODEL={spec!r} must look like provider:model "
            "(e.g. anthropic:claude-sonnet-4-5 or scripted:PATH)"
        )
    make = PROVIDERS.get(provider.strip(), _langchain)
    return make(provider.strip(), rest.strip(), limits or CallLimits())


def model_error(
    exc: BaseException, spec: str, limits: CallLimits | None = None, *, context_tokens: int = 0
) -> TaskmasterError | None:
    """The engine's error for what a model call raised; None when it is not the provider's.

    Rate limits, server errors and timeouts arrive here after the client's own
    retries. A request the provider refused as malformed (400) is TaskMaster's bug,
    not the person's: it stays unclassified and becomes `internal`, logged in full.
    """
    provider, _, model = spec.partition(":")
    service = SERVICES.get(provider, provider)
    key = KEY_SETTINGS.get(provider, f"{provider.upper()}_API_KEY")
    limits = limits or CallLimits()
    status = getattr(exc, "status_code", None)
    if _context_overflow(exc):
        return BudgetExhausted(Budget.WINDOW, context_tokens)
    match exc:
        case TaskmasterError():
            return exc
        case ModelAuthenticationError() | ModelPermissionDeniedError():
            return AuthRefused(service, None, key, hint=f"check {key} and its access to {model}")
        case ModelRateLimitError():
            return RateLimited(service, None)
        case ModelTimeoutError():
            return ServiceTimeout(service, None, limits.timeout, "TASKMASTER_MODEL_TIMEOUT")
        case ModelAPIError():
            return ServiceUnreachable(service, None, status if isinstance(status, int) else 500)
        case ModelConnectionError():
            return ServiceUnreachable(service, None)
        case ModelNotFoundError():
            return TaskmasterError(
                ErrorKind.INVALID_INPUT,
                f"{service} has no model {model!r}: check TASKMASTER_MODEL={spec}.",
            )
    # Without a key OpenAI's client refuses to start, in words that name the variable.
    # (Anthropic's sends the request anyway; its 401 is `AuthRefused` above.)
    text = str(exc).lower()
    if key.lower() in text and ("missing" in text or "no api key" in text):
        return AuthRefused(service, None, key, missing=True)
    return None


def _context_overflow(exc: BaseException) -> bool:
    """The provider says the request is longer than the model's window.

    LangChain recognises most providers' wording (`ContextOverflowError`); OpenAI's own
    error code is checked too, since newer SDKs leave it out of the message LangChain
    reads.
    """
    if isinstance(exc, ContextOverflowError):
        return True
    return getattr(exc, "code", None) == "context_length_exceeded" or (
        "maximum context length" in str(exc)
    )
