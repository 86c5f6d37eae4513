"""Typed shapes of the wire.

These are ``TypedDict``s over the decoded JSON, not models: parsing a stream chunk costs one
``json.loads`` and nothing more, and every field the server adds (``reasoning_content``,
``request_id``, whatever comes next) stays in the dict for whoever wants it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired


class FunctionCall(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall
    index: NotRequired[int]


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int
    cache_write_tokens: int


class CompletionTokensDetails(TypedDict, total=False):
    reasoning_tokens: int


class Usage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None
    completion_tokens_details: CompletionTokensDetails | None


class ChatMessage(TypedDict, total=False):
    role: str
    content: str | None
    reasoning_content: str | None
    tool_calls: list[ToolCall]


class Choice(TypedDict, total=False):
    index: int
    message: ChatMessage
    finish_reason: str | None


class ChatCompletion(TypedDict, total=False):
    id: str
    object: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None
    system_fingerprint: str | None
    request_id: str


class ToolCallDelta(TypedDict, total=False):
    index: int
    id: str | None
    type: str | None
    function: dict[str, Any]


class Delta(TypedDict, total=False):
    role: str
    content: str | None
    reasoning_content: str | None
    tool_calls: list[ToolCallDelta] | None


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: Delta
    finish_reason: str | None


class ChatCompletionChunk(TypedDict, total=False):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None
    system_fingerprint: str | None


class Model(TypedDict, total=False):
    id: str
    object: str
    created: int
    owned_by: str


ChatRequest = dict[str, Any]
"""A Chat Completions request body, exactly as it goes on the wire."""
