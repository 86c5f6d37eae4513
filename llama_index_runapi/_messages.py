"""LlamaIndex messages <-> Chat Completions wire dicts: pure functions, no I/O.

Requests: text and image blocks become ``content`` (a string when it is all text, a list of
parts otherwise); assistant turns carry their tool calls (from ``ToolCallBlock``s, else from
``additional_kwargs["tool_calls"]``) and their reasoning (``ThinkingBlock``s, as
``reasoning_content``: which turns' reasoning reaches the model is the core's rule,
``runapi_client.policy.reasoning_history``); tool results go out as ``role="tool"`` with their
``tool_call_id``.

Responses: reasoning becomes a ``ThinkingBlock`` ahead of the text, never mixed into it; tool
calls become ``ToolCallBlock``s and a list of wire dicts in ``additional_kwargs["tool_calls"]``;
usage and cost go into the response's ``additional_kwargs``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ContentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from runapi_client import ConfigurationError, Cost, token_counts

__all__ = [
    "from_wire_message",
    "response_kwargs",
    "to_wire_message",
    "to_wire_messages",
    "tool_call_blocks",
    "wire_tool_call",
]

logger = logging.getLogger("llama_index_runapi")

_ROLE_TO_WIRE = {
    MessageRole.SYSTEM: "system",
    # GLM knows no "developer" role; OpenAI models treat "system" the same way.
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
    # Roles other integrations use for the model's own turns.
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}


# ----------------------------------------------------------------------------------- requests


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [to_wire_message(m) for m in messages]


def to_wire_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLE_TO_WIRE.get(message.role, "user")
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    thinking: list[str] = []
    has_media = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
            has_media = True
        elif isinstance(block, ToolCallBlock):
            tool_calls.append(_tool_call_from_block(block, len(tool_calls)))
        elif isinstance(block, ThinkingBlock):
            thinking.append(block.content or "")
        elif isinstance(block, CachePoint):
            continue  # no place for it in a Chat Completions request
        else:
            raise ConfigurationError(
                f"RunAPILLM cannot send a {type(block).__name__} to a chat model: "
                "send text, images, tool calls and tool results."
            )

    wire: dict[str, Any] = {"role": role}
    if has_media and role == "user":
        wire["content"] = parts
    else:
        if has_media:
            # Chat Completions takes images in user messages only (a tool's image included).
            logger.warning(
                "An image in a %s message was left out: only user messages carry "
                "images. Send it in a user message.",
                role,
            )
        # ChatMessage.content joins text blocks with a newline; send the same text.
        wire["content"] = "\n".join(texts)

    if role == "assistant":
        if not tool_calls:
            tool_calls = [
                _normalise_wire_tool_call(c, i)
                for i, c in enumerate(message.additional_kwargs.get("tool_calls") or ())
            ]
        if tool_calls:
            wire["tool_calls"] = tool_calls
        reasoning = "".join(thinking)
        if reasoning:
            wire["reasoning_content"] = reasoning
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id:
            wire["tool_call_id"] = str(call_id)
        name = message.additional_kwargs.get("name")
        if name:
            wire["name"] = str(name)
    return wire


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.url:
        url = str(block.url)
    else:
        data = block.resolve_image(as_base64=True).read().decode("ascii")
        mimetype = block.image_mimetype or "image/png"
        url = f"data:{mimetype};base64,{data}"
    image_url: dict[str, Any] = {"url": url}
    if block.detail:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def _tool_call_from_block(block: ToolCallBlock, position: int) -> dict[str, Any]:
    return {
        "id": block.tool_call_id or f"call_{position}",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": _arguments_text(block.tool_kwargs)},
    }


def _normalise_wire_tool_call(call: Any, position: int) -> dict[str, Any]:
    """A tool call from ``additional_kwargs``: a wire dict, or an SDK object from another LLM."""
    if hasattr(call, "model_dump"):
        call = call.model_dump()
    if not isinstance(call, Mapping):
        raise ConfigurationError(
            f"Cannot send tool call {call!r}: expected a dict with id and function."
        )
    function = call.get("function") or {}
    return {
        "id": call.get("id") or f"call_{position}",
        "type": "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": _arguments_text(function.get("arguments")),
        },
    }


# ---------------------------------------------------------------------------------- responses


def parse_arguments(arguments: str) -> dict[str, Any] | str:
    """Whole JSON object -> dict; anything else (partial mid-stream, empty) stays a string."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # a deeply nested body exhausts the recursion limit
        return arguments
    return value if isinstance(value, dict) else arguments


def wire_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": call.get("id") or "",
        "type": "function",
        "function": {
            "name": function.get("name") or "",
            "arguments": _arguments_text(function.get("arguments")),
        },
    }


def tool_call_blocks(tool_calls: Sequence[Mapping[str, Any]]) -> list[ToolCallBlock]:
    blocks = []
    for call in tool_calls:
        function = call.get("function") or {}
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.get("id") or None,
                tool_name=function.get("name") or "",
                tool_kwargs=parse_arguments(_arguments_text(function.get("arguments"))),
            )
        )
    return blocks


def from_wire_message(
    message: Mapping[str, Any],
    *,
    reasoning_tokens: int | None = None,
) -> ChatMessage:
    """An assistant message (non-streamed, or a stream's accumulated state) -> ChatMessage."""
    blocks: list[ContentBlock] = []
    reasoning = message.get("reasoning_content")
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=reasoning_tokens or None))
    content = message.get("content") or ""
    calls = [wire_tool_call(c) for c in message.get("tool_calls") or ()]
    if content or not calls:
        blocks.append(TextBlock(text=content))
    blocks.extend(tool_call_blocks(calls))
    additional_kwargs: dict[str, Any] = {"tool_calls": calls} if calls else {}
    return ChatMessage(
        role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional_kwargs
    )


def response_kwargs(
    usage: Mapping[str, Any] | None,
    cost: Cost | None,
    request_id: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``ChatResponse.additional_kwargs``: the server's token counts and the cost in USD.

    ``counts``: ``token_counts(usage)`` when the caller has it already.
    """
    out: dict[str, Any] = {}
    if usage:
        if counts is None:
            counts = token_counts(usage)
        out.update(
            prompt_tokens=counts["input"],
            completion_tokens=counts["output"],
            total_tokens=counts["total"],
            cache_read_tokens=counts["cache_read"],
            reasoning_tokens=counts["reasoning"],
        )
    if cost is not None:
        out["cost"] = cost.total
        out["cost_details"] = cost.as_dict()
    if request_id:
        out["request_id"] = request_id
    return out
