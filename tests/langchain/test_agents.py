"""Agent loops on cassettes: LangGraph's prebuilt ReAct agent and LangChain's ``create_agent``,
each calling a tool and answering from its result, invoked and streamed token by token, in both
GLM stream shapes. Recorded with ``scripts/record_cassettes.py``; replay only."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_runapi import ChatRunAPI, get_runapi_callback

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # create_react_agent is deprecated in favour of create_agent
    from langgraph.prebuilt import create_react_agent

SHAPES = ["native", "normalised"]
QUESTION = "What is the weather in 'Paris'? Use the tool."


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 24 degrees in {city}."


def _llm(shape: str) -> ChatRunAPI:
    # The header picks the emulator's stream shape while recording; RunAPI ignores it.
    return ChatRunAPI(model="glm-4.6", default_headers={"X-Fake-Stream-Shape": shape})


def _build(kind: str, shape: str) -> Any:
    if kind == "langgraph":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return create_react_agent(_llm(shape), [get_weather])
    return create_agent(_llm(shape), tools=[get_weather], system_prompt="Be brief.")


def _check_loop(messages: list[Any]) -> AIMessage:
    """user -> AI tool call -> tool result -> AI answer from that result."""
    assert isinstance(messages[0], HumanMessage)
    call_msg, tool_msg, answer = messages[1], messages[2], messages[-1]
    assert isinstance(call_msg, AIMessage)
    assert call_msg.tool_calls[0]["name"] == "get_weather"
    assert call_msg.tool_calls[0]["args"] == {"city": "Paris"}
    assert isinstance(tool_msg, ToolMessage)
    assert tool_msg.content == "Sunny, 24 degrees in Paris."
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert "Sunny, 24 degrees in Paris" in answer.text
    return answer


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["langgraph", "create_agent"])
def test_agent_calls_tool_and_answers(kind: str, shape: str) -> None:
    agent = _build(kind, shape)
    with get_runapi_callback() as cb:
        result = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    answer = _check_loop(result["messages"])
    ai_messages = [m for m in result["messages"] if isinstance(m, AIMessage)]
    # two model calls, both counted and priced; the tracker agrees with the messages
    assert cb.successful_requests == 2
    assert cb.total_cost == pytest.approx(sum(m.response_metadata["cost"] for m in ai_messages))
    usages = [m.usage_metadata for m in ai_messages]
    assert all(u is not None for u in usages)
    assert cb.total_tokens == sum(u["total_tokens"] for u in usages if u is not None)
    assert answer.response_metadata["model_provider"] == "runapi"


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["langgraph", "create_agent"])
def test_agent_streams_tokens(kind: str, shape: str) -> None:
    agent = _build(kind, shape)
    tokens: list[str] = []
    reasoning: list[str] = []
    final: dict[str, Any] = {}
    for mode, payload in agent.stream(
        {"messages": [HumanMessage(QUESTION)]}, stream_mode=["messages", "values"]
    ):
        if mode == "values":
            final = payload
            continue
        chunk, metadata = payload
        if isinstance(chunk, AIMessageChunk):
            assert metadata["langgraph_node"] in ("agent", "model")
            if chunk.text:
                tokens.append(chunk.text)
            if chunk.additional_kwargs.get("reasoning_content"):
                reasoning.append(chunk.additional_kwargs["reasoning_content"])
    answer = _check_loop(final["messages"])
    assert len(tokens) > 3  # the answer arrived word by word, not in one piece
    assert "".join(tokens).endswith(answer.text)
    assert reasoning  # GLM's thinking streamed on its own channel ...
    assert "".join(reasoning) not in "".join(tokens)  # ... and never into the text


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="create_agent calls the model without passing its config, and before 3.11 asyncio "
    "tasks do not carry context variables, so LangGraph's token streaming never reaches the "
    "model (a LangGraph limit for every chat model; it makes a non-streamed call instead)",
)
async def test_agent_astream_tokens(shape: str) -> None:
    agent = _build("create_agent", shape)
    tokens: list[str] = []
    with get_runapi_callback() as cb:
        async for chunk, _meta in agent.astream(
            {"messages": [HumanMessage(QUESTION)]}, stream_mode="messages"
        ):
            if isinstance(chunk, AIMessageChunk) and chunk.text:
                tokens.append(chunk.text)
    assert "Sunny, 24 degrees in Paris" in "".join(tokens)
    assert cb.successful_requests == 2
    assert cb.total_cost > 0
