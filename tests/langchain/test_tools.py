"""Binding tools and choosing one: what ``bind_tools`` sends. GLM takes
``tool_choice="auto"`` only, so a forced choice (``"any"``, ``"required"``, ``True``, a name; an
agent's response format) goes out as ``"auto"`` with a system instruction to call the tool, in
the words RunAPILLM sends too, with a warning; ``"none"`` leaves the tools out; a model that
takes a choice gets it as asked."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client.policy import TOOL_CALL_INSTRUCTION, tool_call_instruction
from tests.support.fake_runapi import FakeRunAPI

from ._mock import ScriptedServer, sample


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}"


weather_tool = tool(get_weather)


class Weather(BaseModel):
    """A weather report."""

    city: str
    temperature: int


def runapi(fake: FakeRunAPI, **kwargs: Any) -> ChatRunAPI:
    return ChatRunAPI(model="glm-4.6", api_key="k", base_url=fake.base_url, **kwargs)


def system_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


def test_bind_tools_and_tool_choice_on_glm(server: ScriptedServer) -> None:
    for _ in range(4):
        server.json(sample("glm-4.7.tools-reasoning.json"))
    llm = server.model()

    llm.bind_tools([get_weather]).invoke("weather?")
    assert server.last["tools"][0]["function"]["name"] == "get_weather"
    assert "tool_choice" not in server.last

    with pytest.warns(UserWarning, match="sent as 'auto'"):
        llm.bind_tools([get_weather], tool_choice="any").invoke("weather?")
    assert server.last["tool_choice"] == "auto"

    with warnings.catch_warnings():  # kept by reading the first call only: nothing to warn
        warnings.simplefilter("error")
        llm.bind_tools([get_weather], parallel_tool_calls=False).invoke("weather?")
    assert "parallel_tool_calls" not in server.last

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        llm.bind_tools([get_weather], tool_choice="none").invoke("weather?")
    assert "tools" not in server.last and "tool_choice" not in server.last


def test_tool_choice_passes_through_where_accepted(server: ScriptedServer) -> None:
    server.json(sample("glm-4.7.tools-reasoning.json"))
    llm = server.model(model="gpt-4o-mini")
    llm.bind_tools([get_weather], tool_choice="get_weather", parallel_tool_calls=False).invoke(
        "weather?"
    )
    assert server.last["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert server.last["parallel_tool_calls"] is False


def test_tool_choice_must_name_a_bound_tool() -> None:
    llm = ChatRunAPI(api_key="k")
    with pytest.raises(ValueError, match="names no bound tool"):
        llm.bind_tools([get_weather], tool_choice="nope")


# ------------------------- a forced tool_choice on GLM comes with an instruction to call the tool


def test_create_agent_with_a_response_format_sends_the_instruction(fake: FakeRunAPI) -> None:
    # No native structured output on GLM, so AutoStrategy picks ToolStrategy: tool_choice="any".
    agent = create_agent(
        model=runapi(fake), tools=[weather_tool], response_format=Weather, system_prompt="Be brief."
    )
    with pytest.warns(UserWarning, match="sent as 'auto', with a system instruction"):
        agent.invoke({"messages": [("user", "call get_weather for 'Paris'")]})
    for request in fake.chat_requests:
        body = request["body"]
        assert body["tool_choice"] == "auto"
        # One system message, the agent's prompt first.
        assert system_messages(body) == [f"Be brief.\n\n{tool_call_instruction()}"]
        assert body["messages"][0]["role"] == "system"


@pytest.mark.parametrize(
    ("tool_choice", "instruction"),
    [
        # With one tool bound, "any"/"required" can only mean that tool: the words name it.
        ("any", tool_call_instruction("get_weather")),
        ("required", tool_call_instruction("get_weather")),
        ("get_weather", tool_call_instruction("get_weather")),
        (True, tool_call_instruction("get_weather")),
    ],
)
def test_a_forced_tool_choice_sends_the_instruction(
    fake: FakeRunAPI, tool_choice: Any, instruction: str
) -> None:
    llm = runapi(fake).bind_tools([weather_tool], tool_choice=tool_choice)
    with pytest.warns(UserWarning, match="sent as 'auto'"):
        llm.invoke("weather in 'Paris'?")
    body = fake.chat_requests[-1]["body"]
    assert body["tool_choice"] == "auto"
    assert body["messages"][0] == {"role": "system", "content": instruction}
    assert body["messages"][1:] == [{"role": "user", "content": "weather in 'Paris'?"}]

    with pytest.warns(UserWarning, match="sent as 'auto'"):  # streamed: the same body
        list(llm.stream([("system", "Be brief."), ("human", "weather in 'Rome'?")]))
    assert system_messages(fake.chat_requests[-1]["body"]) == [f"Be brief.\n\n{instruction}"]


@pytest.mark.parametrize("tool_choice", [None, "auto", "none"])
def test_an_unforced_tool_choice_sends_no_instruction(
    fake: FakeRunAPI, tool_choice: str | None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runapi(fake).bind_tools([weather_tool], tool_choice=tool_choice).invoke("weather?")
    assert system_messages(fake.chat_requests[-1]["body"]) == []


def test_a_model_that_can_be_forced_gets_tool_choice_and_no_instruction(
    fake: FakeRunAPI,
) -> None:
    llm = ChatRunAPI(
        model="gpt-4o-mini",
        api_key="k",
        base_url=fake.base_url,
        price={"input": 0.15, "output": 0.60},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        llm.bind_tools([weather_tool], tool_choice="any").invoke("weather?")
    body = fake.chat_requests[-1]["body"]
    assert body["tool_choice"] == "required"
    assert system_messages(body) == []


def test_both_adapters_send_the_same_words(fake: FakeRunAPI) -> None:
    with pytest.warns(UserWarning):
        runapi(fake).bind_tools([weather_tool], tool_choice="get_weather").invoke("weather?")
    langchain_body = fake.chat_requests[-1]["body"]

    llm = RunAPILLM(api_key="k", base_url=fake.base_url)
    weather = FunctionTool.from_defaults(fn=lambda city: city, name="get_weather")
    with pytest.warns(UserWarning, match="tool_choice='get_weather'"):
        llm.chat_with_tools([weather], user_msg="weather?", tool_choice="get_weather")
    llama_body = fake.chat_requests[-1]["body"]

    assert system_messages(langchain_body) == system_messages(llama_body)
    assert system_messages(llama_body) == [f"{TOOL_CALL_INSTRUCTION}: call `get_weather`."]
