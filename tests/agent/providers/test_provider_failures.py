"""A provider that refuses, limits, breaks or hangs: the run fails with the right kind and
words, in bounded time, and `resume` continues it once the provider is healthy."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from agent.errors import ErrorKind
from agent.events import ErrorRaised
from tests.agent.providers.conftest import SHARED_LOOP, Provider, Recorder, running
from tests.fakes.chat import demo_turns

pytestmark = SHARED_LOOP

TIMEOUT_S = 1.0
RETRIES = 1


def refuse_the_key(provider: Provider) -> Callable[[], None]:
    real, provider.fake.key = provider.fake.key, "another-key"

    def heal() -> None:
        provider.fake.key = real

    return heal


def rate_limit_for_ever(provider: Provider) -> Callable[[], None]:
    provider.fake.fail_with(429, times=1000)
    return provider.fake.heal


def break_for_ever(provider: Provider) -> Callable[[], None]:
    provider.fake.fail_with(500, times=1000)
    return provider.fake.heal


def never_answer(provider: Provider) -> Callable[[], None]:
    provider.fake.stall()
    return provider.fake.heal


FAILURES = {
    "auth": refuse_the_key,
    "rate_limited": rate_limit_for_ever,
    "connection": break_for_ever,
    "timeout": never_answer,
}


@pytest.mark.parametrize("kind", list(FAILURES))
async def test_provider_failure_is_classified_and_resume_continues_once_healthy(
    provider: Provider, recorder: Recorder, kind: str
) -> None:
    provider.fake.enqueue(*demo_turns("TASK-101"))
    heal = FAILURES[kind](provider)
    overrides = {
        "TASKMASTER_MODEL_TIMEOUT": str(TIMEOUT_S),
        "TASKMASTER_MODEL_RETRIES": str(RETRIES),
    }
    async with running(provider, recorder, **overrides) as manager:
        started = time.monotonic()
        run = await manager.start("TASK-101", "U_ANA")
        failed = await manager.wait(run.run_id)
        elapsed = time.monotonic() - started

        assert failed.status == "failed"
        [error] = recorder.of(ErrorRaised)
        assert error.kind == ErrorKind(kind)
        assert "internal" not in error.message.lower()
        if kind == "auth":
            assert error.message.startswith(f"{provider.key_setting} was refused")
            assert len(provider.fake.requests) == 1  # a refused key is not retried
        else:
            assert len(provider.fake.requests) == RETRIES + 1  # the client's retries, no more
        if kind == "timeout":
            # Each attempt waited TASKMASTER_MODEL_TIMEOUT; the whole run, bounded by it.
            assert (RETRIES + 1) * TIMEOUT_S <= elapsed < (RETRIES + 1) * TIMEOUT_S + 30
            assert "TASKMASTER_MODEL_TIMEOUT" in error.message

        heal()
        await manager.resume(run.run_id)
        resumed = await manager.wait(run.run_id)

    assert resumed.status == "awaiting_review", resumed.error
    assert provider.fake.refusals == []
