"""What a run spent on the model: tokens summed from each reply, and a cost estimate.

The tokens come from the provider's own count (LangChain's `usage_metadata`, which
reports input tokens including cached ones), so they match the provider's bill. The
cost is an estimate from list prices for the common models (USD per million tokens,
as published by OpenAI and Anthropic in 2025); a model not in the table shows tokens
only. Edit `PRICES` when the prices change.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict


class Price(NamedTuple):
    """USD per million tokens: fresh input, cached input (a cache read), output."""

    input: float
    cached: float
    output: float


# Matched by the longest prefix of the model name, so dated versions
# ("claude-sonnet-4-5-20250929", "gpt-4o-2024-08-06") find their family.
PRICES: dict[str, Price] = {
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
    "gpt-5-mini": Price(0.25, 0.025, 2.00),
    "gpt-5": Price(1.25, 0.125, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.025, 0.40),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4.1": Price(2.00, 0.50, 8.00),
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-4o": Price(2.50, 1.25, 10.00),
    "o4-mini": Price(1.10, 0.275, 4.40),
    "o3-mini": Price(1.10, 0.55, 4.40),
    "o3": Price(2.00, 0.50, 8.00),
    "claude-opus-4-5": Price(5.00, 0.50, 25.00),
    "claude-opus-4-1": Price(15.00, 1.50, 75.00),
    "claude-opus-4": Price(15.00, 1.50, 75.00),
    "claude-sonnet-4-5": Price(3.00, 0.30, 15.00),
    "claude-sonnet-4": Price(3.00, 0.30, 15.00),
    "claude-3-7-sonnet": Price(3.00, 0.30, 15.00),
    "claude-haiku-4-5": Price(1.00, 0.10, 5.00),
    "claude-3-5-haiku": Price(0.80, 0.08, 4.00),
}


def price_of(model: str) -> Price | None:
    """The list price of `model` (a name, or provider:name), if TaskMaster knows it."""
    name = model.rpartition(":")[2].strip().lower()
    matches = [prefix for prefix in PRICES if name.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


class RunUsage(BaseModel):
    """A run's model usage so far; `cost_usd` is None when the model's price is unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = ""
    calls: int = 0
    input_tokens: int = 0  # everything sent, cached tokens included
    output_tokens: int = 0
    cached_tokens: int = 0  # the part of input_tokens read from the provider's cache
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, metadata: Any, model: str) -> RunUsage:
        """This usage plus one reply's `usage_metadata` (None: the model reported none)."""
        if not metadata:
            return self
        fresh_in = int(metadata.get("input_tokens") or 0)
        out = int(metadata.get("output_tokens") or 0)
        details = metadata.get("input_token_details") or {}
        cached = int(details.get("cache_read") or 0)
        price = price_of(model)
        cost: float | None = None
        if price is not None and (self.cost_usd is not None or self.calls == 0):
            call_cost = (
                (fresh_in - cached) * price.input + cached * price.cached + out * price.output
            ) / 1_000_000
            cost = (self.cost_usd or 0.0) + call_cost
        return RunUsage(
            model=model,
            calls=self.calls + 1,
            input_tokens=self.input_tokens + fresh_in,
            output_tokens=self.output_tokens + out,
            cached_tokens=self.cached_tokens + cached,
            cost_usd=cost,
        )

    def describe(self) -> str:
        """One line for people: "12,345 tokens in (2,048 cached), 1,234 out, about $0.06"."""
        cached = f" ({self.cached_tokens:,} cached)" if self.cached_tokens else ""
        line = f"{self.input_tokens:,} tokens in{cached}, {self.output_tokens:,} out"
        if self.cost_usd is not None:
            line += f", about ${self.cost_usd:,.2f}"
        return line
