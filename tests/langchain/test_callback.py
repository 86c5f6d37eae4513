"""``get_runapi_callback`` beyond the basics: nesting, several models at once, asyncio tasks
and threads together, a budget under concurrency, and calls whose response has no usage."""

from __future__ import annotations

import asyncio
import json

import pytest

from langchain_runapi import BudgetExceededError, get_runapi_callback

from ._mock import ScriptedServer, sample

M = 1_000_000
GLM46 = json.loads(sample("glm-4.6.nonstream.json"))  # 81 in (6 cached), 186 out
GLM47 = json.loads(sample("glm-4.7.tools-reasoning.json"))  # 160 in, 78 out (56 reasoning)
COST46 = (75 * 0.30 + 186 * 1.10 + 6 * 0.06) / M
COST47 = (160 * 0.30 + 78 * 1.10) / M


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
