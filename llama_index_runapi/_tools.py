"""Tools: LlamaIndex tools -> the wire's tool fields; responses -> ``ToolSelection``s.

What a model does with a ``tool_choice`` it cannot take (GLM accepts ``"auto"`` only) is the
core's rule (``runapi_client.policy``), the same for ``ChatRunAPI``: the request says what the
caller asked for (``tool_required=True`` is ``"required"``, ``allow_parallel_tool_calls=False``
is ``parallel_tool_calls: false``) and the policy adapts it when it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from ._messages import parse_arguments

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["tool_fields", "tool_selections"]


def tool_fields(
    tools: Sequence[BaseTool],
    *,
    tool_choice: str | Mapping[str, Any] | None = None,
    tool_required: bool = False,
    allow_parallel_tool_calls: bool = False,
) -> dict[str, Any]:
    """The request fields for ``tools``, as LlamaIndex's keywords say: what a model accepts
    of them is decided when the request is sent."""
    specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
    if not specs:
        return {}
    fields: dict[str, Any] = {
        "tools": specs,
        "parallel_tool_calls": allow_parallel_tool_calls,
    }
    if tool_choice is not None:
        choice = dict(tool_choice) if isinstance(tool_choice, Mapping) else tool_choice
        fields["tool_choice"] = choice
    elif tool_required:
        fields["tool_choice"] = "required"
    return fields


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
