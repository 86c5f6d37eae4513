"""The account behind a key: ``GET /api/v1/me`` and ``GET /api/v1/me/balance``.

These live in RunAPI's own API, at the root the OpenAI-compatible ``/v1`` hangs from (see
``_config.OWN_API``), and are read through the same request machine as a chat call: the same
errors (401 ``AuthenticationError``, 402 ``InsufficientCreditsError``...), retries and
timeouts. Balances come in cents and are given in dollars; a field that is missing or is not a
finite number is ``None``, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BALANCE_PATH", "ME_PATH", "Account", "Balance", "read_account", "read_balance"]

ME_PATH = "/api/v1/me"
BALANCE_PATH = "/api/v1/me/balance"

_BALANCE_FIELDS = {
    "balance": "balance_cents",
    "paid": "paid_balance_cents",
    "bonus": "bonus_balance_cents",
    "spent_today": "spent_cents_today",
    "spent_total": "spent_cents_total",
}


def _dollars(value: Any) -> float | None:
    """Cents (a number, or a number written as a string) as dollars; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        cents = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return cents / 100.0 if math.isfinite(cents) else None


def _exact_usd(dollars: float) -> str:
    """Dollars as RunAPI counts them, to the fraction of a cent: ``$12.50``, ``$12.4984874``.
    Rounding to cents (or to three digits, as a call's cost prints) would show the same
    balance before and after calls that cost less than a cent."""
    if not math.isfinite(dollars):
        return f"${dollars}"
    # Cents come with at most a few decimals; 8 decimals of a dollar keep them and drop the
    # float's noise (0.1 + 0.2).
    whole, _, fraction = f"{abs(dollars):,.8f}".partition(".")
    sign = "-" if dollars < 0 and float(f"{dollars:.8f}") != 0 else ""
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balance and spend, in USD (``None`` where RunAPI did not say).

    ``balance`` is what is left to spend, ``paid`` and ``bonus`` its two parts (credit bought,
    credit given), ``spent_today`` and ``spent_total`` what was spent. ``str(balance)`` reads
    as one line, each amount to the fraction of a cent RunAPI gave.
    """

    balance: float | None = None
    paid: float | None = None
    bonus: float | None = None
    spent_today: float | None = None
    spent_total: float | None = None

    def __str__(self) -> str:
        def usd(value: float | None) -> str:
            return "unknown" if value is None else _exact_usd(value)

        parts = [f"balance {usd(self.balance)}"]
        if self.paid is not None or self.bonus is not None:
            parts[0] += f" (paid {usd(self.paid)}, bonus {usd(self.bonus)})"
        if self.spent_today is not None or self.spent_total is not None:
            parts.append(f"spent {usd(self.spent_today)} today, {usd(self.spent_total)} in all")
        return "; ".join(parts)


def read_balance(payload: Any) -> Balance:
    """``GET /api/v1/me/balance``'s answer as a :class:`Balance` (also when wrapped in
    ``{"data": {...}}``); fields that are missing or junk are ``None``."""
    if isinstance(payload, Mapping) and not any(f in payload for f in _BALANCE_FIELDS.values()):
        inner = payload.get("data")
        payload = inner if isinstance(inner, Mapping) else payload
    if not isinstance(payload, Mapping):
        return Balance()
    return Balance(**{name: _dollars(payload.get(key)) for name, key in _BALANCE_FIELDS.items()})


class Account(Mapping[str, Any]):
    """``GET /api/v1/me``'s answer: a read-only mapping of whatever fields RunAPI sent, with
    the common ones as attributes (``None`` when absent or not a string)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def _text(self, key: str) -> str | None:
        value = self._fields.get(key)
        return value if isinstance(value, str) else None

    @property
    def id(self) -> str | None:
        value = self._fields.get("id")
        return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None

    @property
    def email(self) -> str | None:
        return self._text("email")

    @property
    def name(self) -> str | None:
        return self._text("name")

    def __repr__(self) -> str:
        return f"Account({self._fields!r})"


def _blank(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` with ``redact`` applied to every string in it, at any depth."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _blank(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, redact) for v in value]
    return value


def read_account(payload: Mapping[str, Any], redact: Callable[[str], str]) -> Account:
    """``GET /api/v1/me``'s answer (also when wrapped in ``{"data": {...}}``) as an
    :class:`Account`. A profile may well show the key it was asked with: every string goes
    through ``redact`` (the client's, which blanks the key; the key itself is never passed
    here, so no frame of this module holds it), as the account ends up in reprs and logs."""
    inner = payload.get("data")
    if isinstance(inner, Mapping) and len(payload) == 1:
        payload = inner
    return Account(_blank(payload, redact))
