"""The one way the graph's nodes call the model: within the run's budgets, with a deadline.

`ask` checks the token budget (TASKMASTER_MAX_TOKENS) before it spends anything,
sends a conversation every provider accepts and that fits TASKMASTER_CONTEXT_TOKENS
(`agent.conversation`), bounds the call by its own deadline on top of the client's
timeout and retries (a provider whose client ignores them cannot hang a run), turns
the provider's failures into the engine's errors, and adds the reply's token usage
to the run's total.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from agent import conversation
from agent.deps import Deps
from agent.errors import Budget, BudgetExhausted, ErrorKind, ServiceTimeout, TaskmasterError
from agent.events import UsageReported, emit
from agent.integrations.chat_models import SERVICES, CallLimits, model_error
from agent.state import RunState
from agent.usage import RunUsage

log = logging.getLogger(__name__)

# The client's own backoff between retries; a retry-after it honours may be longer.
RETRY_PAUSE_S = 60.0


@dataclass(frozen=True)
class Answer:
    """A model reply, and what the node should write back to the state with it."""

    message: AIMessage
    shortened: list[BaseMessage]  # state messages replaced by shorter versions (same ids)
    usage: RunUsage
    token_scale: float

    def update(self) -> dict[str, Any]:
        return {"usage": self.usage.model_dump(mode="json"), "token_scale": self.token_scale}


def run_usage(state: RunState) -> RunUsage:
    return RunUsage.model_validate(state.get("usage") or {})


async def ask(
    deps: Deps,
    state: RunState,
    messages: Sequence[BaseMessage],
    tools: Sequence[Any],
    *,
    tool_choice: str | None = None,
) -> Answer:
    """One model call for this run; raises the engine's errors, never a provider's."""
    settings = deps.settings
    spec = settings.model or ""
    usage = run_usage(state)
    scale = float(state.get("token_scale") or 1.0)
    if usage.total_tokens >= settings.max_tokens:
        raise BudgetExhausted(Budget.TOKENS, settings.max_tokens, used=usage.total_tokens)

    valid = conversation.repair(messages)
    fitted, estimate = conversation.fit(valid, tools, settings.context_tokens, scale=scale)
    if usage.total_tokens + estimate > settings.max_tokens:
        # Sending it would spend past the budget: stop before, not after.
        raise BudgetExhausted(Budget.TOKENS, settings.max_tokens, used=usage.total_tokens)
    state_ids = {message.id for message in messages if message.id}
    shortened = [
        after
        for before, after in zip(valid, fitted, strict=True)
        if after is not before and after.id in state_ids
    ]

    model = deps.model_for(state["ticket_key"])
    bound = model.bind_tools(tools, tool_choice=tool_choice) if tools else model
    limits = CallLimits(settings.model_timeout, settings.model_retries)
    deadline = (limits.retries + 1) * limits.timeout + limits.retries * RETRY_PAUSE_S
    try:
        async with asyncio.timeout(deadline):
            reply = await bound.ainvoke(fitted)
    except TimeoutError:
        service = SERVICES.get(spec.partition(":")[0], "The model")
        raise ServiceTimeout(service, None, deadline, "TASKMASTER_MODEL_TIMEOUT") from None
    except Exception as exc:
        error = model_error(exc, spec, limits, context_tokens=settings.context_tokens)
        if error is None:
            raise
        if not isinstance(exc, TaskmasterError):
            log.warning("model call failed: %r", exc)
        raise error from None
    if not isinstance(reply, AIMessage):
        raise TaskmasterError(ErrorKind.MODEL_OUTPUT)

    metadata = reply.usage_metadata
    total = usage.add(metadata, spec.partition(":")[2])
    if metadata:
        emit(UsageReported(usage=total))
        # Follow the provider's count where it is above the estimate (a tokenizer that
        # makes more tokens of this text than CHARS_PER_TOKEN assumes).
        raw = estimate / max(scale, 1.0)
        counted = int(metadata.get("input_tokens") or 0)
        scale = max(1.0, counted / raw) if raw else scale
    return Answer(reply, shortened, total, scale)
