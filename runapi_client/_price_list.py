"""RunAPI's live price list: ``GET https://runapi.ai/api/v1/price_schedules?model=...``.

Public, no key needed (none is sent: the address is a setting of its own and may be any
host), and ETag-revalidated: a refresh that gets 304 keeps what it had. Prices come as
integer cents per 1M tokens; we store USD per 1M. Any failure leaves the built-in table in
force, since a price list outage must never break a chat call.

The address is its own setting (``price_list_url``, ``RUNAPI_PRICE_LIST_URL``), never derived
from the base URL: a base URL pointing at a proxy or another gateway would be asked for
RunAPI's prices and answer 404. :class:`PriceList` is the explicit refresh that installs what
it finds process-wide; ``_live_prices`` loads the list for clients with ``prices="live"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import httpx

from ._config import DEFAULT_PRICE_LIST_URL, PRICE_LIST_URL_ENV, check_price_list_url
from ._pricing import Price, set_price
from ._version import __version__

__all__ = ["Fetched", "PriceList", "fetch_schedules", "parse_price_schedules"]

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


class Fetched(NamedTuple):
    """One model's schedules as fetched: ``payload`` None when nothing usable came (see
    ``problem``), ``not_modified`` for a 304."""

    payload: Any = None
    etag: str | None = None
    not_modified: bool = False
    problem: str | None = None


HEADERS = {"Accept": "application/json", "User-Agent": f"runapi-integrations/{__version__}"}


def fetch_schedules(http: httpx.Client, url: str, model: str, etag: str | None) -> Fetched:
    """``GET url?model=...`` revalidated with ``etag``; never raises for the network or the
    answer (a price list outage is not a call's failure)."""
    headers = dict(HEADERS)
    if etag:
        headers["If-None-Match"] = etag
    try:
        response = http.get(url, params={"model": model}, headers=headers)
    except httpx.HTTPError as exc:
        return Fetched(problem=f"unreachable: {type(exc).__name__}")
    if response.status_code == 304:
        return Fetched(etag=etag, not_modified=True)
    if response.status_code != 200:
        return Fetched(problem=f"answered HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        return Fetched(problem="answered something that is not JSON")
    return Fetched(payload=payload, etag=response.headers.get("etag"))


class PriceList:
    """Fetches RunAPI's public price list, revalidating with ``If-None-Match``, and installs
    what it finds process-wide (``set_price``). ``url``: the list's address, else
    ``RUNAPI_PRICE_LIST_URL``, else ``https://runapi.ai/api/v1/price_schedules``."""

    def __init__(self, url: str | None = None, *, http_client: httpx.Client | None = None) -> None:
        source = "url" if url is not None else PRICE_LIST_URL_ENV
        url = url or os.environ.get(PRICE_LIST_URL_ENV) or DEFAULT_PRICE_LIST_URL
        self.url = check_price_list_url(url, source=source)
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
                fetched = fetch_schedules(http, self.url, model, self._etags.get(model))
                if fetched.problem is not None:
                    logger.warning(
                        "RunAPI price list %s (%s); keeping the prices in force",
                        fetched.problem,
                        self.url,
                    )
                if fetched.payload is None:
                    continue
                if fetched.etag:
                    self._etags[model] = fetched.etag
                self.prices.update(parse_price_schedules(fetched.payload, model))
        finally:
            if self._http is None:
                http.close()
        if apply:
            for name, price in self.prices.items():
                set_price(name, price)
        return dict(self.prices)
