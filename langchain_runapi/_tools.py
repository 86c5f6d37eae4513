"""Tools and ``tool_choice``: LangChain's spellings -> the wire, and what each model accepts.

GLM accepts ``tool_choice="auto"`` only (see ``runapi_client.get_model_info``). Asked for more,
ChatRunAPI degrades knowingly, never silently:

- a forced choice (``"any"``, ``"required"``, ``True``, a tool name) is sent as ``"auto"``
  with a ``UserWarning``, and a system instruction asks for a tool call (of the named tool,
  if one was named): the model may still answer without calling it;
- ``"none"`` is honoured by not sending the tools at all (same effect, nothing to warn about);
- ``parallel_tool_calls`` is dropped with a warning when the model does not accept the field.

Models whose catalog entry accepts the value get it passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from runapi_client import ModelInfo
from runapi_client._instructions import add_system_instruction, tool_call_instruction
from runapi_client._warn import warn_at_caller

__all__ = ["adapt_tool_request", "format_tool_choice", "format_tools"]

ToolLike = dict[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool


def format_tools(tools: Sequence[ToolLike], *, strict: bool | None = None) -> list[dict[str, Any]]:
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def format_tool_choice(
    tool_choice: dict[str, Any] | str | bool | None, tools: Sequence[dict[str, Any]]
) -> dict[str, Any] | str | None:
    """LangChain's ``tool_choice`` spellings -> the wire value (None: leave it unset)."""
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True:
        if len(tools) != 1:
            raise ValueError(
                f"tool_choice=True needs exactly one tool to force; got {len(tools)}. "
                "Name the tool instead: tool_choice='my_tool'."
            )
        return {"type": "function", "function": {"name": tools[0]["function"]["name"]}}
    if isinstance(tool_choice, dict):
        return tool_choice
    if tool_choice == "any":
        return "required"
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    names = {t["function"]["name"] for t in tools if "function" in t}
    if tool_choice not in names:
        raise ValueError(
            f"tool_choice={tool_choice!r} names no bound tool; the tools are {sorted(names)}."
        )
    return {"type": "function", "function": {"name": tool_choice}}


def _choice_kind(choice: Any) -> str:
    return "function" if isinstance(choice, dict) else str(choice)


def adapt_tool_request(body: dict[str, Any], info: ModelInfo) -> None:
    """Make ``body``'s tool fields fit what ``info`` says the model accepts (in place)."""
    choice = body.get("tool_choice")
    if choice is not None and _choice_kind(choice) not in info.tool_choice:
        if choice == "none":
            body.pop("tools", None)
            body.pop("tool_choice", None)
            body.pop("parallel_tool_calls", None)
        else:
            _ask_for_the_call(body, choice, info)
    if "parallel_tool_calls" in body and not info.parallel_tool_calls:
        del body["parallel_tool_calls"]
        warn_at_caller(
            f"{body.get('model')} does not accept parallel_tool_calls; the field is not sent."
        )
    if not body.get("tools"):
        body.pop("tools", None)
        body.pop("tool_choice", None)


def _ask_for_the_call(body: dict[str, Any], choice: Any, info: ModelInfo) -> None:
    """A forced ``choice`` the model rejects: ``"auto"``, and a system instruction to call the
    tool (the one ``choice`` names, if it names one) in the messages."""
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    shown = choice if isinstance(choice, str) else name
    warn_at_caller(
        f"{body.get('model')} accepts tool_choice {list(info.tool_choice)} only, so "
        f"tool_choice={shown!r} is sent as 'auto', with a system instruction to call the "
        "tool: the model may still answer without calling it."
    )
    if "auto" in info.tool_choice:
        body["tool_choice"] = "auto"
    else:
        del body["tool_choice"]
    if body.get("tools"):
        body["messages"] = add_system_instruction(body["messages"], tool_call_instruction(name))
