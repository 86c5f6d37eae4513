"""``max_cost`` budgets hold under concurrency: each call reserves an upper bound of its cost
before it is sent and settles when its usage arrives, so hundreds of calls at once spend at
most the budget plus one call's bound; a stream counts its usage the moment it arrives, even if
the caller stops reading right after it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_runapi import ChatRunAPI, get_runapi_callback
from llama_index_runapi import RunAPILLM
from runapi_client import (
    AsyncRunAPIClient,
    BudgetExceededError,
    ChatResult,
    RunAPIClient,
    track_usage,
)
from runapi_client._pricing import cost_bound
from tests.support.fake_runapi import FakeRunAPI

BODY: dict[str, Any] = {
    "model": "glm-4.6",
    "messages": [{"role": "user", "content": "hello there"}],
    "max_tokens": 60,
}


@pytest.fixture
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as fake:
        yield fake


def bound_of(body: dict[str, Any]) -> float:
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    return cost_bound("glm-4.6", size, body.get("max_tokens") or 131_072, None)


def one_call_cost(server: FakeRunAPI) -> float:
    result = RunAPIClient(api_key="k", base_url=server.base_url).chat_completion(BODY)
    assert result.cost is not None
    return result.cost.total


@pytest.mark.parametrize("max_tokens", [60, None], ids=["max_tokens", "model-limit"])
async def test_500_concurrent_calls_spend_at_most_the_budget_and_one_bound(
    server: FakeRunAPI, max_tokens: int | None
) -> None:
    body = (
        {**BODY, "max_tokens": max_tokens}
        if max_tokens
        else {k: v for k, v in BODY.items() if k != "max_tokens"}
    )
    budget = 3.5 * one_call_cost(server)
    # Each answer takes 50 ms, so calls really are in flight together.
    slow = {"X-Fake-Fault": "delay=0.05"}
    client = AsyncRunAPIClient(
        api_key="k", base_url=server.base_url, max_retries=0, default_headers=slow
    )
    with track_usage(max_cost=budget) as usage:
        results = await asyncio.gather(
            *(client.chat_completion(body) for _ in range(500)), return_exceptions=True
        )
    answered = [r for r in results if isinstance(r, ChatResult)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answered) + len(refused) == 500  # nothing else raised
    assert usage.total_cost <= budget + bound_of(body) * 1.0001
    assert usage.requests == len(answered) >= 3
    assert (usage.reserved, usage.in_flight) == (0.0, 0)  # every reservation released
    await client.aclose()


def test_a_langchain_batch_at_64_stays_within_the_budget(server: FakeRunAPI) -> None:
    budget = 3.5 * one_call_cost(server)
    llm = ChatRunAPI(
        model="glm-4.6",
        api_key="k",
        base_url=server.base_url,
        max_tokens=60,
        default_headers={"X-Fake-Fault": "delay=0.05"},  # calls really in flight together
    )
    with get_runapi_callback(max_cost=budget) as usage:
        results = llm.batch(
            ["hello there"] * 200, config={"max_concurrency": 64}, return_exceptions=True
        )
    assert all(not isinstance(r, Exception) or isinstance(r, BudgetExceededError) for r in results)
    assert usage.total_cost <= budget + bound_of({**BODY, "messages": BODY["messages"]}) * 1.5
    assert (usage.reserved, usage.in_flight) == (0.0, 0)


def test_a_stream_holds_its_reservation_until_it_ends(server: FakeRunAPI) -> None:
    client = RunAPIClient(api_key="k", base_url=server.base_url)
    with track_usage(max_cost=1.0) as usage:
        stream = client.stream_chat_completion(BODY)
        assert usage.in_flight == 0  # reserved when read, not when made
        next(iter(stream))
        assert usage.in_flight == 1 and usage.reserved > 0
        stream.close()
        assert (usage.reserved, usage.in_flight) == (0.0, 0)


def stop_after_usage_langchain(server: FakeRunAPI) -> None:
    llm = ChatRunAPI(model="glm-4.6", api_key="k", base_url=server.base_url)
    for chunk in llm.stream("hello"):
        if chunk.usage_metadata:
            break


def stop_after_usage_llama_index(server: FakeRunAPI) -> None:
    llm = RunAPILLM(model="glm-4.6", api_key="k", base_url=server.base_url)
    for response in llm.stream_chat([ChatMessage(role="user", content="hello")]):
        if response.raw.get("usage"):
            break


@pytest.mark.parametrize("stop", [stop_after_usage_langchain, stop_after_usage_llama_index])
def test_a_stream_left_right_after_its_usage_is_counted(server: FakeRunAPI, stop: Any) -> None:
    with track_usage() as usage:
        stop(server)
    assert usage.requests == 1 and usage.total_tokens > 0 and usage.total_cost > 0


async def test_a_stream_cancelled_after_its_usage_is_counted(server: FakeRunAPI) -> None:
    llm = ChatRunAPI(model="glm-4.6", api_key="k", base_url=server.base_url)
    seen_usage = asyncio.Event()

    async def consume() -> None:
        async for chunk in llm.astream("hello"):
            if chunk.usage_metadata:
                seen_usage.set()
                await asyncio.sleep(10)  # cancelled here, the stream not read to its end

    with track_usage() as usage:
        task = asyncio.create_task(consume())
        await seen_usage.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert usage.requests == 1 and usage.total_cost > 0
