"""ChatRunAPI's errors are LangChain ``ModelError``s too, so agents' middleware reads them right.

Each error stays an instance of the core's class (``except runapi_client.AuthenticationError``
works) and is also the matching ``langchain_core.exceptions`` class, whose ``is_retryable``
``ModelRetryMiddleware`` follows and whose ``ContextOverflowError`` ``SummarizationMiddleware``
reacts to.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterator

import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
)
from langchain_core.tools import tool

import langchain_runapi
import runapi_client
from langchain_runapi import ChatRunAPI, RateLimitError, get_runapi_callback
from tests.support.fake_runapi import FakeRunAPI, Fault

from ._mock import ScriptedServer


@pytest.fixture
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as fake:
        yield fake


def _model(server: FakeRunAPI, **kwargs: object) -> ChatRunAPI:
    settings: dict[str, object] = {"api_key": "k", "max_retries": 0, **kwargs}
    return ChatRunAPI(model="glm-4.6", base_url=server.base_url, **settings)


@pytest.mark.parametrize(
    ("status", "core", "model_error", "retryable"),
    [
        (400, runapi_client.BadRequestError, ModelInvalidRequestError, False),
        (401, runapi_client.AuthenticationError, ModelAuthenticationError, False),
        (402, runapi_client.InsufficientCreditsError, ModelError, False),
        (403, runapi_client.PermissionDeniedError, ModelPermissionDeniedError, False),
        (404, runapi_client.NotFoundError, ModelNotFoundError, False),
        (409, runapi_client.APIStatusError, ModelInvalidRequestError, False),
        (429, runapi_client.RateLimitError, ModelRateLimitError, True),
        (503, runapi_client.ServerError, ModelAPIError, True),
    ],
)
def test_each_status_is_both_classes(
    server: FakeRunAPI,
    status: int,
    core: type[Exception],
    model_error: type[ModelError],
    retryable: bool,
) -> None:
    llm = _model(server)
    for call in (lambda: llm.invoke("hi"), lambda: list(llm.stream("hi"))):
        server.enqueue(Fault.status(status))
        with pytest.raises(core) as caught:
            call()
        err = caught.value
        assert isinstance(err, model_error) and isinstance(err, runapi_client.RunAPIError)
        assert err.is_retryable is retryable
        assert err.status_code == status
        assert err.request_id
        assert str(err) == err.message


def test_async_calls_raise_the_same_classes(server: FakeRunAPI) -> None:
    llm = _model(server, api_key="bad-key")

    async def run() -> None:
        with pytest.raises(ModelAuthenticationError):
            await llm.ainvoke("hi")
        with pytest.raises(ModelAuthenticationError):
            async for _ in llm.astream("hi"):
                pass

    asyncio.run(run())


def test_a_too_long_prompt_is_a_context_overflow(server: FakeRunAPI) -> None:
    body = {"error": {"message": "Prompt exceeds max length", "code": "context_length_exceeded"}}
    server.enqueue(Fault.status(400, body=json.dumps(body)))
    with pytest.raises(ContextOverflowError) as caught:
        _model(server).invoke("hi")
    assert isinstance(caught.value, runapi_client.BadRequestError)
    assert caught.value.code == "context_length_exceeded"


def test_a_broken_stream_keeps_its_partial_answer(server: FakeRunAPI) -> None:
    llm = _model(server)
    server.enqueue(Fault.cut_stream(after=2))
    chunks = []
    with pytest.raises(runapi_client.StreamInterruptedError) as caught:
        for chunk in llm.stream("What is 2 + 3?"):
            chunks.append(chunk)
    assert isinstance(caught.value, ModelConnectionError) and caught.value.is_retryable
    assert chunks and caught.value.partial is not None

    server.enqueue(Fault.reset())  # before any byte: a connection error
    with pytest.raises(ModelConnectionError) as refused:
        llm.invoke("hi")
    assert isinstance(refused.value, runapi_client.APIConnectionError)


def test_a_refused_request_is_an_invalid_request_before_sending(server: FakeRunAPI) -> None:
    with pytest.raises(ModelInvalidRequestError) as caught:
        _model(server).invoke("hi", temperature=5)
    assert isinstance(caught.value, runapi_client.ConfigurationError)
    assert isinstance(caught.value, ValueError)
    assert server.chat_requests == []


def test_a_spent_budget_is_not_retryable(server: FakeRunAPI) -> None:
    llm = _model(server)
    with get_runapi_callback(max_cost=1e-9):
        llm.invoke("hi")
        with pytest.raises(runapi_client.BudgetExceededError) as caught:
            llm.invoke("hi again")
    assert isinstance(caught.value, ModelError) and not caught.value.is_retryable


def test_converted_errors_pickle_and_keep_the_cause(server: FakeRunAPI) -> None:
    server.enqueue(Fault.status(401))
    with pytest.raises(ModelAuthenticationError) as caught:
        _model(server).invoke("hi")
    assert isinstance(caught.value, runapi_client.RunAPIError)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is type(caught.value)
    assert again.status_code == 401 and again.message == caught.value.message


def test_model_retry_middleware_does_not_retry_a_bad_key(server: FakeRunAPI) -> None:
    from langchain.agents import create_agent
    from langchain.agents.middleware import ModelRetryMiddleware

    @tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    agent = create_agent(
        model=_model(server, api_key="bad-key"),
        tools=[get_weather],
        middleware=[ModelRetryMiddleware(max_retries=2, initial_delay=0.01)],
    )
    with pytest.raises(runapi_client.AuthenticationError):
        agent.invoke({"messages": [("user", "hi")]})
    assert len(server.chat_requests) == 1


# ----------------------------------------------------- the adapter's error classes are the core's


@pytest.fixture
def scripted() -> ScriptedServer:
    return ScriptedServer()


def test_errors_are_the_core_classes(scripted: ScriptedServer) -> None:
    scripted.json({"error": {"code": "rate_limited", "message": "slow down"}}, status=429)
    with pytest.raises(RateLimitError) as info:
        scripted.model().invoke("hi")
    assert info.value.status_code == 429
    import runapi_client

    for name in runapi_client.errors.ERROR_CLASSES:
        assert getattr(langchain_runapi, name) is getattr(runapi_client, name)
