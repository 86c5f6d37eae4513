"""RunAPI's live price list: ``GET {origin}/api/v1/price_schedules?model=...``.

Public, no key needed, and ETag-revalidated: a refresh that gets 304 keeps what it had. Prices
come as integer cents per 1M tokens; we store USD per 1M. Any failure leaves the built-in
table in force, since a price list outage must never break a chat call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._config import resolve_base_url
from ._pricing import Price, set_price

__all__ = ["PriceList", "parse_price_schedules"]

logger = logging.getLogger("runapi_client")

_FIELDS = {
    "input": "input_price_per_1m_cents",
    "output": "output_price_per_1m_cents",
    "cache_read": "cache_read_price_per_1m_cents",
    "cache_write": "cache_write_price_per_1m_cents",
}


def _cents(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value) / 100.0
    except ValueError:
        return None


def parse_price_schedules(payload: Any, model: str | None = None) -> dict[str, Price]:
    """``{"as_of", "price_schedules": [...]}`` -> ``{model: Price}``; skips what it can't read."""
    if not isinstance(payload, Mapping):
        return {}
    schedules = payload.get("price_schedules")
    if not isinstance(schedules, list):
        return {}
    as_of = payload.get("as_of")
    as_of = str(as_of) if as_of is not None else None
    prices: dict[str, Price] = {}
    for schedule in schedules:
        if not isinstance(schedule, Mapping):
            continue
        name = (
            schedule.get("model") or schedule.get("model_name") or schedule.get("model_id") or model
        )
        values = {part: _cents(schedule.get(field)) for part, field in _FIELDS.items()}
        if not isinstance(name, str) or values["input"] is None or values["output"] is None:
            continue
        prices[name] = Price(
            input=values["input"],
            output=values["output"],
            cache_read=values["cache_read"],
            cache_write=values["cache_write"] or 0.0,
            source="live",
            as_of=as_of,
        )
    return prices


class PriceList:
    """Fetches and caches RunAPI's public price list, revalidating with ``If-None-Match``."""

    def __init__(
        self, base_url: str | None = None, *, http_client: httpx.Client | None = None
    ) -> None:
        parts = urlsplit(resolve_base_url(base_url))
        self.url = f"{parts.scheme}://{parts.netloc}/api/v1/price_schedules"
        self._http = http_client
        self._etags: dict[str, str] = {}
        self.prices: dict[str, Price] = {}

    def refresh(
        self, models: Iterable[str], *, timeout: float = 10.0, apply: bool = True
    ) -> dict[str, Price]:
        """Fetch the prices of ``models``; on success (and ``apply``) install them process-wide.

        Returns what is known after the refresh. Errors are logged, never raised.
        """
        http = self._http or httpx.Client(timeout=timeout)
        try:
            for model in models:
                headers = {"Accept": "application/json"}
                if model in self._etags:
                    headers["If-None-Match"] = self._etags[model]
                try:
                    response = http.get(self.url, params={"model": model}, headers=headers)
                except httpx.HTTPError as exc:
                    logger.warning(
                        "RunAPI price list unreachable (%s); keeping built-in prices", exc
                    )
                    continue
                if response.status_code == 304:
                    continue
                if response.status_code != 200:
                    logger.warning(
                        "RunAPI price list answered %s; keeping built-in prices",
                        response.status_code,
                    )
                    continue
                try:
                    found = parse_price_schedules(response.json(), model)
                except ValueError:
                    continue
                if etag := response.headers.get("etag"):
                    self._etags[model] = etag
                self.prices.update(found)
        finally:
            if self._http is None:
                http.close()
        if apply:
            for name, price in self.prices.items():
                set_price(name, price)
        return dict(self.prices)
