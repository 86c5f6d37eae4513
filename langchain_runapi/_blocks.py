"""LangChain's standard content blocks for RunAPI messages (``content_blocks``, v1 output).

Registered as the block translator of ``model_provider="runapi"``. Two things differ from
LangChain's best-effort parsing: GLM's ``reasoning_content`` becomes a reasoning block ahead
of the text, and streamed tool-call blocks get ``lc_tc_<n>`` indices. With plain integer
indices a tool call's blocks (index = the call's index, 0 for the first) would merge into the
reasoning or text block that LangChain numbered 0 as well, when a stream is aggregated under
``output_version="v1"``.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

__all__ = ["PROVIDER", "register"]

PROVIDER = "runapi"


def _block(**fields: Any) -> types.ContentBlock:
    # (mypy reads the NotRequired keys of langchain-core's block TypedDicts as required)
    return cast("types.ContentBlock", fields)


def _reasoning_and_text(message: AIMessage) -> list[types.ContentBlock]:
    if not isinstance(message.content, str):
        raise NotImplementedError  # list content: LangChain's best-effort parsing handles it
    blocks: list[types.ContentBlock] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append(_block(type="reasoning", reasoning=reasoning))
    if message.content:
        blocks.append(_block(type="text", text=message.content))
    return blocks


def _finished_calls(message: AIMessage) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = []
    for call in message.tool_calls:
        blocks.append(
            _block(type="tool_call", id=call.get("id"), name=call["name"], args=call["args"])
        )
    for bad in message.invalid_tool_calls:
        blocks.append(_block(**{**bad, "type": "invalid_tool_call"}))
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    return _reasoning_and_text(message) + _finished_calls(message)


def translate_content_chunk(chunk: AIMessageChunk) -> list[types.ContentBlock]:
    blocks = _reasoning_and_text(chunk)
    if chunk.chunk_position == "last":
        return blocks + _finished_calls(chunk)
    for call in chunk.tool_call_chunks:
        index = call.get("index")
        block = _block(
            type="tool_call_chunk", id=call.get("id"), name=call.get("name"), args=call.get("args")
        )
        if index is not None:
            block["index"] = f"lc_tc_{index}"
        blocks.append(block)
    return blocks


def register() -> None:
    register_translator(PROVIDER, translate_content, translate_content_chunk)
