"""The account endpoints and the live price list through the core and both adapters, replayed
from cassettes (cassettes/spend/test_account_recorded/), recorded against the emulator with
``python scripts/record_cassettes.py --offline tests/spend`` (its balance falls by each call's
cost, at RunAPI's rates, so "before minus after" is checked against the computed cost).

Recording points ``RUNAPI_BASE_URL`` at the emulator, which serves the price list at the same
origin; on replay the default base URL and the default price list address are both runapi.ai,
as the cassettes say once the emulator's address is rewritten.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import DEFAULT_BASE_URL, AsyncRunAPIClient, Balance, RunAPIClient
from runapi_client._config import url_for

pytestmark = pytest.mark.vcr

BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "Name one SQL join."}]}


def price_list_url() -> str:
    base = (os.environ.get("RUNAPI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    return url_for(base, "/api/v1/price_schedules")


def spent(before: Balance, after: Balance) -> float:
    assert before.balance is not None and after.balance is not None
    return before.balance - after.balance


def test_core_balance_falls_by_the_calls_cost() -> None:
    client = RunAPIClient()
    before = client.balance()
    result = client.chat_completion(BODY)
    after = client.balance()
    assert before.paid is not None and before.bonus is not None
    assert before.balance == pytest.approx(before.paid + before.bonus)
    assert result.cost is not None
    assert spent(before, after) == pytest.approx(result.cost.total, abs=2e-6)
    assert after.spent_total is not None and before.spent_total is not None
    assert after.spent_total - before.spent_total == pytest.approx(result.cost.total, abs=2e-6)


def test_core_me() -> None:
    account = RunAPIClient().me()
    assert account.id and account.email and "@" in account.email


def test_async_core_balance_and_me() -> None:
    async def run() -> tuple[Balance, str | None]:
        async with AsyncRunAPIClient() as client:
            return await client.balance(), (await client.me()).name

    balance, name = asyncio.run(run())
    assert balance.balance is not None and balance.balance > 0 and name


def test_langchain_balance_beside_a_live_priced_call() -> None:
    llm = ChatRunAPI(model="glm-4.6", prices="live", price_list_url=price_list_url())
    before = llm.balance()
    message = llm.invoke("Name one SQL join.")
    after = asyncio.run(llm.abalance())
    details = message.response_metadata["cost_details"]
    assert details["source"] == "live" and details["as_of"]
    assert spent(before, after) == pytest.approx(message.response_metadata["cost"], abs=2e-6)


def test_llama_index_balance_beside_a_live_priced_stream() -> None:
    llm = RunAPILLM(model="glm-4.6", prices="live", price_list_url=price_list_url())
    before = llm.balance()
    last = list(llm.stream_chat([ChatMessage(role="user", content="Name one SQL join.")]))[-1]
    after = asyncio.run(llm.abalance())
    details = last.additional_kwargs["cost_details"]
    assert details["source"] == "live" and details["as_of"]
    assert spent(before, after) == pytest.approx(last.additional_kwargs["cost"], abs=2e-6)
