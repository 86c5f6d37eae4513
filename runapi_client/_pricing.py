"""What a call cost, in USD, from its usage and per-1M-token prices.

The built-in table is RunAPI's published per-1M rates (taken from the model pages; see
docs/models.md for the date). The "$0.020 per 1K tokens" headline on those pages is a rounded
display figure and is deliberately not used. A model not in the table has no cost: we warn once
and report ``None`` rather than invent a figure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._types import Usage
from ._warn import warn_at_caller

logger = logging.getLogger("runapi_client")

__all__ = [
    "PRICES",
    "PRICES_AS_OF",
    "Cost",
    "Price",
    "cost_of",
    "get_price",
    "normalize_model_name",
    "set_price",
]

PRICES_AS_OF = "2026-11-29"
"""When these rates were copied from RunAPI's model pages (as collected in the project's wire
samples) into this table; the pages themselves carry no date."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input: float
    output: float
    cache_read: float | None = None  # None: cached input is billed at the input rate
    cache_write: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Price:
        return cls(
            input=float(data["input"]),
            output=float(data["output"]),
            cache_read=None if data.get("cache_read") is None else float(data["cache_read"]),
            cache_write=float(data.get("cache_write") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call, in USD, by part."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    @property
    def total(self) -> float:
        return self.input + self.output + self.cache_read + self.cache_write

    def as_dict(self) -> dict[str, float]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "total": self.total,
        }


PRICES: dict[str, Price] = {
    "glm-4.5-air": Price(input=0.10, output=0.55, cache_read=0.02, cache_write=0.0),
    "glm-4.6": Price(input=0.30, output=1.10, cache_read=0.06, cache_write=0.0),
    "glm-4.7": Price(input=0.30, output=1.10, cache_read=0.06, cache_write=0.0),
    "glm-5-turbo": Price(input=0.60, output=2.00, cache_read=0.12, cache_write=0.0),
}

_lock = threading.Lock()
_warned: set[str] = set()


def normalize_model_name(model: str) -> str:
    """``"Z-AI/GLM-4.6"`` -> ``"glm-4.6"``: provider prefixes and case vary between gateways."""
    return model.rsplit("/", 1)[-1].strip().lower()


def set_price(model: str, price: Price | Mapping[str, Any]) -> None:
    """Add or replace a model's price process-wide (e.g. from RunAPI's live price list)."""
    with _lock:
        PRICES[normalize_model_name(model)] = (
            price if isinstance(price, Price) else Price.from_mapping(price)
        )


def get_price(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    name = normalize_model_name(model)
    if overrides:
        for key, price in overrides.items():
            if normalize_model_name(key) == name:
                return price
    return PRICES.get(name)


def _int(value: Any) -> int:
    # A count that is not a whole number >= 0 is junk: counted as 0, never a negative cost.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    # A gateway may send details as null, a list or junk: count what is readable, never crash.
    return value if isinstance(value, Mapping) else {}


def token_counts(usage: Usage | Mapping[str, Any]) -> dict[str, int]:
    """Usage -> integers: input, output, total, cache_read, cache_write, reasoning.

    ``prompt_tokens`` includes cached tokens and ``completion_tokens`` includes reasoning
    tokens (GLM: 160 + 78 = 238 total with 56 of the 78 reasoning), as in OpenAI's usage.
    """
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    total = _int(usage.get("total_tokens")) or prompt + completion
    pdetails = _mapping(usage.get("prompt_tokens_details"))
    cdetails = _mapping(usage.get("completion_tokens_details"))
    cache_read = _int(pdetails.get("cached_tokens")) or _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(pdetails.get("cache_write_tokens")) or _int(
        usage.get("cache_creation_input_tokens")
    )
    return {
        "input": prompt,
        "output": completion,
        "total": total,
        "cache_read": min(cache_read, prompt),
        "cache_write": cache_write,
        "reasoning": _int(cdetails.get("reasoning_tokens")),
    }


def cost_of(
    model: str,
    usage: Usage | Mapping[str, Any] | None,
    *,
    price: Price | None = None,
    overrides: Mapping[str, Price] | None = None,
    counts: Mapping[str, int] | None = None,
    warn: bool = True,
) -> Cost | None:
    """The cost of a call, or ``None`` when the model's price is unknown (warned once).

    ``counts``: ``token_counts(usage)`` when the caller has it already. ``warn=False`` logs
    the missing price at DEBUG instead: for embeddings, whose prices RunAPI does not publish,
    a warning would fire for every normal setup and ask for a price nobody can look up.
    """
    if not usage:
        return None
    if price is None:
        price = get_price(model, overrides)
    if price is None:
        name = normalize_model_name(model)
        with _lock:
            first = name not in _warned
            _warned.add(name)
        if first and not warn:
            logger.debug("No price known for model %r: its calls report no cost.", model)
        elif first:
            warn_at_caller(
                f"No price known for model {model!r}: its calls report no cost. "
                "Pass prices={...} or call runapi_client.set_price() to add one."
            )
        return None
    if counts is None:
        counts = token_counts(usage)
    cached = counts["cache_read"]
    cache_read_rate = price.input if price.cache_read is None else price.cache_read
    per = 1_000_000.0
    return Cost(
        input=(counts["input"] - cached) * price.input / per,
        output=counts["output"] * price.output / per,
        cache_read=cached * cache_read_rate / per,
        cache_write=counts["cache_write"] * price.cache_write / per,
    )
