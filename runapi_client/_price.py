"""A price: USD per 1M tokens, and where the rates came from (the catalog's table, the caller,
RunAPI's live price list)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Price", "PriceSource"]

PriceSource = str
"""Where a price or a cost came from: ``"built-in"`` (the catalog's table, dated
``PRICES_AS_OF``), ``"custom"`` (given by the caller: ``prices=``, ``price=``,
``set_price``), ``"live"`` (RunAPI's price list, dated by its ``as_of``) or, for a cost,
``"server"`` (the total the server reported in ``usage.cost``), and for a total over several
calls priced from different sources, ``"mixed"``."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens, and where the rates came from."""

    input: float
    output: float
    cache_read: float | None = None  # None: cached input is billed at the input rate
    cache_write: float = 0.0
    # Provenance, not part of the price: equal rates are equal prices.
    source: PriceSource = field(default="custom", compare=False)
    as_of: str | None = field(default=None, compare=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Price:
        return cls(
            input=float(data["input"]),
            output=float(data["output"]),
            cache_read=None if data.get("cache_read") is None else float(data["cache_read"]),
            cache_write=float(data.get("cache_write") or 0.0),
            source=str(data.get("source") or "custom"),
            as_of=None if data.get("as_of") is None else str(data["as_of"]),
        )
