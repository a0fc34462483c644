"""Token usage summed from the provider's counts, and a cost only where the price is known."""

from __future__ import annotations

import pytest

from agent.usage import PRICES, RunUsage, price_of

OPENAI_REPLY = {
    "input_tokens": 10_000,
    "output_tokens": 500,
    "input_token_details": {"cache_read": 8_000},
}


def test_usage_adds_the_providers_counts_and_prices_cached_input_lower() -> None:
    usage = RunUsage().add(OPENAI_REPLY, "gpt-4o-2024-08-06").add(OPENAI_REPLY, "gpt-4o")
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (2, 20_000, 1_000)
    assert usage.cached_tokens == 16_000
    price = PRICES["gpt-4o"]
    per_call = (2_000 * price.input + 8_000 * price.cached + 500 * price.output) / 1_000_000
    assert usage.cost_usd == pytest.approx(2 * per_call)
    assert usage.describe() == "20,000 tokens in (16,000 cached), 1,000 out, about $0.04"


def test_an_unknown_model_shows_tokens_only() -> None:
    usage = RunUsage().add({"input_tokens": 5, "output_tokens": 1}, "llama-local")
    assert usage.cost_usd is None
    assert usage.describe() == "5 tokens in, 1 out"


def test_a_reply_without_usage_changes_nothing() -> None:
    assert RunUsage().add(None, "gpt-4o") == RunUsage()


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic:claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("o3-mini", "o3-mini"),
    ],
)
def test_prices_match_the_longest_known_family(model: str, family: str) -> None:
    assert price_of(model) == PRICES[family]
