"""Structured output: ``with_structured_output`` in each method and ``response_format`` given
as a schema. On GLM ``function_calling`` is the default (bound with ``tool_choice="auto"``), an
answer that calls no schema tool parses to None as with ChatOpenAI (so LangChain's
``LLMToolSelectorMiddleware`` retries and falls back), and ``json_schema`` goes out as
``json_object`` with the schema in the system message; a model that takes ``json_schema`` gets
it natively. Over the scripted ``httpx.MockTransport`` in ``_mock`` and the GLM emulator."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable
from typing import Any, Literal

import httpx
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import LLMToolSelectorMiddleware
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr
from typing_extensions import TypedDict

import tests.support.fake_runapi as fake_runapi
from langchain_runapi import ChatRunAPI
from tests.support.fake_runapi import FakeRunAPI
from tests.support.scripted_glm import Answer
from tests.support.scripted_glm import answer as glm_answer

from ._mock import ScriptedServer, collect, completion, llm_on


class Weather(BaseModel):
    """Weather report."""

    city: str
    temperature: int


WEATHER_DICT = {
    "title": "Weather",
    "description": "Weather report.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"}},
    "required": ["city", "temperature"],
}


class Joke(BaseModel):
    setup: str
    punchline: str


class JokeDict(TypedDict):
    setup: str
    punchline: str


JOKE_SCHEMA = {
    "title": "Joke",
    "type": "object",
    "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
    "required": ["setup", "punchline"],
}


async def _acollect(llm: Any, prompt: str) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    async for chunk in llm.astream(prompt):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


# ------------------------------------------------------------------------- with_structured_output


def _tool_call_answer(name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": "s1",
        "model": "glm-4.6",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _text_answer(text: str) -> dict[str, Any]:
    return {
        "id": "s2",
        "model": "glm-4.6",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def test_structured_output_function_calling_is_glm_default(server: ScriptedServer) -> None:
    server.json(_tool_call_answer("Weather", '{"city": "Oslo", "temperature": 3}'))
    llm = server.model()
    assert llm.default_structured_output_method() == "function_calling"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # GLM's auto-only tool_choice is chosen knowingly
        result = llm.with_structured_output(Weather).invoke("Oslo weather")
    assert result == Weather(city="Oslo", temperature=3)
    assert server.last["tool_choice"] == "auto"
    assert server.last["tools"][0]["function"]["name"] == "Weather"


def test_structured_output_prose_answer_parses_to_none(server: ScriptedServer) -> None:
    server.json(_text_answer("It is cold."))
    out = server.model().with_structured_output(Weather, include_raw=True).invoke("Oslo")
    assert isinstance(out, dict)
    assert out["raw"].content == "It is cold."
    # GLM cannot be forced to call the schema's tool: an answer in prose parses to nothing,
    # and include_raw says why (ChatOpenAI's parsing_error stays None there).
    assert out["parsed"] is None
    assert "answered in prose without calling `Weather`" in str(out["parsing_error"])

    server.json(_text_answer("It is cold."))
    assert server.model().with_structured_output(Weather).invoke("Oslo") is None


@pytest.mark.parametrize("schema", [Weather, WEATHER_DICT], ids=["pydantic", "dict"])
@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("json_mode", _text_answer("Rome is warm")),
        ("json_schema", _text_answer("Rome is warm")),
    ],
)
def test_structured_output_parse_failure_keeps_raw(
    server: ScriptedServer,
    schema: Any,
    method: Literal["json_mode", "json_schema"],
    answer: dict[str, Any],
) -> None:
    server.json(answer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # json_schema on GLM is adapted, with a warning
        out = (
            server.model()
            .with_structured_output(schema, method=method, include_raw=True)
            .invoke("Rome?")
        )
    assert isinstance(out["raw"], AIMessage)
    assert out["raw"].response_metadata["cost"] > 0
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], OutputParserException)


def test_structured_output_json_mode(server: ScriptedServer) -> None:
    server.json(_text_answer('{"city": "Rome", "temperature": 20}'))
    out = (
        server.model()
        .with_structured_output(Weather, method="json_mode")
        .invoke("Rome weather as JSON with keys city and temperature")
    )
    assert out == Weather(city="Rome", temperature=20)
    assert server.last["response_format"] == {"type": "json_object"}


def test_structured_output_json_schema_on_glm_is_adapted(server: ScriptedServer) -> None:
    server.json(_text_answer('{"city": "Rome", "temperature": 20}'))
    llm = server.model().with_structured_output(Weather, method="json_schema")
    with pytest.warns(UserWarning, match="json_schema"):
        out = llm.invoke([("system", "Be brief."), ("human", "Rome?")])
    assert out == Weather(city="Rome", temperature=20)
    assert server.last["response_format"] == {"type": "json_object"}
    system = server.last["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("Be brief.")
    assert '"temperature"' in system["content"]
    assert len([m for m in server.last["messages"] if m["role"] == "system"]) == 1


def test_structured_output_json_schema_native_where_accepted(server: ScriptedServer) -> None:
    server.json(_text_answer('{"city": "Rome", "temperature": 20}'))
    out = server.model(model="gpt-4o-mini").with_structured_output(Weather).invoke("Rome?")
    assert out == Weather(city="Rome", temperature=20)
    assert server.last["response_format"]["type"] == "json_schema"
    assert server.last["response_format"]["json_schema"]["name"] == "Weather"


# --------------------------- an answer without the schema's tool call parses as ChatOpenAI's does


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
        model="glm-4.6",
        api_key=SecretStr("k"),
        max_retries=0,
        http_client=httpx.Client(transport=transport()),
    )

    def structured(llm: BaseChatModel) -> Callable[[], Any]:
        return lambda: llm.with_structured_output(
            schema, method="function_calling", include_raw=include_raw
        ).invoke("Oslo?")

    outcomes = [_outcome(structured(llm)) for llm in (ours, openai)]
    ours_outcome, openai_outcome = outcomes
    if include_raw and openai_outcome == {"parsed": None, "parsing_error": None}:
        # Where ChatOpenAI's include_raw is silent about why nothing parsed, ours says why.
        assert ours_outcome == {"parsed": None, "parsing_error": OutputParserException}
    else:
        assert ours_outcome == openai_outcome
    if answer == "prose" and not include_raw:
        assert ours_outcome is None


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Get the local time for a city."""
    return f"12:00 in {city}"


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
    agent = create_agent(model=llm_on(fake), tools=[get_weather, get_time], middleware=[selector])
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


# -------------------------------------------------------------- response_format given as a schema


@pytest.mark.parametrize(
    "schema", [Joke, JokeDict, JOKE_SCHEMA], ids=["pydantic", "typeddict", "dict"]
)
def test_response_format_schema_goes_out_as_json_object_on_glm(
    fake: FakeRunAPI, schema: Any
) -> None:
    with pytest.warns(UserWarning, match="does not accept response_format json_schema"):
        msg = llm_on(fake).bind(response_format=schema).invoke("tell a joke")
    body = fake.chat_requests[-1]["body"]
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system" and '"punchline"' in system["content"]
    assert set(json.loads(msg.text)) == {"setup", "punchline"}
    if schema is Joke:  # as ChatOpenAI: the parsed object for a pydantic class only
        assert isinstance(msg.additional_kwargs["parsed"], Joke)
    else:
        assert "parsed" not in msg.additional_kwargs


def test_response_format_pydantic_per_call_and_async(fake: FakeRunAPI) -> None:
    llm = llm_on(fake)
    with pytest.warns(UserWarning):
        msg = llm.invoke("tell a joke", response_format=Joke)
        amsg = asyncio.run(llm.ainvoke("tell a joke", response_format=Joke))
    assert isinstance(msg.additional_kwargs["parsed"], Joke)
    assert isinstance(amsg.additional_kwargs["parsed"], Joke)


def test_response_format_pydantic_stream_puts_parsed_on_the_last_chunk(fake: FakeRunAPI) -> None:
    llm = llm_on(fake).bind(response_format=Joke)
    with pytest.warns(UserWarning):
        full = collect(llm.stream("tell a joke"))
        afull = asyncio.run(_acollect(llm, "tell a joke"))
    assert full.additional_kwargs["parsed"] == Joke.model_validate_json(full.text)
    assert isinstance(afull.additional_kwargs["parsed"], Joke)


def test_response_format_pydantic_native_json_schema_where_accepted(
    server: ScriptedServer,
) -> None:
    server.json(completion({"content": '{"setup": "a", "punchline": "b"}'}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no adaptation warning: the model takes json_schema
        msg = server.model(model="gpt-4o-mini").invoke("joke", response_format=Joke)
    sent = server.last["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Joke"
    assert set(sent["json_schema"]["schema"]["properties"]) == {"setup", "punchline"}
    assert msg.additional_kwargs["parsed"] == Joke(setup="a", punchline="b")


def test_response_format_pydantic_answer_that_does_not_fit_parses_to_none(
    server: ScriptedServer,
) -> None:
    server.json(completion({"content": "Sorry, no joke today."}))
    with pytest.warns(UserWarning):
        msg = server.model().invoke("joke", response_format=Joke)
    assert msg.additional_kwargs["parsed"] is None
    assert msg.text == "Sorry, no joke today."  # the answer itself is kept


def test_response_format_wire_dicts_are_sent_as_given(server: ScriptedServer) -> None:
    server.json(completion({"content": "{}"}))
    server.model().invoke("x", response_format={"type": "json_object"})
    assert server.last["response_format"] == {"type": "json_object"}
