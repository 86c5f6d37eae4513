"""Fixes from the review of ChatRunAPI inside LangChain 1.x agents (/tmp/review_agents.md):

- #2: ``with_structured_output`` (function_calling) parses an answer without the schema's tool
  call to None, as ChatOpenAI does, so LLMToolSelectorMiddleware retries and falls back;
- #4: a forced ``tool_choice`` sent as ``"auto"`` on GLM comes with a system instruction to
  call the tool, the words RunAPILLM sends (the core's);
- #5: ``get_num_tokens_from_messages`` counts a conversation the same under
  ``output_version="v1"`` as under v0.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import LLMToolSelectorMiddleware
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

import tests.support.fake_runapi as fake_runapi
from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client.policy import (
    TOOL_CALL_INSTRUCTION,
    add_system_instruction,
    tool_call_instruction,
)
from tests.support.fake_runapi import FakeRunAPI
from tests.support.scripted_glm import Answer
from tests.support.scripted_glm import answer as glm_answer


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Get the local time for a city."""
    return f"12:00 in {city}"


class Weather(BaseModel):
    """A weather report."""

    city: str
    temperature: int


WEATHER_DICT = {
    "title": "Weather",
    "description": "A weather report.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"}},
    "required": ["city", "temperature"],
}


@pytest.fixture
def fake() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as server:
        yield server


def runapi(fake: FakeRunAPI, **kwargs: Any) -> ChatRunAPI:
    return ChatRunAPI(model="glm-4.6", api_key="k", base_url=fake.base_url, **kwargs)


def system_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


# ------------------------------------------- #2: no call of the schema's tool parses to None


def _completion(message: dict[str, Any]) -> dict[str, Any]:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": "r1",
        "object": "chat.completion",
        "created": 0,
        "model": "glm-4.6",
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _call(name: str, arguments: str) -> dict[str, Any]:
    call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return {"role": "assistant", "content": "", "tool_calls": [call]}


ANSWERS = {
    "prose": {"role": "assistant", "content": "It is cold in Oslo."},
    "arguments not JSON": _call("Weather", '{"city": '),
    "another tool": _call("Other", "{}"),
    "arguments that do not fit": _call("Weather", '{"city": "Oslo", "temperature": "cold"}'),
    "a fitting call": _call("Weather", '{"city": "Oslo", "temperature": 3}'),
}


def _outcome(run: Callable[[], Any]) -> Any:
    """What a call returns, or the class of what it raises; parsing_error as its class."""
    try:
        out = run()
    except Exception as exc:  # the class is the outcome compared
        return ("raises", type(exc))
    if isinstance(out, dict) and "raw" in out:
        error = out["parsing_error"]
        return {"parsed": out["parsed"], "parsing_error": type(error) if error else None}
    return out


@pytest.mark.parametrize("answer", list(ANSWERS))
@pytest.mark.parametrize("schema", [Weather, WEATHER_DICT], ids=["pydantic", "dict"])
@pytest.mark.parametrize("include_raw", [False, True], ids=["parsed", "include_raw"])
def test_function_calling_parses_as_chat_openai_does(
    answer: str, schema: Any, include_raw: bool
) -> None:
    payload = _completion(ANSWERS[answer])

    def transport() -> httpx.MockTransport:
        return httpx.MockTransport(lambda _: httpx.Response(200, json=payload))

    ours = ChatRunAPI(
        model="glm-4.6", api_key="k", max_retries=0, http_client=httpx.Client(transport=transport())
    )
    openai = ChatOpenAI(
        model="glm-4.6", api_key="k", max_retries=0, http_client=httpx.Client(transport=transport())
    )
    outcomes = [
        _outcome(
            lambda llm=llm: llm.with_structured_output(
                schema, method="function_calling", include_raw=include_raw
            ).invoke("Oslo?")
        )
        for llm in (ours, openai)
    ]
    ours_outcome, openai_outcome = outcomes
    if include_raw and openai_outcome == {"parsed": None, "parsing_error": None}:
        # Where ChatOpenAI's include_raw is silent about why nothing parsed, ours says why.
        assert ours_outcome == {"parsed": None, "parsing_error": OutputParserException}
    else:
        assert ours_outcome == openai_outcome
    if answer == "prose" and not include_raw:
        assert ours_outcome is None


def test_tool_selector_middleware_retries_and_falls_back_on_a_prose_selection(
    fake: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GLM answers the selection prompt in prose (tool_choice="auto" lets it); the agent's own
    # calls get the emulator's usual answers.
    def answer(body: dict[str, Any]) -> Answer:
        names = [t["function"]["name"] for t in body.get("tools") or []]
        if names == ["ToolSelectionResponse"]:
            return Answer(content="I would use get_weather.", prompt_tokens=10, completion_tokens=5)
        return glm_answer(body)

    monkeypatch.setattr(fake_runapi, "answer", answer)
    selector = LLMToolSelectorMiddleware(max_tools=1, on_parsing_failure="all", max_retries=1)
    agent = create_agent(model=runapi(fake), tools=[get_weather, get_time], middleware=[selector])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = agent.invoke({"messages": [("user", "call get_weather for 'Paris'")]})

    assert [m.type for m in result["messages"]] == ["human", "ai", "tool", "ai"]
    tools_sent = [[t["function"]["name"] for t in r["body"]["tools"]] for r in fake.chat_requests]
    # Each model call: a selection and its one retry, then the call with every tool ("all").
    assert tools_sent[:3] == [
        ["ToolSelectionResponse"],
        ["ToolSelectionResponse"],
        ["get_weather", "get_time"],
    ]


# --------------------------------- #4: a forced tool_choice on GLM comes with an instruction


def test_create_agent_with_a_response_format_sends_the_instruction(fake: FakeRunAPI) -> None:
    # No native structured output on GLM, so AutoStrategy picks ToolStrategy: tool_choice="any".
    agent = create_agent(
        model=runapi(fake), tools=[get_weather], response_format=Weather, system_prompt="Be brief."
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
    llm = runapi(fake).bind_tools([get_weather], tool_choice=tool_choice)
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
        runapi(fake).bind_tools([get_weather], tool_choice=tool_choice).invoke("weather?")
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
        llm.bind_tools([get_weather], tool_choice="any").invoke("weather?")
    body = fake.chat_requests[-1]["body"]
    assert body["tool_choice"] == "required"
    assert system_messages(body) == []


def test_both_adapters_send_the_same_words(fake: FakeRunAPI) -> None:
    with pytest.warns(UserWarning):
        runapi(fake).bind_tools([get_weather], tool_choice="get_weather").invoke("weather?")
    langchain_body = fake.chat_requests[-1]["body"]

    llm = RunAPILLM(api_key="k", base_url=fake.base_url)
    weather = FunctionTool.from_defaults(fn=lambda city: city, name="get_weather")
    llm.chat_with_tools([weather], user_msg="weather?", tool_choice="get_weather")
    llama_body = fake.chat_requests[-1]["body"]

    assert system_messages(langchain_body) == system_messages(llama_body)
    assert system_messages(llama_body) == [f"{TOOL_CALL_INSTRUCTION}: call `get_weather`."]


def test_add_system_instruction_keeps_one_system_message_first() -> None:
    user = {"role": "user", "content": "hi"}
    assert add_system_instruction([user], "X") == [{"role": "system", "content": "X"}, user]
    system = {"role": "system", "content": "Be brief."}
    given = [system, user]
    assert add_system_instruction(given, "X") == [
        {"role": "system", "content": "Be brief.\n\nX"},
        user,
    ]
    assert given == [{"role": "system", "content": "Be brief."}, user]  # left unchanged
    parts = {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    assert add_system_instruction([parts], "X")[0]["content"][-1] == {"type": "text", "text": "X"}
    # A system message after the first is not the head: a new one goes first.
    assert add_system_instruction([user, system], "X")[0] == {"role": "system", "content": "X"}


# ------------------------------------------- #5: v1 content counts as what is sent, like v0


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
        usage_metadata=usage,  # type: ignore[arg-type]
        response_metadata=metadata,
    )
    v1 = AIMessage(
        [
            {"type": "reasoning", "reasoning": "The user wants the weather. " * 20},
            {"type": "text", "text": "Let me check."},
            call,
        ],
        tool_calls=[call],
        usage_metadata=usage,  # type: ignore[arg-type]
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
