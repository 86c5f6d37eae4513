"""The fake RunAPI server behaves like a real GLM model on RunAPI, so a feature tested against it
cannot pass only because the fake is kind: it calls a tool only when asked, refuses what GLM
refuses with Z.ai's codes, and speaks every wire dialect of the real recordings
(tests/wire_samples/README.md). Asserted on the raw bytes and JSON, not through the client."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_runapi import DIALECTS, FakeRunAPI, Fault, parse_fault_header

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key"}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def function(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters or CITY}}


WEATHER_AND_TIME = [function("get_weather"), function("get_time")]
STREAM_ID = re.compile(r"call_[0-9a-f]{24}")
JSON_CALL_ID = re.compile(r"call_-?\d+")
RESPONSE_ID = re.compile(r"(\d{14})[0-9a-f]{16}")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRunAPI]:
    with FakeRunAPI() as fake:
        yield fake


def post(
    server: FakeRunAPI, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"model": "glm-4.6", **body}
    return httpx.post(
        f"{server.base_url}/chat/completions",
        json=body,
        headers={**AUTH, **(headers or {})},
        timeout=30,
    )


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def message(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["choices"][0]["message"]
    return found


def called(response: httpx.Response) -> list[str]:
    """The names of the tools a JSON answer calls ([] for a text answer)."""
    return [c["function"]["name"] for c in message(response).get("tool_calls") or []]


def frames(response: httpx.Response) -> list[str]:
    """The raw SSE frames of a whole body (split on the blank line that ends each)."""
    return [f for f in response.text.split("\n\n") if f]


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads, in order; the body must end with ``data: [DONE]``."""
    data = [f for f in frames(response) if not f.startswith(":")]
    assert data[-1] == "data: [DONE]"
    assert all(f.startswith("data: {") for f in data[:-1])
    return [json.loads(f[len("data: ") :]) for f in data[:-1]]


def deltas(response: httpx.Response) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks(response) if c["choices"]]


def tool_deltas(response: httpx.Response) -> list[dict[str, Any]]:
    return [
        c for c in chunks(response) if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]


def in_dialect(dialect: str) -> dict[str, str]:
    return {"X-Fake-Dialect": dialect}


# -------------------------------------------------------------------- tool calls only when asked


def test_offered_tools_and_a_greeting_get_prose(server: FakeRunAPI) -> None:
    response = post(server, user("Hello", tools=WEATHER_AND_TIME))
    answer = message(response)
    assert answer["content"] == "\nHello! You said: Hello"
    assert "tool_calls" not in answer
    assert response.json()["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "tool_choice",
    ["required", "any", {"type": "function", "function": {"name": "get_time"}}, "get_time"],
    ids=["required", "any", "function", "a-name"],
)
@pytest.mark.parametrize("model", ["glm-4.6", "GLM-5-turbo", "z-ai/glm-4.7"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_forced_tool_choice_on_glm_is_refused(
    server: FakeRunAPI, tool_choice: Any, model: str, stream: bool
) -> None:
    body = user("Use the tool.", tools=WEATHER_AND_TIME, tool_choice=tool_choice, stream=stream)
    response = post(server, {**body, "model": model})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {
            "code": "1210",
            "message": "Invalid API parameter tool_choice: only 'auto' is supported",
        }
    }


def test_glm_honours_tool_choice_auto_and_none(server: FakeRunAPI) -> None:
    asked = user("Use the tool.", tools=WEATHER_AND_TIME)
    assert called(post(server, {**asked, "tool_choice": "auto"})) == ["get_weather"]
    assert called(post(server, {**asked, "tool_choice": "none"})) == []


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("required", ["get_weather"]),
        ("any", ["get_weather"]),
        ({"type": "function", "function": {"name": "get_time"}}, ["get_time"]),
    ],
)
def test_a_model_that_can_be_forced_calls_the_tool_unasked(
    server: FakeRunAPI, tool_choice: Any, expected: list[str]
) -> None:
    body = user("Hello", tools=WEATHER_AND_TIME, tool_choice=tool_choice, model="gpt-4o-mini")
    assert called(post(server, body)) == expected


@pytest.mark.parametrize("role", ["system", "developer"])
def test_a_system_instruction_calls_the_tool_it_names(server: FakeRunAPI, role: str) -> None:
    # The words the client sends when it cannot force a tool (runapi_client._instructions).
    instruction = "Answer by calling one of the provided tools: call `get_time`."
    body = {
        "messages": [{"role": role, "content": instruction}, {"role": "user", "content": "Hi"}],
        "tools": WEATHER_AND_TIME,
    }
    assert called(post(server, body)) == ["get_time"]
    body["messages"][0]["content"] = "Be brief.\n\nAnswer by calling one of the provided tools."
    assert called(post(server, body)) == ["get_weather"]  # none named: the first
    body["messages"][0]["content"] = "You may call get_time if it helps."
    assert called(post(server, body)) == ["get_time"]  # a name and a verb
    for prose in ("Be brief.", "Do not use any tools.", "Tools are listed below."):
        body["messages"][0]["content"] = prose
        assert called(post(server, body)) == [], prose


@pytest.mark.parametrize(
    "text",
    [
        "Use the tool.",
        "Tell me about Paris using the tool.",
        "Please call a tool for this.",
        "Use the weather tool.",
        "Answer with the tool.",
        "INVOKE THE TOOL",
    ],
)
def test_a_user_asking_for_a_tool_in_words_gets_a_call(server: FakeRunAPI, text: str) -> None:
    assert called(post(server, user(text, tools=WEATHER_AND_TIME))) == ["get_weather"]


@pytest.mark.parametrize(
    "text", ["Do not use the tool.", "Answer without using any tool.", "What is a tool?"]
)
def test_words_that_do_not_ask_for_a_tool_get_prose(server: FakeRunAPI, text: str) -> None:
    assert called(post(server, user(text, tools=WEATHER_AND_TIME))) == []


def test_a_user_naming_a_tool_gets_a_call_of_that_tool(server: FakeRunAPI) -> None:
    magic = function("magic_function", {"type": "object", "properties": {"n": {"type": "integer"}}})
    response = post(server, user("What is magic_function(3)?", tools=[function("other"), magic]))
    (call,) = message(response)["tool_calls"]
    assert call["function"] == {"name": "magic_function", "arguments": '{"n":3}'}
    assert called(post(server, user("get_time for 'Oslo'", tools=WEATHER_AND_TIME))) == ["get_time"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the weather in Paris?", ["get_weather"]),
        ("What time is it in Tokyo?", ["get_time"]),
        ("How is the weathers?", []),  # not the noun itself
    ],
)
def test_a_question_only_the_tool_can_answer_gets_a_call(
    server: FakeRunAPI, text: str, expected: list[str]
) -> None:
    assert called(post(server, user(text, tools=WEATHER_AND_TIME))) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [("Joke", "Tell me a joke"), ("Joke", "Tell me a Joke"), ("Person", "Who is that person?")],
)
def test_a_one_word_tool_is_not_called_because_its_name_is_said(
    server: FakeRunAPI, name: str, text: str
) -> None:
    assert called(post(server, user(text, tools=[function(name)]))) == []
    assert called(post(server, user(f"{text}. Use {name}.", tools=[function(name)]))) == [name]


def test_parallel_calls_when_the_user_names_two_tools(server: FakeRunAPI) -> None:
    both = user("use get_weather and get_time for 'Paris'", tools=WEATHER_AND_TIME)
    assert called(post(server, both)) == ["get_weather", "get_time"]
    # GLM accepts parallel_tool_calls and ignores it; false still limits the fake to one call.
    assert called(post(server, {**both, "parallel_tool_calls": True})) == [
        "get_weather",
        "get_time",
    ]
    assert called(post(server, {**both, "parallel_tool_calls": False})) == ["get_weather"]


def test_a_tool_result_is_answered_in_text(server: FakeRunAPI) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    history = [
        {"role": "system", "content": "Use the tools."},
        {"role": "user", "content": "Use the tool."},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "12:00"},
    ]
    answer = message(post(server, {"messages": history, "tools": WEATHER_AND_TIME}))
    assert answer["content"] == "\nThe tool returned: 12:00" and "tool_calls" not in answer


# ---------------------------------------------------------------------------- JSON modes on GLM


def test_json_schema_is_refused_by_glm_and_json_object_accepted(server: FakeRunAPI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    refused = post(server, user("go", response_format=fmt))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "1210"
    assert "response_format" in refused.json()["error"]["message"]
    assert json.loads(
        message(post(server, user("go", response_format=fmt, model="gpt-4o-mini")))["content"]
    ) == {"a": 3}
    as_object = post(server, user("go", response_format={"type": "json_object"}))
    assert json.loads(message(as_object)["content"]) == {"answer": "You said: go"}


# ---------------------------------------------------------------------------- errors and faults


def test_an_unknown_model_is_a_400_with_code_1211(server: FakeRunAPI) -> None:
    for body in (user("hi", model="glm-does-not-exist"), user("hi", model="")):
        response = post(server, body)
        assert response.status_code == 400
        assert response.json() == {
            "error": {"code": "1211", "message": "模型不存在，请检查模型代码。"}
        }


def test_bad_messages_are_a_400_with_code_1214(server: FakeRunAPI) -> None:
    response = post(server, {"messages": []})
    assert response.status_code == 400 and response.json()["error"]["code"] == "1214"


@pytest.mark.parametrize(
    ("model", "fits", "too_long"),
    [
        ("glm-4.6", 700_000, 900_000),  # 204,800 tokens, at about 4 characters a token
        ("glm-5-turbo", 700_000, 900_000),
        ("glm-4.5-air", 450_000, 600_000),  # 131,072
        ("gpt-4o-mini", 100_000, 140_000),  # anything else: 32,768
    ],
)
def test_a_prompt_over_the_context_window_is_a_400_with_code_1261(
    server: FakeRunAPI, model: str, fits: int, too_long: int
) -> None:
    assert post(server, user("x" * fits, model=model, max_tokens=1)).status_code == 200
    response = post(server, user("x" * too_long, model=model, stream=True))
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "1261", "message": "Prompt exceeds max length"}}


PRESETS = [
    (Fault.no_balance(), "no_balance", 429, "1113", "Insufficient balance or no resource package"),
    (Fault.usage_cap(), "usage_cap", 429, "1308", "Your limit will reset at 2026-03-15 18:30:00"),
    (Fault.overloaded(), "overloaded", 429, "1305", "temporarily overloaded"),
    (Fault.unsafe(), "unsafe", 400, "1301", "不安全"),
    (Fault.error_200(), "error_200", 200, "1305", "temporarily overloaded"),
]


@pytest.mark.parametrize(
    ("fault", "header", "status", "code", "words"), PRESETS, ids=[p[1] for p in PRESETS]
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_error_presets_as_zai_sends_them(
    fault: Fault, header: str, status: int, code: str, words: str, stream: bool
) -> None:
    assert parse_fault_header(header) == fault
    with FakeRunAPI() as fake:
        fake.enqueue(fault)
        queued = post(fake, user("hi", stream=stream))
        by_header = post(fake, user("hi", stream=stream), {"X-Fake-Fault": header})
    for response in (queued, by_header):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"  # even for a stream
        body = response.json()
        assert set(body) == {"error"} and body["error"]["code"] == code
        assert words in body["error"]["message"]


def test_an_error_body_can_carry_a_top_level_request_id(server: FakeRunAPI) -> None:
    response = post(server, user("hi"), {"X-Fake-Fault": "overloaded;request_id=1"})
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert RESPONSE_ID.fullmatch(body["request_id"])
    assert body["error"]["code"] == "1305"
    custom = post(server, user("hi"), {"X-Fake-Fault": "glm_error=429;code=1234;message=busy"})
    assert custom.status_code == 429
    assert custom.json() == {"error": {"code": "1234", "message": "busy"}}


@pytest.mark.parametrize(
    ("header", "event"), [("error_event", None), ("error_event=0;event=error", "error")]
)
def test_an_error_as_the_first_event_of_a_stream(
    server: FakeRunAPI, header: str, event: str | None
) -> None:
    response = post(server, user("hi", stream=True), {"X-Fake-Fault": header})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    (first,) = frames(response)  # nothing before it, nothing after
    lines = first.split("\n")
    if event:
        assert lines[0] == "event: error"
    assert json.loads(lines[-1][len("data: ") :]) == {
        "error": {
            "code": "1305",
            "message": "The service may be temporarily overloaded, please try again later",
        }
    }
    assert parse_fault_header(header) == Fault.error_event(0, event=event)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_https(server: FakeRunAPI, status: int) -> None:
    response = post(server, user("hi"), {"X-Fake-Fault": f"redirect={status}"})
    assert response.status_code == status
    assert response.headers["location"] == f"https://127.0.0.1:{server.port}/v1/chat/completions"
    elsewhere = "https://runapi.ai/v1/chat/completions"
    moved = post(server, user("hi"), {"X-Fake-Fault": f"redirect={status};location={elsewhere}"})
    assert moved.headers["location"] == elsewhere
    assert Fault.redirect(status).status_code == status
    with pytest.raises(ValueError):
        Fault.redirect(200)


def test_a_stream_labelled_json_with_sse_in_the_body(server: FakeRunAPI) -> None:
    server.enqueue(Fault.sse_as_json())
    response = post(server, user("one two", stream=True))
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith("data: {")
    assert "".join(d.get("content", "") for d in deltas(response)) == "\nHello! You said: one two"


@pytest.mark.parametrize("clean", [True, False])
def test_a_stream_cut_mid_frame(server: FakeRunAPI, clean: bool) -> None:
    header = f"cut_stream=3;mid_frame=1;clean={int(clean)}"
    received = b""
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json={"model": "glm-4.6", **user("a b c d e f", stream=True)},
        headers={**AUTH, "X-Fake-Fault": header},
    ) as response:
        try:
            for piece in response.iter_raw():
                received += piece
        except httpx.RemoteProtocolError:
            assert not clean  # the connection dropped inside the chunked body
        else:
            assert clean
    text = received.decode()
    *whole, cut = text.split("\n\n")
    assert len(whole) == 3 and all(json.loads(f[len("data: ") :]) for f in whole)
    assert cut.startswith('data: {"id":') and not cut.endswith("}")  # inside the JSON object
    assert "[DONE]" not in text


# ------------------------------------------------------------------------------ wire dialects


def stream_body(text: str = "one two", **extra: Any) -> dict[str, Any]:
    return user(text, stream=True, **extra)


def test_every_dialect_is_selectable_and_consistent(server: FakeRunAPI) -> None:
    """Per request, for streams and JSON answers alike; a stream carries the same text as the
    JSON answer of its dialect, with the same response id on every chunk."""
    for dialect in DIALECTS:
        streamed = post(server, stream_body(), in_dialect(dialect))
        whole = message(post(server, user("one two"), in_dialect(dialect)))
        ids = {c["id"] for c in chunks(streamed)}
        assert ids == {streamed.headers["x-request-id"]}, dialect
        text = "".join(d.get("content", "") for d in deltas(streamed))
        reasoning_key = "reasoning" if dialect == "gateway" else "reasoning_content"
        thought = "".join(d.get(reasoning_key, "") for d in deltas(streamed))
        assert (text, thought) == (whole["content"], whole[reasoning_key]), dialect
    # The older header name picks a dialect too; an unknown one is the fake's own 400.
    legacy = post(server, stream_body(), {"X-Fake-Stream-Shape": "glm-2026"})
    assert chunks(legacy)[0]["object"] == "chat.completion.chunk"
    unknown = post(server, stream_body(), in_dialect("glm-1999"))
    assert unknown.status_code == 400 and "glm-1999" in unknown.json()["error"]["message"]
    with pytest.raises(ValueError):
        FakeRunAPI(stream_shape="glm-1999")


def test_response_ids_are_beijing_time_and_hex(server: FakeRunAPI) -> None:
    response = post(server, user("hi"))
    match = RESPONSE_ID.fullmatch(response.json()["id"])
    assert match is not None
    stamp = datetime.datetime.strptime(match[1], "%Y%m%d%H%M%S")
    beijing = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    assert abs(beijing.replace(tzinfo=None) - stamp) < datetime.timedelta(minutes=5)


def test_native_dialect(server: FakeRunAPI) -> None:
    text = chunks(post(server, stream_body(stream_options={"include_usage": True})))
    assert all("object" not in c for c in text)
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in text)
    assert all("finish_reason" not in c["choices"][0] for c in text[:-1])
    assert text[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in text[-1]
    assert not any("usage" in c for c in chunks(post(server, stream_body())))
    calls = tool_deltas(
        post(server, stream_body("use get_weather and get_time", tools=WEATHER_AND_TIME))
    )
    (together,) = calls  # both calls in one delta, without a role
    delta = together["choices"][0]["delta"]
    assert "role" not in delta and [c["index"] for c in delta["tool_calls"]] == [0, 1]
    assert all(JSON_CALL_ID.fullmatch(c["id"]) for c in delta["tool_calls"])


def test_normalised_dialect(server: FakeRunAPI) -> None:
    headers = in_dialect("normalised")
    text = chunks(post(server, stream_body(stream_options={"include_usage": True}), headers))
    assert all(c["object"] == "chat.completion.chunk" for c in text)
    assert text[-2]["choices"][0]["finish_reason"] == "stop" and "usage" not in text[-2]
    assert text[-1]["choices"] == [] and "usage" in text[-1]
    calls = tool_deltas(post(server, stream_body("use get_time", tools=WEATHER_AND_TIME), headers))
    header, arguments = (c["choices"][0]["delta"]["tool_calls"][0] for c in calls)
    assert header["function"]["name"] == "get_time" and "id" in header
    assert set(arguments) == {"index", "function"}


def test_glm_2025_09_dialect(server: FakeRunAPI) -> None:
    headers = in_dialect("glm-2025-09")
    text = post(server, stream_body(), headers)
    assert all("object" not in c for c in chunks(text))
    content = [d["content"] for d in deltas(text) if "content" in d]
    assert content[0] == "\n"  # the leading newline as a delta of its own
    usage = chunks(text)[-1]["usage"]  # unasked, on the finish chunk
    assert (
        "completion_tokens_details" not in usage
        and "cached_tokens" in usage["prompt_tokens_details"]
    )

    tools = post(
        server, stream_body("use get_weather and get_time", tools=WEATHER_AND_TIME), headers
    )
    calls, last = tool_deltas(tools), chunks(tools)[-1]
    assert [c["choices"][0]["delta"]["tool_calls"][0]["index"] for c in calls] == [0, 1]
    assert all(c["choices"][0]["finish_reason"] == "tool_calls" for c in calls)
    assert all(len(c["choices"][0]["delta"]["tool_calls"]) == 1 for c in calls)
    assert all("role" not in c["choices"][0]["delta"] for c in calls)
    assert all(STREAM_ID.fullmatch(c["choices"][0]["delta"]["tool_calls"][0]["id"]) for c in calls)
    assert last["choices"][0]["finish_reason"] == "tool_calls" and "usage" in last

    whole = post(server, user("use get_weather", tools=WEATHER_AND_TIME), headers).json()
    assert "object" not in whole
    assert "content" not in whole["choices"][0]["message"]
    assert JSON_CALL_ID.fullmatch(whole["choices"][0]["message"]["tool_calls"][0]["id"])


def test_glm_2026_dialect(server: FakeRunAPI) -> None:
    headers = in_dialect("glm-2026")
    text = post(server, stream_body(), headers)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks(text))
    every = deltas(text)
    assert every[0] == {"role": "assistant", "content": "", "reasoning_content": "\n"}
    assert {"role": "assistant", "content": "\nHello!", "reasoning_content": ""} in every
    assert chunks(text)[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    quiet = post(server, stream_body(thinking={"type": "disabled"}), headers)
    assert chunks(quiet)[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}

    tools = post(
        server, stream_body("use get_weather and get_time", tools=WEATHER_AND_TIME), headers
    )
    calls = tool_deltas(tools)
    assert [c["choices"][0]["delta"]["tool_calls"][0]["index"] for c in calls] == [0, 1]
    assert all("finish_reason" not in c["choices"][0] for c in calls)

    whole = post(server, user("use get_weather", tools=WEATHER_AND_TIME), headers).json()
    assert whole["object"] == "chat.completion"
    assert "content" not in whole["choices"][0]["message"]
    assert "reasoning_tokens" in whole["usage"]["completion_tokens_details"]


@pytest.mark.parametrize(
    ("model", "shown"),
    [("glm-5-turbo", "z-ai/glm-5-turbo-20260315"), ("glm-4.6", "z-ai/glm-4.6-20251001")],
)
def test_gateway_dialect(server: FakeRunAPI, model: str, shown: str) -> None:
    headers = in_dialect("gateway")
    text = post(server, stream_body(model=model), headers)
    raw = frames(text)
    assert raw[0] == ": PROCESSING"
    assert ": PROCESSING" in raw[1:-1]  # between events too
    assert "reasoning_content" not in text.text
    every = deltas(text)
    assert any(d.get("reasoning") for d in every)
    assert every[0]["reasoning"] == "The"  # no leading newline
    assert all(c["model"] == shown for c in chunks(text))
    usage = chunks(text)[-1]["usage"]
    assert chunks(text)[-1]["choices"] == [] and usage["cost"] > 0

    whole = post(server, user("hi", model=model), headers)
    assert whole.text.startswith("\n\n{")
    body = whole.json()
    assert body["model"] == shown and body["usage"]["cost"] > 0
    assert body["choices"][0]["message"]["content"] == "Hello! You said: hi"

    calls = tool_deltas(post(server, stream_body("use get_time", tools=WEATHER_AND_TIME), headers))
    header, arguments = (c["choices"][0]["delta"]["tool_calls"][0] for c in calls)
    assert header["function"] == {"name": "get_time", "arguments": ""}
    assert STREAM_ID.fullmatch(header["id"])
    assert json.loads(arguments["function"]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_a_tool_call_with_index_minus_one(server: FakeRunAPI, dialect: str) -> None:
    headers = {**in_dialect(dialect), "X-Fake-Tool-Index": "-1"}
    body = user("use get_weather", tools=WEATHER_AND_TIME)
    streamed = tool_deltas(post(server, {**body, "stream": True}, headers))
    assert {c["choices"][0]["delta"]["tool_calls"][0]["index"] for c in streamed} == {-1}
    assert message(post(server, body, headers))["tool_calls"][0]["index"] == -1


def test_answers_are_deterministic(server: FakeRunAPI) -> None:
    def normalised(response: httpx.Response) -> str:
        created = re.sub(r'"created":\d+', '"created":0', response.text)
        return created.replace(response.headers["x-request-id"], "ID")

    for dialect in DIALECTS:
        body = stream_body("use get_weather and get_time", tools=WEATHER_AND_TIME)
        first, again = (post(server, body, in_dialect(dialect)) for _ in range(2))
        assert normalised(first) == normalised(again)
        with FakeRunAPI(stream_shape=dialect) as fresh:  # another server: the same bytes
            assert normalised(post(fresh, body)) == normalised(first)


def test_runs_as_a_process_in_a_dialect() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_runapi", "--port", "0", "--dialect", "gateway"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        response = httpx.post(
            f"{base_url}/chat/completions",
            json={"model": "glm-4.6", **user("hi")},
            headers=AUTH,
            timeout=10,
        )
        assert response.text.startswith("\n\n") and response.json()["usage"]["cost"] > 0
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
