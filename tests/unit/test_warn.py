"""Our warnings name the caller's line, through LangChain's call chain and the core alike."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from langchain_runapi import ChatRunAPI
from runapi_client import RunAPIClient, _pricing
from tests.support.wire import wire_sample

THIS_FILE = str(Path(__file__))


def _answer(request: httpx.Request) -> httpx.Response:
    # The recorded glm-4.6 answer, for whichever model was asked (so an unpriced one stays so).
    completion = json.loads(wire_sample("glm-4.6.nonstream.json"))
    completion["model"] = json.loads(request.content)["model"]
    return httpx.Response(200, json=completion)


def _caught(action: Callable[[], object]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, UserWarning)]


def test_a_forced_tool_choice_warning_points_at_the_invoke_line() -> None:
    llm = ChatRunAPI(
        model="glm-4.6",
        api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(_answer)),
    )

    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    bound = llm.bind_tools([get_weather], tool_choice="get_weather")
    caught = _caught(lambda: bound.invoke("Weather in Paris?"))
    assert caught and "tool_choice" in str(caught[0].message)
    assert caught[0].filename == THIS_FILE


def test_the_no_price_warning_points_at_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    client = RunAPIClient(api_key="k", transport=httpx.MockTransport(_answer))
    body = {"model": "glm-unpriced-x", "messages": [{"role": "user", "content": "hi"}]}
    caught = _caught(lambda: client.chat_completion(body))
    assert caught and "No price known" in str(caught[0].message)
    assert caught[0].filename == THIS_FILE


def test_inside_an_asyncio_task_it_still_names_the_callers_coroutine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pricing, "_warned", set())
    llm = ChatRunAPI(
        model="glm-unpriced-y",
        api_key="k",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(_answer)),
    )

    async def main() -> None:
        await llm.ainvoke("hi")

    caught = _caught(lambda: asyncio.run(main()))
    assert caught and caught[0].filename == THIS_FILE
