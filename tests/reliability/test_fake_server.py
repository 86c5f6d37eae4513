"""The fake RunAPI server itself: wire shapes, faults, keep-alive, concurrency, process mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from runapi_client import ChatCompletionChunk, SSEDecoder, StreamAccumulator
from tests.support.fake_runapi import EMBEDDING_DIMENSIONS as EMULATED_DIMENSIONS
from tests.support.fake_runapi import FakeRunAPI, Fault, parse_fault_header

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key"}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1},
                    "unit": {"enum": ["celsius", "fahrenheit"]},
                    "where": {
                        "type": "object",
                        "properties": {"lat": {"type": "number"}, "tags": {"type": "array"}},
                    },
                },
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]


@pytest.fixture(params=["native", "normalised"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape=request.param) as fake:
        yield fake


def chat(server: FakeRunAPI, body: dict[str, Any], **headers: str) -> httpx.Response:
    body = {"model": "glm-4.6", **body}
    return httpx.post(
        f"{server.base_url}/chat/completions", json=body, headers={**AUTH, **headers}, timeout=10
    )


def events(response: httpx.Response) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    out = [e.data for e in decoder.feed(response.content) + decoder.close()]
    assert out[-1] == "[DONE]"
    return [json.loads(d) for d in out[:-1]]


def test_plain_answer_looks_like_glm(server: FakeRunAPI) -> None:
    response = chat(server, {"messages": [{"role": "user", "content": "ping 42"}]})
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == body["id"] == response.headers["x-request-id"]
    message = body["choices"][0]["message"]
    assert message["content"] == "\nHello! You said: ping 42"
    assert message["reasoning_content"]
    usage = body["usage"]
    assert "cached_tokens" in usage["prompt_tokens_details"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]
    assert server.requests[0]["body"]["messages"][0]["content"] == "ping 42"


def test_thinking_disabled_has_no_reasoning(server: FakeRunAPI) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "disabled"}}
    message = chat(server, body).json()["choices"][0]["message"]
    assert "reasoning_content" not in message


def test_stream_shapes_follow_the_wire_samples(server: FakeRunAPI) -> None:
    body = {
        "messages": [{"role": "user", "content": "one two three"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    chunks = events(chat(server, body))
    accumulator = StreamAccumulator()
    for chunk in chunks:
        accumulator.add(cast(ChatCompletionChunk, chunk))
    assert accumulator.content == "\nHello! You said: one two three"
    assert accumulator.usage is not None
    assert all("finish_reason" not in c["choices"][0] for c in chunks[:-2] if c["choices"])
    if server.stream_shape == "native":
        assert all("object" not in c for c in chunks)
        assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
        assert "usage" in chunks[-1] and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[0]["choices"][0]["delta"].get("reasoning_content")
        assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]


def test_usage_only_when_asked(server: FakeRunAPI) -> None:
    chunks = events(chat(server, {"messages": [{"role": "user", "content": "x"}], "stream": True}))
    assert not any("usage" in c for c in chunks)


def test_tool_calls_from_schema_and_parallel(server: FakeRunAPI) -> None:
    body = {"messages": [{"role": "user", "content": "weather in '北京'"}], "tools": TOOLS}
    message = chat(server, body).json()["choices"][0]["message"]
    (call,) = message["tool_calls"]
    args = json.loads(call["function"]["arguments"])
    assert call["function"]["name"] == "get_weather" and call["id"].startswith("call_-")
    assert args == {
        "city": "北京",
        "days": 3,
        "unit": "celsius",
        "where": {"lat": 3, "tags": ["北京"]},
    }

    body["messages"] = [{"role": "user", "content": "use get_weather and get_time"}]
    body["stream"] = True
    chunks = events(chat(server, body))
    accumulator = StreamAccumulator()
    for chunk in chunks:
        accumulator.add(cast(ChatCompletionChunk, chunk))
    assert [c["function"]["name"] for c in accumulator.tool_calls()] == ["get_weather", "get_time"]
    assert accumulator.finish_reason == "tool_calls"
    with_calls = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls")]
    assert len(with_calls) == (1 if server.stream_shape == "native" else 4)

    # Forcing a tool: models that accept it (GLM refuses, see test_fake_realism.py).
    body["tool_choice"] = {"type": "function", "function": {"name": "get_time"}}
    body["stream"] = False
    body["model"] = "gpt-4o-mini"
    calls = chat(server, body).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]


def test_tool_result_json_modes_stop_and_max_tokens(server: FakeRunAPI) -> None:
    history = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
    ]
    text = chat(server, {"messages": history, "tools": TOOLS}).json()["choices"][0]["message"]
    assert "sunny, 21C" in text["content"]

    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "required": ["a", "b"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",  # GLM refuses json_schema (see test_fake_realism.py)
        "messages": [{"role": "user", "content": "go"}],
        "response_format": fmt,
    }
    assert json.loads(chat(server, body).json()["choices"][0]["message"]["content"])["a"] == 3

    prompt = "Tell me a joke. Return a JSON with 'setup' and 'punchline' keys."
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "response_format": {"type": "json_object"},
    }
    joke = json.loads(chat(server, body).json()["choices"][0]["message"]["content"])
    assert set(joke) == {"setup", "punchline"}

    body = {"messages": [{"role": "user", "content": "a b c d e f"}], "stop": ["said"]}
    assert chat(server, body).json()["choices"][0]["message"]["content"] == "\nHello! You "
    body = {"messages": [{"role": "user", "content": "a b c d e f"}], "max_tokens": 2}
    choice = chat(server, body).json()["choices"][0]
    assert choice["message"]["content"] == "\nHello! You" and choice["finish_reason"] == "length"


def test_auth_models_embeddings(server: FakeRunAPI) -> None:
    for headers in ({}, {"Authorization": "Bearer bad-key"}, {"Authorization": "Basic x"}):
        response = httpx.post(f"{server.base_url}/chat/completions", json={}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    models = httpx.get(f"{server.base_url}/models", headers=AUTH).json()
    assert "glm-4.6" in [m["id"] for m in models["data"]]
    body = {"model": "embedding-3", "input": ["a", "b"], "dimensions": 8}
    first = httpx.post(f"{server.base_url}/embeddings", json=body, headers=AUTH).json()
    again = httpx.post(f"{server.base_url}/embeddings", json=body, headers=AUTH).json()
    assert first["data"] == again["data"] and len(first["data"][1]["embedding"]) == 8
    assert first["usage"]["prompt_tokens"] > 0


def test_embeddings_are_as_long_as_the_models_own(server: FakeRunAPI) -> None:
    """Without ``dimensions``, each model's full size (OpenAI's and Z.ai's model pages): 1536
    for text-embedding-3-small (the docs' examples print it), not one size for every model."""
    assert EMULATED_DIMENSIONS["text-embedding-3-small"] == 1536
    assert EMULATED_DIMENSIONS["text-embedding-3-large"] == 3072
    assert EMULATED_DIMENSIONS["embedding-3"] == 2048  # Z.ai's own model, beside RunAPI's
    for model, size in EMULATED_DIMENSIONS.items():
        body = {"model": model, "input": ["a"]}
        answer = httpx.post(f"{server.base_url}/embeddings", json=body, headers=AUTH).json()
        assert len(answer["data"][0]["embedding"]) == size, model


def test_queued_faults_fifo(server: FakeRunAPI) -> None:
    server.enqueue(
        Fault.status(429, retry_after="1"),
        Fault.status(503, body='{"error": "No active channel available"}'),
        Fault.html(502),
        Fault.not_json(),
    )
    simple = {"messages": [{"role": "user", "content": "x"}]}
    first = chat(server, simple)
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    assert chat(server, simple).json() == {"error": "No active channel available"}
    html = chat(server, simple)
    assert html.status_code == 502 and "<title>502 Bad Gateway</title>" in html.text
    not_json = chat(server, simple)
    assert not_json.status_code == 200
    with pytest.raises(ValueError):
        not_json.json()
    assert chat(server, simple).status_code == 200


def test_stream_faults(server: FakeRunAPI) -> None:
    stream = {"messages": [{"role": "user", "content": "a b c d e"}], "stream": True}
    server.enqueue(Fault.cut_stream(after=3))
    with pytest.raises(httpx.RemoteProtocolError):
        chat(server, stream)
    server.enqueue(Fault.cut_stream(after=3, clean=True))
    assert chat(server, stream).text.count("data:") == 3
    server.enqueue(Fault.malformed_event(after=2))
    with pytest.raises(ValueError):
        events(chat(server, stream))
    server.enqueue(Fault.error_event(after=2))
    assert '"1305"' in chat(server, stream).text.split("\n\n")[2]
    server.enqueue(Fault.reset())
    with pytest.raises(httpx.TransportError):
        chat(server, stream)
    server.enqueue(Fault.huge(n_chunks=20000))
    assert len(events(chat(server, stream))) > 20000


def test_header_faults_with_times(server: FakeRunAPI) -> None:
    assert parse_fault_header("status=429;retry_after=1") == Fault.status(429, retry_after="1")
    assert parse_fault_header("stall=5;after=2") == Fault.stall(5, after=2)
    assert parse_fault_header("error_event=2;code=1211").payload["error"]["code"] == "1211"
    with pytest.raises(ValueError):
        parse_fault_header("explode")
    body = {"messages": [{"role": "user", "content": "x"}]}
    statuses = [
        chat(server, body, **{"X-Fake-Fault": "status=503;times=2"}).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    streamed = chat(server, {**body, "stream": True}, **{"X-Fake-Chunks": "500"})
    assert len(events(streamed)) > 500


def test_keep_alive_and_concurrency(server: FakeRunAPI) -> None:
    with httpx.Client(headers=AUTH) as client:
        for _ in range(5):
            client.get(f"{server.base_url}/models").raise_for_status()
    assert server.total_connections == 1

    async def many() -> list[str]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=30) as client:
            server.enqueue(*[Fault.delay(0.3)] * 150)  # hold them open together

            async def one(i: int) -> str:
                body = {"model": "glm-4.6", "messages": [{"role": "user", "content": f"call {i}"}]}
                response = await client.post(f"{server.base_url}/chat/completions", json=body)
                return str(response.json()["choices"][0]["message"]["content"])

            return await asyncio.gather(*(one(i) for i in range(150)))

    answers = asyncio.run(asyncio.wait_for(many(), 60))
    assert answers == [f"\nHello! You said: call {i}" for i in range(150)]
    assert server.total_connections >= 150
    assert server.wait_idle(5)


def test_runs_as_a_process() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.fake_runapi",
            "--port",
            "0",
            "--stream-shape",
            "normalised",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert httpx.get(f"{base_url}/models", headers=AUTH, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
