"""ChatRunAPI against scripted wire payloads (httpx.MockTransport; no sockets)."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel

import langchain_runapi
from langchain_runapi import (
    BudgetExceededError,
    ChatRunAPI,
    Price,
    RateLimitError,
    get_runapi_callback,
)
from langchain_runapi._messages import message_to_wire, usage_to_metadata

from ._mock import ScriptedServer, sample, sse

M = 1_000_000
# glm-4.6 / glm-4.7: $0.30 in, $1.10 out, $0.06 cache read per 1M tokens.
IN, OUT, CACHE = 0.30, 1.10, 0.06


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


def collect(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


# ------------------------------------------------------------------------------ invoke


def test_invoke_plain_answer_usage_and_cost(server: ScriptedServer) -> None:
    server.json(sample("glm-4.6.nonstream.json"), **{"x-request-id": "req-1"})
    msg = server.model().invoke("Hello")

    assert isinstance(msg, AIMessage)
    assert msg.content.startswith("\nHello! I'm here")  # GLM's leading newline is kept
    assert msg.usage_metadata == {
        "input_tokens": 81,
        "output_tokens": 186,
        "total_tokens": 267,
        "input_token_details": {"cache_read": 6},
    }
    meta = msg.response_metadata
    assert meta["model_name"] == "glm-4.6"
    assert meta["finish_reason"] == "stop"
    assert meta["id"] == "20251103162614ab25f9b375f8437a"
    assert meta["model_provider"] == "runapi"
    assert meta["request_id"] == "req-1"
    # prompt_tokens (81) includes the 6 cached ones, billed at the cache-read rate.
    expected = (75 * IN + 186 * OUT + 6 * CACHE) / M
    assert meta["cost"] == pytest.approx(expected)
    assert meta["cost"] == pytest.approx(0.00022746)
    assert meta["cost_details"]["cache_read"] == pytest.approx(6 * CACHE / M)
    assert meta["cost_details"]["input"] == pytest.approx(75 * IN / M)
    assert server.last["model"] == "glm-4.6"
    assert server.last["messages"] == [{"role": "user", "content": "Hello"}]


def test_invoke_reasoning_and_tool_call(server: ScriptedServer) -> None:
    server.json(sample("glm-4.7.tools-reasoning.json"))
    msg = server.model(model="glm-4.7").invoke("Weather in Paris?")

    assert msg.additional_kwargs["reasoning_content"] == "User wants weather."
    assert msg.content == "I'll check the weather."  # the reasoning never leaks into the text
    assert msg.text == "I'll check the weather."
    blocks = msg.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "User wants weather."}
    assert [b["type"] for b in blocks] == ["reasoning", "text", "tool_call"]
    assert msg.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Paris"},
            "id": "call_-7682507267639338722",
            "type": "tool_call",
        }
    ]
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    # reasoning tokens are inside completion_tokens: 56 of the 78
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["output_tokens"] == 78
    assert msg.usage_metadata["output_token_details"] == {"reasoning": 56}
    assert msg.usage_metadata["input_token_details"] == {"cache_read": 0}
    assert msg.response_metadata["cost"] == pytest.approx((160 * IN + 78 * OUT) / M)


def test_malformed_tool_arguments_become_invalid_tool_calls(server: ScriptedServer) -> None:
    payload = json.loads(sample("glm-4.7.tools-reasoning.json"))
    payload["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    server.json(payload)
    msg = server.model(model="glm-4.7").invoke("Weather?")
    assert msg.tool_calls == []
    assert len(msg.invalid_tool_calls) == 1
    bad = msg.invalid_tool_calls[0]
    assert bad["name"] == "get_weather"
    assert bad["args"] == '{"city": "Par'
    assert bad["id"] == "call_-7682507267639338722"


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


# ------------------------------------------------------------------------------ streams


def _only_one(chunks: list[AIMessageChunk], key: str) -> None:
    carriers = [c for c in chunks if key in c.response_metadata]
    assert len(carriers) == 1, f"{key} on {len(carriers)} chunks"


def test_stream_native_shape(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"), **{"x-request-id": "req-2"})
    chunks = list(server.model().stream("Hi"))

    assert [c.content for c in chunks] == [" today", "?", ""]
    for key in ("finish_reason", "model_name", "id", "cost", "cost_details", "request_id"):
        _only_one(chunks, key)
    # model_provider rides on every chunk (equal values merge to one; LangChain needs it per
    # chunk to pick the content-block translator)
    assert {c.response_metadata["model_provider"] for c in chunks} == {"runapi"}
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    full = collect(chunks)
    assert full.content == " today?"
    assert full.chunk_position == "last"
    assert full.response_metadata["finish_reason"] == "stop"  # not "stopstop"
    assert full.usage_metadata == {
        "input_tokens": 6074,
        "output_tokens": 15,
        "total_tokens": 6089,
        "input_token_details": {"cache_read": 43},
    }
    assert full.response_metadata["cost"] == pytest.approx(
        ((6074 - 43) * IN + 15 * OUT + 43 * CACHE) / M
    )
    assert server.last["stream"] is True
    assert server.last["stream_options"] == {"include_usage": True}


def test_stream_normalised_shape_with_reasoning(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-normalised.sse"))
    chunks = list(server.model().stream("Hi"))
    full = collect(chunks)

    assert full.content == "模型"
    assert full.additional_kwargs["reasoning_content"] == "\n1"
    assert full.content_blocks[0] == {"type": "reasoning", "reasoning": "\n1"}
    assert full.content_blocks[1]["type"] == "text"
    _only_one(chunks, "finish_reason")
    _only_one(chunks, "cost")
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == 9
    assert full.usage_metadata["output_tokens"] == 1024
    assert full.response_metadata["cost"] == pytest.approx(
        ((9 - 7) * IN + 1024 * OUT + 7 * CACHE) / M
    )


def test_stream_split_tool_call_with_non_ascii_arguments(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-tool-deltas.sse"))
    llm = server.model()
    chunks = list(llm.stream("北京天气?"))

    assert [c.tool_call_chunks[0]["args"] for c in chunks if c.tool_call_chunks] == [
        '{"city"',
        ':"北京"}',
    ]
    full = collect(chunks)
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "北京"}, "id": "call_1", "type": "tool_call"}
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"

    # Round trip: the call goes back on the next turn with its arguments unescaped.
    server.json(sample("glm-4.6.nonstream.json"))
    llm.invoke(
        [
            HumanMessage("北京天气?"),
            AIMessage(content="", tool_calls=full.tool_calls),
            ToolMessage("晴, 25°C", tool_call_id="call_1"),
        ]
    )
    assistant = server.last["messages"][1]
    assert assistant["content"] is None
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"city": "北京"}'
    assert "北京".encode() in server.raw_bodies[-1]
    assert server.last["messages"][2] == {
        "role": "tool",
        "content": "晴, 25°C",
        "tool_call_id": "call_1",
    }


def _chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "x1", "model": "glm-4.6", "choices": [{"index": 0, "delta": delta, **extra}]}


def test_stream_whole_tool_call_in_one_delta(server: ScriptedServer) -> None:
    call = {
        "index": 0,
        "id": "call_-42",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'},
    }
    server.stream(
        sse(
            _chunk({"role": "assistant", "tool_calls": [call]}),
            _chunk({"role": "assistant", "content": ""}, finish_reason="tool_calls"),
        )
    )
    full = collect(list(server.model().stream("weather")))
    assert full.tool_calls[0]["args"] == {"city": "Zürich"}
    assert full.tool_calls[0]["id"] == "call_-42"


def test_stream_malformed_tool_arguments_become_invalid(server: ScriptedServer) -> None:
    # (LangChain parses streamed arguments as partial JSON, so only text that is not even a
    # JSON prefix is invalid there, as with ChatOpenAI; invoke parses strictly.)
    call = {"index": 0, "id": "c", "function": {"name": "f", "arguments": "city=Paris"}}
    server.stream(sse(_chunk({"tool_calls": [call]}), _chunk({}, finish_reason="tool_calls")))
    full = collect(list(server.model().stream("x")))
    assert full.tool_calls == []
    assert full.invalid_tool_calls[0]["args"] == "city=Paris"
    assert full.invalid_tool_calls[0]["name"] == "f"


def test_stream_cut_short_raises_after_delivering_chunks(server: ScriptedServer) -> None:
    server.stream(sse(_chunk({"content": "Hello"}), done=False))
    received: list[AIMessageChunk] = []
    with pytest.raises(langchain_runapi.IncompleteStreamError) as info:
        for chunk in server.model().stream("x"):
            received.append(chunk)
    assert received[0].content == "Hello"
    assert info.value.partial is not None


def test_stream_usage_false_omits_usage_metadata(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"))
    full = collect(list(server.model(stream_usage=False).stream("Hi")))
    assert full.usage_metadata is None
    assert "cost" in full.response_metadata  # the cost is still known (and tracked)


async def test_ainvoke_and_astream(server: ScriptedServer) -> None:
    llm = server.model()
    server.json(sample("glm-4.6.nonstream.json"))
    msg = await llm.ainvoke("Hello")
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["total_tokens"] == 267

    server.stream(sample("glm-4.6.stream-normalised.sse"))
    chunks = [c async for c in llm.astream("Hi")]
    full = collect(chunks)
    assert full.content == "模型"
    _only_one(chunks, "cost")


def test_streaming_true_invoke_uses_the_stream(server: ScriptedServer) -> None:
    server.stream(sample("glm-4.6.stream-native.sse"))
    msg = server.model(streaming=True).invoke("Hi")
    assert msg.content == " today?"
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata is not None
    assert server.last["stream"] is True


# ------------------------------------------------------------------------- request body


def test_request_parameters(server: ScriptedServer) -> None:
    server.json(sample("glm-4.6.nonstream.json"))
    llm = server.model(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        seed=7,
        stop=["END"],
        reasoning=False,
        model_kwargs={"user": "u1"},
        extra_body={"request_tag": "t"},
    )
    llm.invoke("hi", model="glm-4.7")
    body = server.last
    assert body["model"] == "glm-4.7"  # per-call override wins
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["top_p"] == 0.9
    assert body["seed"] == 7
    assert body["stop"] == ["END"]
    assert body["thinking"] == {"type": "disabled"}
    assert body["user"] == "u1"
    assert body["request_tag"] == "t"


def test_reasoning_switch_and_default(server: ScriptedServer) -> None:
    for _ in range(3):
        server.json(sample("glm-4.6.nonstream.json"))
    server.model().invoke("hi")
    assert "thinking" not in server.last  # unset leaves the model's default
    server.model(reasoning=True).invoke("hi")
    assert server.last["thinking"] == {"type": "enabled"}
    server.model().invoke("hi", reasoning=False)
    assert server.last["thinking"] == {"type": "disabled"}


def _tool_turn(call_id: str, reasoning: str) -> AIMessage:
    return AIMessage(
        content="",
        additional_kwargs={"reasoning_content": reasoning},
        tool_calls=[{"name": "w", "args": {}, "id": call_id, "type": "tool_call"}],
    )


def test_reasoning_goes_back_on_current_tool_loop_turns_only(server: ScriptedServer) -> None:
    history = [
        HumanMessage("Weather in Oslo?"),
        _tool_turn("c1", "earlier loop"),
        ToolMessage("cold", tool_call_id="c1"),
        AIMessage("Cold.", additional_kwargs={"reasoning_content": "final answer"}),
        HumanMessage("And Rome?"),
        _tool_turn("c2", "current loop"),
        ToolMessage("warm", tool_call_id="c2"),
    ]
    for _ in range(2):
        server.json(sample("glm-4.6.nonstream.json"))
    server.model().invoke(history)
    sent = [m.get("reasoning_content") for m in server.last["messages"]]
    # Only the tool-calling turn of the loop in progress: GLM needs it to carry on thinking;
    # the settled loop and the final answer would only cost input tokens.
    assert sent == [None, None, None, None, None, "current loop", None]

    server.model(model="gpt-4o-mini").invoke(history)  # a model that does not think
    assert all("reasoning_content" not in m for m in server.last["messages"])


def test_v1_content_blocks_are_sent_as_text() -> None:
    msg = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "think"},
            {"type": "text", "text": "Hi"},
        ]
    )
    # The reasoning block goes as reasoning_content; whether it reaches the model is the
    # core's rule (policy.reasoning_history).
    assert message_to_wire(msg) == {
        "role": "assistant",
        "content": "Hi",
        "reasoning_content": "think",
    }
    human = HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert message_to_wire(human) == {"role": "user", "content": "a\nb"}  # not "ab"
    image = HumanMessage(
        content=[
            {"type": "text", "text": "What is it?"},
            {"type": "image", "url": "https://example.com/cat.png"},
        ]
    )
    assert message_to_wire(image)["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png"},
    }


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"Sunny in {city}"


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


# --------------------------------------------------------------------- structured output


class Weather(BaseModel):
    """Weather report."""

    city: str
    temperature: int


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
                        {"id": "c1", "type": "function",
                         "function": {"name": name, "arguments": arguments}}
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
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
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


WEATHER_DICT = {
    "title": "Weather",
    "description": "Weather report.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"}},
    "required": ["city", "temperature"],
}


@pytest.mark.parametrize("schema", [Weather, WEATHER_DICT], ids=["pydantic", "dict"])
@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("json_mode", _text_answer("Rome is warm")),
        ("json_schema", _text_answer("Rome is warm")),
    ],
)
def test_structured_output_parse_failure_keeps_raw(
    server: ScriptedServer, schema: Any, method: str, answer: dict[str, Any]
) -> None:
    server.json(answer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # json_schema on GLM is adapted, with a warning
        out = server.model().with_structured_output(
            schema, method=method, include_raw=True  # type: ignore[arg-type]
        ).invoke("Rome?")
    assert isinstance(out["raw"], AIMessage)
    assert out["raw"].response_metadata["cost"] > 0
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], OutputParserException)


def test_structured_output_json_mode(server: ScriptedServer) -> None:
    server.json(_text_answer('{"city": "Rome", "temperature": 20}'))
    out = server.model().with_structured_output(Weather, method="json_mode").invoke(
        "Rome weather as JSON with keys city and temperature"
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


# ------------------------------------------------------------------------- cost tracking


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


# ------------------------------------------------------------------------ errors, setup


def test_errors_are_the_core_classes(server: ScriptedServer) -> None:
    server.json({"error": {"code": "rate_limited", "message": "slow down"}}, status=429)
    with pytest.raises(RateLimitError) as info:
        server.model().invoke("hi")
    assert info.value.status_code == 429
    import runapi_client

    for name in runapi_client.errors.ERROR_CLASSES:
        assert getattr(langchain_runapi, name) is getattr(runapi_client, name)


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="RUNAPI_API_KEY"):
        ChatRunAPI(model="glm-4.6")


def test_profile_and_ls_params() -> None:
    llm = ChatRunAPI(model="glm-4.6", api_key="k", temperature=0.1, max_tokens=5)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == 204_800
    assert llm.profile["tool_choice"] is False  # GLM cannot be forced to call a tool
    assert llm.profile["structured_output"] is False
    assert llm.profile["reasoning_output"] is True
    assert llm._get_ls_params(model="glm-4.7") == {
        "ls_provider": "runapi",
        "ls_model_name": "glm-4.7",
        "ls_model_type": "chat",
        "ls_temperature": 0.1,
        "ls_max_tokens": 5,
    }
    assert "test-key" not in repr(ChatRunAPI(api_key="test-key"))


def test_client_is_built_once_per_instance() -> None:
    llm = ChatRunAPI(api_key="k")
    assert llm.client is llm.client
    assert llm.async_client is llm.async_client


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
