"""Tools: LlamaIndex tools -> request fields the model accepts; responses -> ToolSelections.

GLM accepts ``tool_choice="auto"`` only and rejects ``parallel_tool_calls`` (see the catalog),
so a forcing choice the model would reject is never sent. It is honoured another way instead:
``"none"`` sends no tools, a named tool sends only that tool, and ``"required"`` (or
``tool_required=True``) adds one instruction to call a tool. ``allow_parallel_tool_calls=False``
keeps the first call of each response, streamed or not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from runapi_client import ModelInfo
from runapi_client._instructions import TOOL_CALL_INSTRUCTION, tool_call_instruction

from ._messages import parse_arguments

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "ToolRequest",
    "afirst_tool_call_only",
    "first_tool_call_only",
    "force_single_tool_call",
    "tool_request",
    "tool_selections",
    "with_instruction",
]

logger = logging.getLogger("llama_index_runapi")

REQUIRED_HINT = TOOL_CALL_INSTRUCTION  # the core's words, which ChatRunAPI sends too


@dataclass
class ToolRequest:
    """Request fields for tools (``tools``, maybe ``tool_choice``/``parallel_tool_calls``),
    and ``hint``: an instruction to add when ``tool_choice`` cannot force the model."""

    fields: dict[str, Any] = field(default_factory=dict)
    hint: str | None = None


def with_instruction(messages: Sequence[ChatMessage], text: str) -> list[ChatMessage]:
    """``messages`` with ``text`` added to the leading system message (a new one if none).

    The LlamaIndex form of ``runapi_client._instructions.add_system_instruction``: added to the
    ChatMessages, before they become wire messages, so LlamaIndex's callbacks and
    instrumentation see the instruction that is sent."""
    out = list(messages)
    if out and out[0].role == MessageRole.SYSTEM:
        first = out[0]
        out[0] = first.model_copy(update={"blocks": [*first.blocks, TextBlock(text=text)]})
    else:
        out.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=text))
    return out


def _spec(tool: BaseTool) -> dict[str, Any]:
    return tool.metadata.to_openai_tool(skip_length_check=True)


def tool_request(
    tools: Sequence[BaseTool],
    info: ModelInfo,
    *,
    tool_choice: str | Mapping[str, Any] | None = None,
    tool_required: bool = False,
    allow_parallel_tool_calls: bool = False,
) -> ToolRequest:
    """The tool fields of a request for ``info``'s model; never a value it would reject."""
    request = ToolRequest()
    specs = [_spec(t) for t in tools]
    if not specs:
        return request

    wanted: str | dict[str, Any] | None
    if isinstance(tool_choice, Mapping):
        wanted = dict(tool_choice)
    elif tool_choice is None:
        wanted = "required" if tool_required else None
    elif tool_choice in ("auto", "none", "required"):
        wanted = tool_choice
    else:  # a tool name
        wanted = {"type": "function", "function": {"name": tool_choice}}

    if wanted == "none" and "none" not in info.tool_choice:
        return request  # no tools offered: the model cannot call one
    if isinstance(wanted, dict):
        name = (wanted.get("function") or {}).get("name")
        if "function" not in info.tool_choice:
            only = [s for s in specs if s["function"]["name"] == name]
            if only:
                specs = only
                request.hint = tool_call_instruction(name)
            wanted = None
    elif wanted == "required" and "required" not in info.tool_choice:
        request.hint = tool_call_instruction()
        wanted = None

    request.fields["tools"] = specs
    if wanted is not None and (isinstance(wanted, dict) or wanted in info.tool_choice):
        request.fields["tool_choice"] = wanted
    elif wanted is not None:
        logger.debug("tool_choice=%r is not accepted by %s; left out", wanted, info.name)
    if info.parallel_tool_calls:
        request.fields["parallel_tool_calls"] = allow_parallel_tool_calls
    return request


def _arguments(value: Any) -> dict[str, Any]:
    """Tool arguments as a dict, tolerating the partial JSON of a stream in progress."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return {}
    parsed = parse_arguments(value)
    if isinstance(parsed, dict):
        return parsed
    try:
        partial = parse_partial_json(value)
    except (ValueError, RecursionError):
        return {}
    return partial if isinstance(partial, dict) else {}


def tool_selections(
    response: ChatResponse, *, error_on_no_tool_call: bool = True
) -> list[ToolSelection]:
    message = response.message
    selections = [
        ToolSelection(
            tool_id=block.tool_call_id or "",
            tool_name=block.tool_name,
            tool_kwargs=_arguments(block.tool_kwargs),
        )
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if not selections:
        # Messages built elsewhere may carry wire-style calls in additional_kwargs only.
        for call in message.additional_kwargs.get("tool_calls") or ():
            data = call.model_dump() if hasattr(call, "model_dump") else call
            if not isinstance(data, Mapping):
                continue
            function = data.get("function") or {}
            selections.append(
                ToolSelection(
                    tool_id=data.get("id") or "",
                    tool_name=function.get("name") or "",
                    tool_kwargs=_arguments(function.get("arguments")),
                )
            )
    if not selections and error_on_no_tool_call:
        raise ValueError(
            "Expected at least one tool call, but the model answered without calling a tool."
        )
    return selections


def force_single_tool_call(response: ChatResponse) -> None:
    """Keep the first tool call only (``allow_parallel_tool_calls=False``)."""
    message: ChatMessage = response.message
    calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if len(calls) > 1:
        message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock)]
        message.blocks.append(calls[0])
    wire = message.additional_kwargs.get("tool_calls")
    if isinstance(wire, list) and len(wire) > 1:
        message.additional_kwargs["tool_calls"] = wire[:1]


def _keep_first_call(response: ChatResponse) -> ChatResponse:
    # A stream's responses carry their calls in both forms, so the wire list says how many
    # there are: one dict lookup for a chunk with one call or none.
    wire = response.message.additional_kwargs.get("tool_calls")
    if wire and len(wire) > 1:
        force_single_tool_call(response)
    return response


def first_tool_call_only(responses: ChatResponseGen) -> ChatResponseGen:
    """A stream's responses with the first tool call only (index 0).

    Changed in place: the chat callbacks hold the same objects, so the end event reports what
    the caller got (an in-progress event, sent before the change, may show a second call)."""
    for response in responses:
        yield _keep_first_call(response)


async def afirst_tool_call_only(responses: ChatResponseAsyncGen) -> ChatResponseAsyncGen:
    async for response in responses:
        yield _keep_first_call(response)
