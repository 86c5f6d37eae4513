"""The account endpoints (``balance()``, ``me()``) over httpx.MockTransport: where they are
asked (the base URL's root, a proxy's prefix kept), what a balance reads as, and the same
errors and retries as a chat call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runapi_client import (
    Account,
    AsyncRunAPIClient,
    AuthenticationError,
    Balance,
    InsufficientCreditsError,
    RunAPIClient,
    ServerError,
)
from runapi_client._account import read_balance

KEY = "sk-account-test-key-0123456789"
BALANCE = {
    "balance_cents": 1234,
    "paid_balance_cents": 1000,
    "bonus_balance_cents": 234,
    "spent_cents_today": 5.5,
    "spent_cents_total": 766,
}

Handler = Callable[[httpx.Request], httpx.Response]


# Every test here: waits between attempts recorded, not slept (conftest.py).
pytestmark = pytest.mark.usefixtures("no_sleep")


def recorder(answers: list[httpx.Response]) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering ``answers`` in turn (the last one again and again), and the
    requests it saw (copies: the client takes the key off a request once it is sent)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(httpx.Request(request.method, request.url, headers=request.headers))
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return handler, seen


def sync_client(handler: Handler, **kw: Any) -> RunAPIClient:
    return RunAPIClient(api_key=KEY, transport=httpx.MockTransport(handler), **kw)


def async_client(handler: Handler, **kw: Any) -> AsyncRunAPIClient:
    return AsyncRunAPIClient(api_key=KEY, transport=httpx.MockTransport(handler), **kw)


# ---------------------------------------------------------------------------------- where


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, "https://runapi.ai/api/v1/me/balance"),
        ("https://runapi.ai/v1/", "https://runapi.ai/api/v1/me/balance"),
        # A proxy behind a path prefix: the prefix is kept, /v1 swapped for /api/v1.
        ("https://proxy.example/runapi/v1", "https://proxy.example/runapi/api/v1/me/balance"),
        ("https://proxy.example/runapi", "https://proxy.example/runapi/api/v1/me/balance"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/api/v1/me/balance"),
    ],
)
def test_balance_is_asked_at_the_base_urls_root(base_url: str | None, expected: str) -> None:
    handler, seen = recorder([httpx.Response(200, json=BALANCE)])
    kwargs = {"base_url": base_url} if base_url else {}
    sync_client(handler, **kwargs).balance()
    assert str(seen[0].url) == expected
    assert seen[0].method == "GET"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


def test_me_is_asked_at_the_root_and_chat_stays_under_v1() -> None:
    handler, seen = recorder([httpx.Response(200, json={"id": 7})])
    client = sync_client(handler, base_url="https://proxy.example/runapi/v1")
    client.me()
    client.list_models()
    assert [str(r.url) for r in seen] == [
        "https://proxy.example/runapi/api/v1/me",
        "https://proxy.example/runapi/v1/models",
    ]


# ----------------------------------------------------------------------------- reading


def test_balance_in_dollars() -> None:
    handler, _ = recorder([httpx.Response(200, json=BALANCE)])
    balance = sync_client(handler).balance()
    assert balance == Balance(
        balance=12.34, paid=10.0, bonus=2.34, spent_today=0.055, spent_total=7.66
    )
    assert str(balance) == (
        "balance $12.34 (paid $10.00, bonus $2.34); spent $0.055 today, $7.66 in all"
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, Balance()),
        ({"balance_cents": 500}, Balance(balance=5.0)),
        ({"data": {"balance_cents": 500}}, Balance(balance=5.0)),
        ({"balance_cents": "250"}, Balance(balance=2.5)),  # a number written as a string
        ({"balance_cents": -120}, Balance(balance=-1.2)),  # overdrawn is a balance too
        (
            {
                "balance_cents": "lots",
                "paid_balance_cents": True,
                "bonus_balance_cents": [1],
                "spent_cents_today": None,
                "spent_cents_total": "nan",
            },
            Balance(),
        ),
        ({"balance_cents": 10**400}, Balance()),  # too large for a float
        ([1, 2], Balance()),
    ],
)
def test_missing_or_junk_fields_are_none(payload: Any, expected: Balance) -> None:
    assert read_balance(payload) == expected


@pytest.mark.parametrize(
    ("cents", "shown"),
    [
        (1250, "$12.50"),
        (1249.84874, "$12.4984874"),  # a spend under a cent still shows
        (0.151, "$0.00151"),
        (0, "$0.00"),
        (-120, "-$1.20"),
        (123456789, "$1,234,567.89"),
        (30.000000000000004, "$0.30"),  # float noise is not a fraction of a cent
    ],
)
def test_balance_str_is_exact_to_the_fraction_of_a_cent(cents: float, shown: str) -> None:
    assert str(Balance(balance=cents / 100)) == f"balance {shown}"


def test_balance_str_says_what_is_unknown() -> None:
    assert str(Balance()) == "balance unknown"
    assert str(Balance(balance=1.0, spent_total=2.0)) == (
        "balance $1.00; spent unknown today, $2.00 in all"
    )


def test_me_gives_the_fields_present_and_never_the_key() -> None:
    profile = {"id": 42, "email": "dev@example.com", "api_key": KEY, "keys": [f"{KEY}!"]}
    handler, _ = recorder([httpx.Response(200, json=profile)])
    account = sync_client(handler).me()
    assert isinstance(account, Account)
    assert account.id == "42" and account.email == "dev@example.com" and account.name is None
    assert account["api_key"] == "**********" and account["keys"] == ["**********!"]
    assert KEY not in repr(account) and KEY not in str(dict(account))


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (402, InsufficientCreditsError)]
)
def test_balance_raises_the_chat_errors(status: int, error: type[Exception]) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "x"}}
    handler, seen = recorder([httpx.Response(status, json=body)])
    with pytest.raises(error) as raised:
        sync_client(handler).balance()
    assert len(seen) == 1  # not retried
    assert KEY not in str(raised.value)


def test_balance_is_retried_as_a_chat_call_is(no_sleep: list[float]) -> None:
    handler, seen = recorder(
        [httpx.Response(503, json={"error": "busy"}), httpx.Response(200, json=BALANCE)]
    )
    assert sync_client(handler).balance().balance == 12.34
    assert len(seen) == 2 and len(no_sleep) == 1


def test_balance_that_is_not_json_is_a_server_error() -> None:
    handler, seen = recorder([httpx.Response(200, text="<html>gateway</html>")])
    with pytest.raises(ServerError):
        sync_client(handler, max_retries=1).balance()
    assert len(seen) == 2


# -------------------------------------------------------------------------------- async


def test_async_balance_and_me() -> None:
    handler, seen = recorder(
        [
            httpx.Response(429, json={"error": {"message": "slow down"}}),
            httpx.Response(200, json=BALANCE),
            httpx.Response(200, json={"name": "Ada"}),
        ]
    )

    async def run() -> tuple[Balance, Account]:
        async with async_client(handler, base_url="https://proxy.example/p/v1") as client:
            return await client.balance(), await client.me()

    balance, account = asyncio.run(run())
    assert balance.bonus == 2.34 and account.name == "Ada"
    assert [str(r.url) for r in seen] == [
        "https://proxy.example/p/api/v1/me/balance",
        "https://proxy.example/p/api/v1/me/balance",
        "https://proxy.example/p/api/v1/me",
    ]


def test_async_balance_raises_insufficient_credits() -> None:
    handler, _ = recorder([httpx.Response(402, json={"error": {"message": "no credit"}})])

    async def run() -> None:
        async with async_client(handler) as client:
            await client.balance()

    with pytest.raises(InsufficientCreditsError):
        asyncio.run(run())
