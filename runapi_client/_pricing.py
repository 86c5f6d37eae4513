"""What a call cost, in USD, from its usage and per-1M-token prices.

The built-in prices are the catalog's (``_catalog``: RunAPI's published per-1M rates, taken from
the model pages; the "$0.020 per 1K tokens" headline on those pages is a rounded display figure
and is deliberately not used). A model without a price has no cost: we warn once and report
``None`` rather than invent a figure.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._catalog import PRICES, PRICES_AS_OF
from ._names import lookup, model_key
from ._price import Price, PriceSource
from ._reading import is_count
from ._types import Usage
from ._warn import warn_at_caller

logger = logging.getLogger("runapi_client")

__all__ = [
    "PRICES",
    "PRICES_AS_OF",
    "Cost",
    "Price",
    "cost_bound",
    "cost_of",
    "get_price",
    "set_price",
]


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call, in USD, by part, and where its figures came from.

    ``total`` is the sum of the parts, except for a cost the server reported (``source``
    ``"server"``): then it is the server's figure, and the parts are what the price table says
    (all zero when the model has no price). ``str(cost)`` reads as dollars (``$0.000227``).
    """

    input: float
    output: float
    cache_read: float
    cache_write: float
    total: float = None  # type: ignore[assignment]  # the sum of the parts when not given
    source: PriceSource = field(default="custom", compare=False)
    as_of: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.total is None:
            total = self.input + self.output + self.cache_read + self.cache_write
            object.__setattr__(self, "total", total)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "total": self.total,
            "source": self.source,
        }
        if self.as_of is not None:
            out["as_of"] = self.as_of
        return out

    def __str__(self) -> str:
        return format_usd(self.total)

    def __format__(self, spec: str) -> str:
        # f"{cost}" reads as dollars; f"{cost:.4f}" formats the total as a number.
        return str(self) if not spec else format(self.total, spec)


def format_usd(amount: float) -> str:
    """Dollars with three significant digits below a dollar, cents above: ``$0.0000269``,
    ``$0.000227``, ``$0.05``, ``$12.35`` (``repr`` of the float would give 2.69e-05)."""
    if not math.isfinite(amount):
        return f"${amount}"
    if amount == 0 or abs(amount) >= 0.995:
        return f"${amount:,.2f}"
    decimals = max(2, 2 - math.floor(math.log10(abs(amount))))
    text = f"{amount:.{decimals}f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


_lock = threading.Lock()
_warned: set[str] = set()


def set_price(model: str, price: Price | Mapping[str, Any]) -> None:
    """Add or replace a model's price process-wide (e.g. from RunAPI's live price list)."""
    with _lock:
        PRICES[model_key(model)] = price if isinstance(price, Price) else Price.from_mapping(price)


def get_price(
    model: str,
    overrides: Mapping[str, Price] | None = None,
    live: Mapping[str, Price] | None = None,
) -> Price | None:
    """The price of ``model`` (any spelling: case, provider prefix, dated snapshot): from
    ``overrides`` first (a client's or a model object's own), then a price set process-wide
    (``set_price``, ``PriceList.refresh``), then ``live`` (RunAPI's price list, by model key,
    for a client with ``prices="live"``), then the built-in table."""
    if overrides:
        found = lookup(model, {model_key(name): price for name, price in overrides.items()})
        if found is not None:
            return found
    found = lookup(model, PRICES)
    if live and (found is None or found.source == "built-in"):
        return lookup(model, live) or found
    return found


def _int(value: Any) -> int:
    # A count that is not a whole number >= 0 is junk: counted as 0, never a negative cost; nor
    # is one too large to be a count (10**400 would overflow the float math of a cost).
    return value if is_count(value) else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    # A gateway may send details as null, a list or junk: count what is readable, never crash.
    return value if isinstance(value, Mapping) else {}


def token_counts(usage: Usage | Mapping[str, Any]) -> dict[str, int]:
    """Usage -> integers: input, output, total, cache_read, cache_write, reasoning.

    ``prompt_tokens`` includes cached tokens and ``completion_tokens`` includes reasoning
    tokens (GLM: 160 + 78 = 238 total with 56 of the 78 reasoning), as in OpenAI's usage.
    """
    usage = _mapping(usage)  # a usage given by hand may be anything
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


def cost_bound(
    model: str,
    request_bytes: int,
    max_output_tokens: int,
    overrides: Mapping[str, Price] | None,
    live: Mapping[str, Price] | None = None,
) -> float:
    """An upper bound of a call's cost, before it is sent: every byte of the request as an
    input token (a token is at least a byte, and the JSON around the text is counted too) and
    the most output tokens it may write. 0 for a model with no known price (its calls report no
    cost, so they cannot spend a budget either)."""
    price = get_price(model, overrides, live)
    if price is None:
        return 0.0
    return (request_bytes * price.input + max_output_tokens * price.output) / 1_000_000.0


def server_cost(usage: Mapping[str, Any]) -> float | None:
    """The cost a gateway reported inside ``usage`` (``"cost"``, USD), if it is a number."""
    value = usage.get("cost")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def cost_of(
    model: str,
    usage: Usage | Mapping[str, Any] | None,
    *,
    price: Price | None = None,
    overrides: Mapping[str, Price] | None = None,
    counts: Mapping[str, int] | None = None,
    warn: bool = True,
    requested_model: str | None = None,
    live: Mapping[str, Price] | None = None,
) -> Cost | None:
    """The cost of a call, or ``None`` when neither a price nor the server says it.

    ``model`` is the model that answered; a response may name one with no price (a snapshot
    or alias the table lacks), so ``requested_model``'s price is used then. A ``cost`` the
    server put in ``usage`` wins over the computed total (``source="server"``). ``live``:
    RunAPI's price list (see ``get_price``). ``counts``:
    ``token_counts(usage)`` when the caller has it already. A missing price is warned once per
    model per process; ``warn=False`` logs it at DEBUG instead: for embeddings, whose prices
    RunAPI does not publish, a warning would fire for every normal setup and ask for a price
    nobody can look up.
    """
    if not usage or not isinstance(usage, Mapping):
        return None
    if price is None:
        price = get_price(model, overrides, live)
        if price is None and requested_model:
            price = get_price(requested_model, overrides, live)
    reported = server_cost(usage)
    if price is None and reported is None:
        _warn_unpriced(requested_model or model, warn)
        return None
    if counts is None:
        counts = token_counts(usage)
    if price is None:
        assert reported is not None  # (neither-known returned above)
        return Cost(0.0, 0.0, 0.0, 0.0, total=reported, source="server")
    cached = counts["cache_read"]
    cache_read_rate = price.input if price.cache_read is None else price.cache_read
    per = 1_000_000.0
    parts = (
        (counts["input"] - cached) * price.input / per,
        counts["output"] * price.output / per,
        cached * cache_read_rate / per,
        counts["cache_write"] * price.cache_write / per,
    )
    if reported is not None:
        return Cost(*parts, total=reported, source="server")
    return Cost(*parts, source=price.source, as_of=price.as_of)


def _warn_unpriced(model: str, warn: bool) -> None:
    name = model_key(model)
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
