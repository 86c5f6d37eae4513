"""Usage and cost: the usage metadata and cost of a call (an unknown price gives none, a price
given per instance wins), and ``get_runapi_callback`` totals over invoke, stream, batch,
asyncio tasks and threads, nested blocks, several models at once, a budget (under concurrency
too), and calls whose response has no usage."""

from __future__ import annotations

import asyncio
import json

import pytest

from langchain_runapi import BudgetExceededError, Price, get_runapi_callback
from langchain_runapi._messages import usage_to_metadata

from ._mock import ScriptedServer, sample

M = 1_000_000
# glm-4.6 / glm-4.7: $0.30 in, $1.10 out, $0.06 cache read per 1M tokens.
IN, OUT, CACHE = 0.30, 1.10, 0.06
GLM46 = json.loads(sample("glm-4.6.nonstream.json"))  # 81 in (6 cached), 186 out
GLM47 = json.loads(sample("glm-4.7.tools-reasoning.json"))  # 160 in, 78 out (56 reasoning)
COST46 = (75 * 0.30 + 186 * 1.10 + 6 * 0.06) / M
COST47 = (160 * 0.30 + 78 * 1.10) / M


# ----------------------------------------------------------------------- usage and cost of a call


def test_usage_details_are_subsets() -> None:
    usage = usage_to_metadata(
        {
            "prompt_tokens": 160,
            "completion_tokens": 78,
            "total_tokens": 238,
            "completion_tokens_details": {"reasoning_tokens": 56},
        }
    )
    assert usage == {
        "input_tokens": 160,
        "output_tokens": 78,
        "total_tokens": 238,
        "output_token_details": {"reasoning": 56},
    }


def test_unknown_price_reports_no_cost_and_price_override(server: ScriptedServer) -> None:
    payload = json.loads(sample("glm-4.6.nonstream.json"))
    payload["model"] = "glm-9-preview"
    server.json(payload)
    with pytest.warns(UserWarning, match="No price known"):
        msg = server.model(model="glm-9-preview").invoke("hi")
    assert "cost" not in msg.response_metadata
    assert msg.usage_metadata is not None

    server.json(payload)
    llm = server.model(model="glm-9-preview", price=Price(input=1.0, output=2.0, cache_read=0.5))
    msg = llm.invoke("hi")
    assert msg.response_metadata["cost"] == pytest.approx((75 * 1.0 + 186 * 2.0 + 6 * 0.5) / M)


# ---------------------------------------------------------------------------- get_runapi_callback


def test_get_runapi_callback_totals_invoke_stream_batch(server: ScriptedServer) -> None:
    llm = server.model()
    server.json(sample("glm-4.6.nonstream.json"))
    server.stream(sample("glm-4.6.stream-native.sse"))
    server.json(sample("glm-4.6.nonstream.json"))
    server.json(sample("glm-4.6.nonstream.json"))
    with get_runapi_callback() as cb:
        llm.invoke("a")
        list(llm.stream("b"))
        llm.batch(["c", "d"])  # LangChain runs these in context-copying threads
    assert cb.successful_requests == 4
    assert cb.prompt_tokens == 81 * 3 + 6074
    assert cb.completion_tokens == 186 * 3 + 15
    assert cb.total_tokens == 267 * 3 + 6089
    assert cb.cached_tokens == 6 * 3 + 43
    one = (75 * IN + 186 * OUT + 6 * CACHE) / M
    streamed = ((6074 - 43) * IN + 15 * OUT + 43 * CACHE) / M
    assert cb.total_cost == pytest.approx(3 * one + streamed)
    assert cb.by_model["glm-4.6"].requests == 4


async def test_get_runapi_callback_counts_asyncio_tasks(server: ScriptedServer) -> None:
    llm = server.model()
    for _ in range(3):
        server.json(sample("glm-4.7.tools-reasoning.json"))
    with get_runapi_callback() as cb:
        await asyncio.gather(*(asyncio.create_task(llm.ainvoke(str(i))) for i in range(2)))
        await llm.abatch(["x"])
    assert cb.successful_requests == 3
    assert cb.reasoning_tokens == 3 * 56
    assert cb.total_cost == pytest.approx(3 * (160 * IN + 78 * OUT) / M)
    assert cb.by_model["glm-4.7"].cost == pytest.approx(cb.total_cost)


def test_budget_stops_further_calls(server: ScriptedServer) -> None:
    llm = server.model()
    server.json(sample("glm-4.6.nonstream.json"))
    with get_runapi_callback(max_cost=0.0001) as cb, pytest.raises(BudgetExceededError):
        llm.invoke("first")  # costs $0.000227, over the budget
        llm.invoke("second")  # refused before sending
    assert len(server.requests) == 1
    assert cb.successful_requests == 1


async def test_nested_blocks_and_per_model_breakdown() -> None:
    glm46, glm47 = ScriptedServer(), ScriptedServer()
    for _ in range(3):
        glm46.json(GLM46)
        glm47.json(GLM47)
    llm46, llm47 = glm46.model(), glm47.model(model="glm-4.7")
    with get_runapi_callback() as outer:
        with get_runapi_callback() as inner:
            await asyncio.gather(llm46.ainvoke("a"), llm47.ainvoke("b"))  # tasks
        llm46.batch(["c", "d"])  # threads
        llm47.invoke("e")
    assert inner.successful_requests == 2
    assert inner.total_cost == pytest.approx(COST46 + COST47)
    assert outer.successful_requests == 5
    assert outer.total_cost == pytest.approx(3 * COST46 + 2 * COST47)
    per46, per47 = outer.by_model["glm-4.6"], outer.by_model["glm-4.7"]
    assert (per46.requests, per46.prompt_tokens, per46.cached_tokens) == (3, 243, 18)
    assert (per47.requests, per47.completion_tokens, per47.reasoning_tokens) == (2, 156, 112)
    assert per46.cost == pytest.approx(3 * COST46)
    assert per47.cost == pytest.approx(2 * COST47)


async def test_budget_stops_an_abatch() -> None:
    server = ScriptedServer()
    for _ in range(6):
        server.json(GLM46)
    with get_runapi_callback(max_cost=2.5 * COST46) as cb:
        results = await server.model().abatch(
            [str(i) for i in range(6)], config={"max_concurrency": 1}, return_exceptions=True
        )
    assert [type(r).__name__ for r in results[:3]] == ["AIMessage"] * 3
    assert all(isinstance(r, BudgetExceededError) for r in results[3:])
    assert len(server.requests) == cb.successful_requests == 3


def test_a_response_without_usage_still_counts_as_a_request() -> None:
    server = ScriptedServer()
    server.json({k: v for k, v in GLM46.items() if k != "usage"})
    with get_runapi_callback() as cb:
        server.model().invoke("hi")
    assert cb.successful_requests == 1
    assert cb.total_tokens == 0
    assert cb.by_model["glm-4.6"].priced is False  # its cost is unknown, not zero
