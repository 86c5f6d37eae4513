"""LangChain messages <-> Chat Completions wire dicts, as small pure functions.

Nothing here sends a request or knows a price: each function takes plain data and returns
plain data (or LangChain message objects), so unit tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
    is_data_content_block,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call

__all__ = [
    "PROVIDER",
    "completion_to_message",
    "delta_to_message_chunk",
    "message_to_wire",
    "messages_to_wire",
    "usage_to_metadata",
]

from ._blocks import PROVIDER

# Block types that only make sense as model output; they are never sent back as content.
_OUTPUT_ONLY_BLOCKS = frozenset(
    {
        "reasoning",
        "thinking",
        "reasoning_content",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "tool_use",
        "server_tool_call",
        "server_tool_result",
    }
)


# ------------------------------------------------------------------------ LangChain -> wire


def messages_to_wire(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The conversation as wire messages, each answer with its reasoning: which turns'
    reasoning is sent back is the core's rule (``runapi_client.policy.reasoning_history``)."""
    return [message_to_wire(m) for m in messages]


def message_to_wire(message: BaseMessage) -> dict[str, Any]:
    """One LangChain message as a Chat Completions message dict."""
    wire: dict[str, Any]
    if isinstance(message, AIMessage):
        wire = _assistant_to_wire(message)
    elif isinstance(message, HumanMessage):
        wire = {"role": "user", "content": _content_to_wire(message.content)}
    elif isinstance(message, SystemMessage):
        role = message.additional_kwargs.get("__openai_role__", "system")
        wire = {"role": role, "content": _text_of(message.content)}
    elif isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "content": _tool_content_to_wire(message.content),
            "tool_call_id": message.tool_call_id,
        }
    elif isinstance(message, FunctionMessage):
        wire = {"role": "function", "content": _text_of(message.content)}
    elif isinstance(message, ChatMessage):
        wire = {"role": message.role, "content": _content_to_wire(message.content)}
    else:
        raise TypeError(f"ChatRunAPI cannot send a message of type {type(message).__name__}.")
    name = message.name or message.additional_kwargs.get("name")
    if name:
        wire["name"] = name
    return wire


def _assistant_to_wire(message: AIMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": "assistant", "content": _text_of(message.content)}
    calls = [_tool_call_to_wire(tc) for tc in message.tool_calls]
    calls += [_invalid_tool_call_to_wire(tc) for tc in message.invalid_tool_calls]
    if not calls and message.additional_kwargs.get("tool_calls"):
        calls = [
            {k: v for k, v in tc.items() if k in ("id", "type", "function")}
            for tc in message.additional_kwargs["tool_calls"]
        ]
    if calls:
        wire["tool_calls"] = calls
        wire["content"] = wire["content"] or None
    reasoning = _reasoning_of(message)
    if reasoning:
        wire["reasoning_content"] = reasoning
    return wire


def _reasoning_of(message: AIMessage) -> str:
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str):
        return reasoning
    if isinstance(message.content, list):  # output_version="v1" keeps it as a block
        return "".join(
            str(b.get("reasoning", ""))
            for b in message.content
            if isinstance(b, dict) and b.get("type") == "reasoning"
        )
    return ""


def _tool_call_to_wire(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": json.dumps(call["args"], ensure_ascii=False),
        },
    }


def _invalid_tool_call_to_wire(call: InvalidToolCall) -> dict[str, Any]:
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": call.get("args") or ""},
    }


def _text_of(content: str | list[Any]) -> str:
    """The text of a message's content, whatever its shape (string, v0 or v1 blocks). Text
    parts are joined by newlines: joined by nothing, "Translate:" and "good morning" would
    reach the model as "Translate:good morning"."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def _content_to_wire(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """User content: a string, or OpenAI content parts (text, image_url, ...)."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif not isinstance(block, dict) or block.get("type") in _OUTPUT_ONLY_BLOCKS:
            continue
        elif block.get("type") == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif is_data_content_block(block):
            parts.append(convert_to_openai_data_block(block))
        else:
            parts.append(dict(block))  # already an OpenAI content part (image_url, ...)
    if all(p.get("type") == "text" for p in parts):
        # Plain text is what every model accepts (joined by newlines, as in _text_of).
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_content_to_wire(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """A tool result: text where it is all text (GLM's tool role takes a string), else content
    parts as ``ChatOpenAI`` sends them, so an image reaches a vision model as an ``image_url``
    part and a text-only model is refused before sending (the core's content-part check)
    instead of being billed for base64 as text. Other blocks (``json``, ...) go as their JSON
    text: nothing is dropped."""
    if isinstance(content, str):
        return content
    blocks: list[Any] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") not in _TOOL_RESULT_PASSTHROUGH:
            if block.get("type") in _OUTPUT_ONLY_BLOCKS:
                continue
            if not is_data_content_block(block):
                block = {"type": "text", "text": json.dumps(block, ensure_ascii=False)}
        blocks.append(block)
    return _content_to_wire(blocks)


# Tool-result blocks sent as content parts unchanged: text, and OpenAI's own media parts.
_TOOL_RESULT_PASSTHROUGH = frozenset({"text", "image_url", "input_audio", "file"})


# ------------------------------------------------------------------------ wire -> LangChain


def usage_to_metadata(usage: Mapping[str, Any]) -> UsageMetadata:
    """Wire usage -> LangChain ``UsageMetadata``.

    Both wire and LangChain count the same way: ``prompt_tokens`` includes cached tokens and
    ``completion_tokens`` includes reasoning tokens, so the details are subsets, not addends.
    """
    input_tokens = _int(usage.get("prompt_tokens"))
    output_tokens = _int(usage.get("completion_tokens"))
    total = _int(usage.get("total_tokens")) or input_tokens + output_tokens
    # (mypy reads langchain-core's NotRequired detail keys as required)
    metadata: UsageMetadata = {  # type: ignore[typeddict-item]
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": total,
    }
    prompt_details = usage.get("prompt_tokens_details") or {}
    input_details: dict[str, int] = {}
    if "cached_tokens" in prompt_details:
        input_details["cache_read"] = _int(prompt_details.get("cached_tokens"))
    if "cache_write_tokens" in prompt_details:
        input_details["cache_creation"] = _int(prompt_details.get("cache_write_tokens"))
    if input_details:
        metadata["input_token_details"] = InputTokenDetails(**input_details)  # type: ignore[typeddict-item]
    completion_details = usage.get("completion_tokens_details") or {}
    if "reasoning_tokens" in completion_details:
        metadata["output_token_details"] = OutputTokenDetails(
            reasoning=_int(completion_details.get("reasoning_tokens"))
        )
    return metadata


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_wire_tool_calls(
    raw_calls: Sequence[Mapping[str, Any]],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Whole wire tool calls -> valid and invalid LangChain tool calls (never raises)."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        raw = dict(raw)
        function = raw.get("function")
        if isinstance(function, Mapping):
            arguments = function.get("arguments")
            if arguments is not None and not isinstance(arguments, str):
                # Some gateways send the arguments as a JSON object; the stream path accepts
                # that too (delta_to_message_chunk).
                arguments = json.dumps(arguments, ensure_ascii=False)
                raw["function"] = {**function, "arguments": arguments}
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except Exception as exc:  # malformed JSON arguments: keep the call, flag it
            invalid.append(make_invalid_tool_call(raw, str(exc)))
            continue
        if parsed is None:
            continue
        if not isinstance(parsed.get("args"), dict):
            invalid.append(make_invalid_tool_call(raw, "Tool arguments are not a JSON object."))
            continue
        valid.append(parsed)  # type: ignore[arg-type]
    return valid, invalid


def completion_to_message(completion: Mapping[str, Any], **fields: Any) -> AIMessage:
    """A non-streamed wire completion -> ``AIMessage``; ``fields`` (response_metadata,
    usage_metadata) are set at construction, which is cheaper than pydantic assignments."""
    choices = completion.get("choices") or [{}]
    message = choices[0].get("message") or {}
    # Empty additional_kwargs/tool_calls/invalid_tool_calls are left to the fields' defaults
    # (equal messages, and pydantic does not validate a default on every call).
    reasoning = message.get("reasoning_content")
    if reasoning:
        fields["additional_kwargs"] = {"reasoning_content": reasoning}
    raw_calls = message.get("tool_calls")
    if raw_calls:
        tool_calls, invalid = parse_wire_tool_calls(raw_calls)
        fields["tool_calls"] = tool_calls
        fields["invalid_tool_calls"] = invalid
    return AIMessage(
        content=message.get("content") or "",
        id=completion.get("id") or None,
        **fields,
    )


def response_metadata_of(completion: Mapping[str, Any], default_model: str) -> dict[str, Any]:
    """``response_metadata`` of a finished call (its cost is added by the caller)."""
    choices = completion.get("choices") or [{}]
    metadata: dict[str, Any] = {
        "model_name": completion.get("model") or default_model,
        "finish_reason": choices[0].get("finish_reason"),
        "model_provider": PROVIDER,
    }
    if completion.get("id"):
        metadata["id"] = completion["id"]
    if completion.get("system_fingerprint"):
        metadata["system_fingerprint"] = completion["system_fingerprint"]
    logprobs = choices[0].get("logprobs")
    if logprobs:
        metadata["logprobs"] = logprobs
    return metadata


def delta_to_message_chunk(chunk: Mapping[str, Any]) -> AIMessageChunk | None:
    """One wire stream chunk -> an ``AIMessageChunk`` with its deltas only, or None if the
    chunk carries no delta (e.g. a usage-only chunk). Metadata is left to the stream's end."""
    choices = chunk.get("choices") or []
    choice = next((c for c in choices if c.get("index", 0) == 0), None)
    if choice is None:
        return None
    delta = choice.get("delta") or {}
    additional_kwargs: dict[str, Any] = {}
    reasoning = delta.get("reasoning_content")
    if reasoning:
        additional_kwargs["reasoning_content"] = reasoning
    call_chunks: list[ToolCallChunk] = []
    for position, raw in enumerate(delta.get("tool_calls") or ()):
        function = raw.get("function") or {}
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        index = raw.get("index")
        call_chunks.append(
            tool_call_chunk(
                name=function.get("name") or None,
                args=arguments,
                id=raw.get("id") or None,
                index=index if isinstance(index, int) else position,
            )
        )
    content = delta.get("content") or ""
    logprobs = choice.get("logprobs")
    if not content and not additional_kwargs and not call_chunks and not logprobs:
        return None
    # Empty additional_kwargs/tool_call_chunks are left to the fields' defaults (the same empty
    # dict and list): pydantic then validates nothing for them, and most chunks carry text only.
    extra: dict[str, Any] = {}
    if additional_kwargs:
        extra["additional_kwargs"] = additional_kwargs
    if call_chunks:
        extra["tool_call_chunks"] = call_chunks
    # model_provider on every chunk (merging equal providers is safe): LangChain looks up the
    # content block translator per chunk when it converts a stream to output_version="v1".
    # Each chunk's logprobs are its tokens' own; adding chunks concatenates their lists.
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    if logprobs:
        metadata["logprobs"] = logprobs
    return AIMessageChunk(
        content=content,
        id=chunk.get("id") or None,
        response_metadata=metadata,
        **extra,
    )
