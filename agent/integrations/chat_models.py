"""The chat model for a run, chosen by TASKMASTER_MODEL (`provider:model`).

A registry maps a provider name to the factory that understands the rest of the
setting; every provider not in it goes to LangChain's `init_chat_model`, which knows
them all. `langchain` itself is an optional extra, so it is imported only when a real
provider is configured, and its absence is a settings error, not a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.base import ModelFactory
from agent.integrations.scripted_model import ScriptedChatModel, load_script
from agent.settings import SettingsError

log = logging.getLogger(__name__)

ProviderFactory = Callable[[str, str], ModelFactory]
"""Builds the per-run model factory from the provider and the text after the colon."""

# The providers with an extra in pyproject.toml; others are installed by hand.
EXTRAS = frozenset({"anthropic", "openai"})


def _scripted(provider: str, location: str) -> ModelFactory:
    path = Path(location).expanduser()
    if not path.exists():
        raise SettingsError(f"TASKMASTER_MODEL={provider}:{location}: {path} does not exist")

    def factory(key: str) -> BaseChatModel:
        # Read per run, so a script edited between runs is picked up without a restart.
        script = load_script(path, key)
        return ScriptedChatModel(script.turns, then=script.then)

    return factory


def _langchain(provider: str, model: str) -> ModelFactory:
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

    def factory(key: str) -> BaseChatModel:
        try:
            chat_model: BaseChatModel = init_chat_model(spec)
        except ImportError:
            raise TaskmasterError(
                ErrorKind.INVALID_INPUT, f"TASKMASTER_MODEL={spec} needs: {install}"
            ) from None
        except ValueError:  # an unknown provider or model; LangChain's words go to the log
            log.warning("init_chat_model(%r) failed", spec, exc_info=True)
            raise TaskmasterError(
                ErrorKind.INVALID_INPUT, f"TASKMASTER_MODEL={spec} is not a model LangChain knows."
            ) from None
        return chat_model

    return factory


PROVIDERS: dict[str, ProviderFactory] = {"scripted": _scripted}


def model_factory(spec: str) -> ModelFactory:
    """The `ModelFactory` for TASKMASTER_MODEL; a `SettingsError` when it cannot work."""
    provider, colon, rest = spec.partition(":")
    if not colon or not provider.strip() or not rest.strip():
        raise SettingsError(
            f"TASKMASTER_MODEL={spec!r} must look like provider:model "
            "(e.g. anthropic:claude-sonnet-4-5 or scripted:PATH)"
        )
    make = PROVIDERS.get(provider.strip(), _langchain)
    return make(provider.strip(), rest.strip())
