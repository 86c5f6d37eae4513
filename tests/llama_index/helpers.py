"""Offline plumbing for the LlamaIndex unit tests: wire samples served by httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from llama_index_runapi import RunAPILLM
from tests.support.wire import snapshot
from tests.support.wire import wire_sample as sample

__all__ = [
    "Server",
    "call_delta",
    "chunk",
    "json_response",
    "make_llm",
    "sample",
    "sse_of",
    "sse_response",
    "tool_call_completion",
]


def json_response(
    data: bytes | dict[str, Any], status: int = 200, **headers: str
) -> httpx.Response:
    content = data if isinstance(data, bytes) else json.dumps(data).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"content-type": "application/json", "x-request-id": "req-test", **headers},
    )


def sse_response(data: bytes) -> httpx.Response:
    return httpx.Response(
        200,
        content=data,
        headers={"content-type": "text/event-stream", "x-request-id": "req-test"},
    )


def sse_of(*chunks: dict[str, Any], done: bool = True) -> bytes:
    """Chunks -> an SSE body, as a server would frame them."""
    text = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks)
    if done:
        text += "data: [DONE]\n\n"
    return text.encode()


class Server:
    """Answers requests from a queue of responses (the last one repeats) and records them."""

    def __init__(self, responses: Iterable[httpx.Response | Callable[[], httpx.Response]]):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(snapshot(request))
        index = min(len(self.requests) - 1, len(self.responses) - 1)
        response = self.responses[index]
        return response() if callable(response) else _fresh(response)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    @property
    def body(self) -> dict[str, Any]:
        return self.bodies[-1]


def _fresh(response: httpx.Response) -> httpx.Response:
    # A Response can be read once; hand out a copy so the last one may repeat.
    return httpx.Response(response.status_code, content=response.content, headers=response.headers)


def make_llm(*responses: httpx.Response, **kwargs: Any) -> tuple[RunAPILLM, Server]:
    server = Server(responses)
    kwargs.setdefault("api_key", "sk-test-secret-123")
    llm = RunAPILLM(
        http_client=httpx.Client(transport=httpx.MockTransport(server)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        **kwargs,
    )
    return llm, server


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish:
        choice["finish_reason"] = finish
    return {"id": "t1", "created": 1, "model": "glm-4.6", "choices": [choice], **extra}


def call_delta(index: int, id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    delta: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id:
        delta["id"] = id
        delta["type"] = "function"
    if name:
        delta["function"]["name"] = name
    return delta


def tool_call_completion(
    name: str, arguments: dict[str, Any], model: str = "glm-4.6"
) -> dict[str, Any]:
    return {
        "id": "x",
        "model": model,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "Call it.",
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "index": 0,
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(arguments)},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    }
