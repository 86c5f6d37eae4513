"""Token estimates work out of the box: no ``transformers``, no network, no GLM tokenizer; a
conversation counts the same whether its messages are v0 or ``output_version="v1"``."""

from __future__ import annotations

import builtins
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.tools import tool

from langchain_runapi import ChatRunAPI
from runapi_client import estimate_tokens
from tests.support.fake_runapi import FakeRunAPI


@pytest.fixture
def model() -> ChatRunAPI:
    return ChatRunAPI(model="glm-4.6", api_key="sk-test")


@pytest.fixture(autouse=True)
def _no_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    # LangChain's default counts with GPT-2 from transformers; prove we never reach for it.
    real_import = builtins.__import__

    def guarded(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("transformers is not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)


def test_text_tokens_are_the_cores_estimate(model: ChatRunAPI) -> None:
    assert model.get_num_tokens("") == 0
    for text in ("hello world, how are you?", "你好，世界", "def f(x):\n    return x * 2\n"):
        assert model.get_num_tokens(text) == estimate_tokens(text)


def test_cjk_counts_about_a_token_per_character(model: ChatRunAPI) -> None:
    english: list[BaseMessage] = [HumanMessage("a" * 300)]
    chinese: list[BaseMessage] = [HumanMessage("字" * 300)]
    # 300 ASCII bytes / 3 = 100; 300 CJK characters are 900 bytes / 3 = 300.
    assert model.get_num_tokens_from_messages(chinese) - model.get_num_tokens_from_messages(
        english
    ) == pytest.approx(200, abs=2)


def test_messages_count_roles_tool_calls_and_tools(model: ChatRunAPI) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "sunny"

    history: list[BaseMessage] = [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage("sunny", tool_call_id="c1"),
    ]
    plain = model.get_num_tokens_from_messages(history[:2])
    with_calls = model.get_num_tokens_from_messages(history)
    with_tools = model.get_num_tokens_from_messages(history, tools=[get_weather])
    assert 0 < plain < with_calls < with_tools
    # A dict schema counts the same as the tool it describes.
    schema = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    assert model.get_num_tokens_from_messages(history, tools=[schema]) > with_calls


def test_reported_usage_scales_a_low_estimate_up(model: ChatRunAPI) -> None:
    question = HumanMessage("x" * 90)
    answer = AIMessage("y" * 30, response_metadata={"model_provider": "runapi"})
    estimate = model.get_num_tokens_from_messages([question, answer])
    reported = answer.model_copy(
        update={
            "usage_metadata": {
                "input_tokens": 2 * estimate,
                "output_tokens": estimate,
                "total_tokens": 3 * estimate,
            }
        }
    )
    scaled = model.get_num_tokens_from_messages([question, reported, HumanMessage("more")])
    unscaled = model.get_num_tokens_from_messages([question, answer, HumanMessage("more")])
    assert unscaled < scaled <= 1.25 * unscaled + 1


def test_trim_messages_with_the_model_as_counter(model: ChatRunAPI) -> None:
    history: list[BaseMessage] = [SystemMessage("Be brief.")]
    for n in range(20):
        history += [HumanMessage(f"question {n} " * 10), AIMessage(f"answer {n} " * 10)]
    history.append(HumanMessage("last question"))
    trimmed = trim_messages(
        history,
        max_tokens=200,
        token_counter=model,
        strategy="last",
        include_system=True,
        start_on="human",
    )
    assert trimmed[0] == history[0]
    assert trimmed[-1] == history[-1]
    assert 3 <= len(trimmed) < len(history)
    assert model.get_num_tokens_from_messages(trimmed) <= 200


# ----------------------------------------------------- v1 content counts as what is sent, like v0


def runapi(fake: FakeRunAPI, **kwargs: Any) -> ChatRunAPI:
    return ChatRunAPI(model="glm-4.6", api_key="k", base_url=fake.base_url, **kwargs)


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}"


def _conversation(fake: FakeRunAPI, **kwargs: Any) -> list[BaseMessage]:
    agent = create_agent(model=runapi(fake, **kwargs), tools=[get_weather])
    result = agent.invoke({"messages": [("user", "call get_weather for 'Paris'")]})
    messages: list[BaseMessage] = result["messages"]
    return messages


def test_v0_and_v1_conversations_estimate_the_same(fake: FakeRunAPI) -> None:
    v0 = _conversation(fake)
    v1 = _conversation(fake, output_version="v1")
    assert any(
        isinstance(b, dict) and b.get("type") == "reasoning"
        for m in v1
        if isinstance(m, AIMessage) and isinstance(m.content, list)
        for b in m.content
    )  # the blocks that were counted before
    model = runapi(fake)
    assert model.get_num_tokens_from_messages(v1) == model.get_num_tokens_from_messages(v0)
    assert model.get_num_tokens_from_messages(v1[:2]) == model.get_num_tokens_from_messages(v0[:2])


def test_v1_answers_still_scale_by_their_reported_usage() -> None:
    model = ChatRunAPI(model="glm-4.6", api_key="k")
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
    usage = {"input_tokens": 400, "output_tokens": 100, "total_tokens": 500}
    metadata = {"model_provider": "runapi"}
    v0 = AIMessage(
        "Let me check.",
        tool_calls=[call],
        additional_kwargs={"reasoning_content": "The user wants the weather. " * 20},
        usage_metadata=usage,
        response_metadata=metadata,
    )
    v1 = AIMessage(
        [
            {"type": "reasoning", "reasoning": "The user wants the weather. " * 20},
            {"type": "text", "text": "Let me check."},
            call,
        ],
        tool_calls=[call],
        usage_metadata=usage,
        response_metadata={**metadata, "output_version": "v1"},
    )
    tail: list[BaseMessage] = [ToolMessage("Sunny", tool_call_id="c1")]
    head: list[BaseMessage] = [HumanMessage("Weather in Paris?")]
    unscaled = model.get_num_tokens_from_messages(
        [*head, v0.model_copy(update={"usage_metadata": None}), *tail]
    )
    scaled = model.get_num_tokens_from_messages([*head, v0, *tail])
    assert scaled > unscaled  # 500 reported tokens: the estimate runs low and is scaled up
    assert model.get_num_tokens_from_messages([*head, v1, *tail]) == scaled
