"""Tool calling: what ``chat_with_tools`` sends (GLM takes ``tool_choice="auto"`` only), tool
calls read back from whole and streamed answers, one call per turn when parallel calls are off
(streamed, async and in a ``FunctionAgent``), and ``predict_and_call``. Over
httpx.MockTransport, and against the GLM emulator where the emulator's own choice of calls is
the point."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_runapi import RunAPILLM, ServerError
from tests.llama_index.helpers import (
    call_delta,
    chunk,
    json_response,
    make_llm,
    sample,
    sse_of,
    sse_response,
    tool_call_completion,
)
from tests.llama_index.test_structured_output import PROMPT, Song
from tests.support.fake_runapi import FakeRunAPI


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


WEATHER = FunctionTool.from_defaults(fn=get_weather)
ADD = FunctionTool.from_defaults(fn=add)


# Two whole calls in ONE chunk (GLM sends parallel calls this way), then usage.
PARALLEL_SSE = sse_of(
    chunk({"role": "assistant", "reasoning_content": "Two sums."}),
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                call_delta(0, "call_a", "add", '{"a":1,"b":2}'),
                call_delta(1, "call_b", "add", '{"a":3,"b":4}'),
            ],
        }
    ),
    chunk(
        {"role": "assistant", "content": ""},
        "tool_calls",
        usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    ),
)


# --------------------------------------------------------------------------------- request fields


def test_chat_with_tools_sends_only_what_glm_accepts() -> None:
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    history = [ChatMessage(role="user", content="earlier")]
    response = llm.chat_with_tools([WEATHER], user_msg="Weather in Paris?", chat_history=history)

    body = server.body
    assert body["tools"][0]["type"] == "function"
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert "city" in body["tools"][0]["function"]["parameters"]["properties"]
    assert "tool_choice" not in body  # GLM accepts "auto" only, which is its default
    assert "parallel_tool_calls" not in body  # GLM rejects the field
    assert body["messages"][-1] == {"role": "user", "content": "Weather in Paris?"}
    assert len(history) == 1  # the caller's list is not appended to
    selections = llm.get_tool_calls_from_response(response)
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("call_-7682507267639338722", "get_weather", {"city": "Paris"})
    ]


def test_tool_required_on_glm_becomes_an_instruction_not_a_rejected_field() -> None:
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")))
    with pytest.warns(UserWarning, match="tool_choice='required' is sent as 'auto'"):
        llm.chat_with_tools([WEATHER], user_msg="Paris?", tool_required=True)
    body = server.body
    assert body["tool_choice"] == "auto"  # what GLM accepts; the call is asked for in words
    assert body["messages"][0]["role"] == "system"
    assert "calling one of the provided tools" in body["messages"][0]["content"]

    with pytest.warns(UserWarning, match="tool_choice='required' is sent as 'auto'"):
        llm.chat_with_tools(
            [WEATHER],
            chat_history=[ChatMessage(role="system", content="Be brief.")],
            user_msg="Paris?",
            tool_required=True,
        )
    first = server.body["messages"][0]
    assert first["role"] == "system"
    assert first["content"].startswith("Be brief.\n")  # joined into the existing system message


def test_tool_choice_none_and_named_on_glm() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    llm.chat_with_tools([WEATHER, ADD], user_msg="hi", tool_choice="none")
    assert "tools" not in server.body and "tool_choice" not in server.body

    with pytest.warns(UserWarning, match="tool_choice='add' is sent as 'auto', offering only"):
        llm.chat_with_tools([WEATHER, ADD], user_msg="hi", tool_choice="add")
    assert [t["function"]["name"] for t in server.body["tools"]] == ["add"]
    assert server.body["tool_choice"] == "auto"

    llm.chat_with_tools([WEATHER, ADD], user_msg="hi", tool_choice=None)
    assert len(server.body["tools"]) == 2 and "tool_choice" not in server.body


def test_tool_choice_for_a_model_that_accepts_it() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="gpt-4o-mini")
    llm.chat_with_tools(
        [WEATHER, ADD], user_msg="hi", tool_required=True, allow_parallel_tool_calls=True
    )
    assert server.body["tool_choice"] == "required"
    assert server.body["parallel_tool_calls"] is True
    llm.chat_with_tools([WEATHER, ADD], user_msg="hi", tool_choice="add")
    assert server.body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert server.body["parallel_tool_calls"] is False
    llm.chat_with_tools([WEATHER], user_msg="hi")
    assert "tool_choice" not in server.body  # None leaves it out


# ------------------------------------------------------------------------- tool call results


def test_parallel_calls_in_one_chunk_are_both_kept_streamed() -> None:
    llm, _ = make_llm(sse_response(PARALLEL_SSE))
    responses = list(
        llm.stream_chat_with_tools([ADD], user_msg="1+2 and 3+4", allow_parallel_tool_calls=True)
    )
    final = responses[-1]
    calls = llm.get_tool_calls_from_response(final)
    assert [(c.tool_id, c.tool_kwargs) for c in calls] == [
        ("call_a", {"a": 1, "b": 2}),
        ("call_b", {"a": 3, "b": 4}),
    ]
    assert len(final.message.additional_kwargs["tool_calls"]) == 2
    assert responses[0].additional_kwargs["thinking_delta"] == "Two sums."  # not skipped


async def test_parallel_calls_async_stream_and_non_stream_validation() -> None:
    llm, _ = make_llm(sse_response(PARALLEL_SSE))
    gen = await llm.astream_chat_with_tools([ADD], user_msg="sums", allow_parallel_tool_calls=True)
    final = [r async for r in gen][-1]
    assert len(llm.get_tool_calls_from_response(final)) == 2

    # Non-streamed with allow_parallel_tool_calls=False: the first call only, as documented.
    two = json.loads(sample("glm-4.7.tools-reasoning.json"))
    message = two["choices"][0]["message"]
    message["tool_calls"].append({**message["tool_calls"][0], "id": "call_2", "index": 1})
    llm2, _ = make_llm(json_response(two), model="glm-4.7")
    single = await llm2.achat_with_tools([WEATHER], user_msg="x")
    assert len(llm2.get_tool_calls_from_response(single)) == 1
    both = await llm2.achat_with_tools([WEATHER], user_msg="x", allow_parallel_tool_calls=True)
    assert len(llm2.get_tool_calls_from_response(both)) == 2


def test_split_tool_call_deltas_accumulate_by_index() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-tool-deltas.sse")))
    responses = list(llm.stream_chat_with_tools([WEATHER], user_msg="北京天气"))
    # Mid-stream the arguments are partial JSON: reading the calls is safe and cheap.
    first = llm.get_tool_calls_from_response(responses[0], error_on_no_tool_call=False)
    assert first[0].tool_id == "call_1" and first[0].tool_name == "get_weather"
    final_calls = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in final_calls] == [
        ("call_1", "get_weather", {"city": "北京"})
    ]
    wire = responses[-1].message.additional_kwargs["tool_calls"]
    assert wire == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"北京"}'},
        }
    ]


def test_ids_and_names_repeated_on_every_delta_are_not_concatenated() -> None:
    body = sse_of(
        chunk({"tool_calls": [call_delta(0, "call_x", "add", '{"a":')]}),
        chunk({"tool_calls": [call_delta(0, "call_x", "add", "5,")]}),
        chunk({"tool_calls": [call_delta(0, "call_x", "add", '"b":6}')]}, "tool_calls"),
    )
    llm, _ = make_llm(sse_response(body))
    final = list(llm.stream_chat_with_tools([ADD], user_msg="5+6"))[-1]
    (call,) = llm.get_tool_calls_from_response(final)
    assert (call.tool_id, call.tool_name, call.tool_kwargs) == ("call_x", "add", {"a": 5, "b": 6})


def test_get_tool_calls_error_only_when_asked() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    response = llm.chat([ChatMessage(role="user", content="hi")])
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="without calling a tool"):
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=True)
    # A message built elsewhere with wire-style calls only, and broken JSON: still safe.
    other = ChatResponse(
        message=ChatMessage(
            role="assistant",
            content="",
            additional_kwargs={
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "add", "arguments": "{bad"},
                    }
                ]
            },
        )
    )
    (selection,) = llm.get_tool_calls_from_response(other)
    assert selection.tool_name == "add" and selection.tool_kwargs == {}
    partial = ChatResponse(
        message=ChatMessage(
            role="assistant", blocks=[ToolCallBlock(tool_name="add", tool_kwargs='{"a": 1, "b')]
        )
    )
    assert llm.get_tool_calls_from_response(partial)[0].tool_kwargs == {"a": 1}


def test_get_tool_calls_mid_stream_before_any_call() -> None:
    llm, _ = make_llm(sse_response(PARALLEL_SSE))
    first = next(iter(llm.stream_chat_with_tools([ADD], user_msg="sums")))  # reasoning only
    assert llm.get_tool_calls_from_response(first, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError):
        llm.get_tool_calls_from_response(first, error_on_no_tool_call=True)


def test_arguments_too_deeply_nested_to_parse_are_survived() -> None:
    # json.loads raises RecursionError, not ValueError, on a deeply nested body.
    nested = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    reply = tool_call_completion("add", {})
    reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = nested
    llm, _ = make_llm(json_response(reply))
    response = llm.chat([ChatMessage(role="user", content="x")])
    (call,) = llm.get_tool_calls_from_response(response)
    assert (call.tool_name, call.tool_kwargs) == ("add", {})


# --------------------------------------------- one tool call per turn when parallel calls are off


def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(fn=add), FunctionTool.from_defaults(fn=mul)]
BOTH = "use add and mul on 2 and 5"  # the emulator calls every tool the user names, as GLM does


def names(llm: RunAPILLM, response: ChatResponse) -> list[str]:
    return [c.tool_name for c in llm.get_tool_calls_from_response(response)]


def test_stream_keeps_the_first_tool_call_when_parallel_calls_are_off() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        responses = list(llm.stream_chat_with_tools(TOOLS, user_msg=BOTH))
        assert "parallel_tool_calls" not in fake.chat_requests[-1]["body"]  # GLM rejects it
        assert names(llm, responses[-1]) == ["add"]
        assert len(responses[-1].message.additional_kwargs["tool_calls"]) == 1
        assert all(
            len(llm.get_tool_calls_from_response(r, error_on_no_tool_call=False)) <= 1
            for r in responses
        )
        # Usage still arrives on the last response.
        assert responses[-1].additional_kwargs["total_tokens"] > 0

        allowed = list(
            llm.stream_chat_with_tools(TOOLS, user_msg=BOTH, allow_parallel_tool_calls=True)
        )
        assert names(llm, allowed[-1]) == ["add", "mul"]


async def test_astream_keeps_the_first_tool_call_when_parallel_calls_are_off() -> None:
    with FakeRunAPI(stream_shape="normalised") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        gen = await llm.astream_chat_with_tools(TOOLS, user_msg=BOTH)
        final = [r async for r in gen][-1]
        assert names(llm, final) == ["add"]
        gen = await llm.astream_chat_with_tools(
            TOOLS, user_msg=BOTH, allow_parallel_tool_calls=True
        )
        assert names(llm, [r async for r in gen][-1]) == ["add", "mul"]


async def test_function_agent_without_parallel_calls_runs_one_tool_per_step() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        # FunctionAgent's tools: list[BaseTool | Callable] is invariant; a list of tools is fine.
        agent = FunctionAgent(
            tools=TOOLS,  # type: ignore[arg-type]
            llm=llm,
            allow_parallel_tool_calls=False,
        )
        handler = agent.run(BOTH)
        first_step: list[str] = []
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult) and len(fake.chat_requests) == 1:
                first_step.append(event.tool_name)
        await handler
        assert first_step == ["add"]


# ------------------------------------------------------------------------------- predict_and_call


def test_predict_and_call() -> None:
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    result = llm.predict_and_call([WEATHER], user_msg="Weather in Paris?")
    assert result.response == "Sunny in Paris"
    assert result.sources[0].tool_name == "get_weather"
    assert len(server.requests) == 1


def test_predict_and_call_with_a_failing_tool() -> None:
    def broken_weather(city: str) -> str:
        """Current weather in a city."""
        raise RuntimeError("weather service down")

    tool = FunctionTool.from_defaults(fn=broken_weather, name="get_weather")
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    result = llm.predict_and_call([tool], user_msg="Weather in Paris?")
    assert "weather service down" in result.response  # reported, not raised
    assert result.sources[0].is_error
    with pytest.raises(ValueError, match="weather service down"):
        llm.predict_and_call([tool], user_msg="Weather in Paris?", error_on_tool_error=True)
    assert len(server.requests) == 2  # one per call: a tool error is not retried


async def test_no_second_retry_layer_in_llama_index_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    # max_retries=2: three requests at most, whichever LlamaIndex path makes the call. The
    # retries' backoff is made short: their count is the point here, not their waits.
    monkeypatch.setattr("runapi_client._machine.INITIAL_BACKOFF", 0.001)
    busy = json_response(b'{"error": "No active channel available"}', 503, **{"retry-after": "0"})
    paths: dict[str, Callable[[RunAPILLM], Awaitable[object]]] = {
        "predict_and_call": lambda llm: llm.apredict_and_call([WEATHER], user_msg="Paris?"),
        "structured_predict": lambda llm: llm.astructured_predict(Song, PROMPT, topic="x"),
        "FunctionAgent": lambda llm: FunctionAgent(tools=[WEATHER], llm=llm).run("Paris?"),
    }
    for name, call in paths.items():
        llm, server = make_llm(busy, max_retries=2)
        with pytest.raises(ServerError):
            await call(llm)
        assert len(server.requests) == 3, name


async def test_apredict_and_call() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    result = await llm.apredict_and_call([WEATHER], user_msg="Weather in Paris?")
    assert result.response == "Sunny in Paris"
