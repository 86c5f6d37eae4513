"""Tools: LangChain's tool objects -> the wire's tool dicts.

What a model does with a ``tool_choice`` it cannot take (GLM accepts ``"auto"`` only) is the
core's rule (``runapi_client.policy``), the same for ``RunAPILLM``: the choice is bound as the
caller wrote it, checked here against the tools, and adapted when the request is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from runapi_client.policy import normalize_tool_choice

__all__ = ["ToolLike", "check_tool_choice", "format_tools"]

ToolLike = dict[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool


def format_tools(tools: Sequence[ToolLike], *, strict: bool | None = None) -> list[dict[str, Any]]:
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def check_tool_choice(
    tool_choice: dict[str, Any] | str | bool | None, tools: Sequence[dict[str, Any]]
) -> dict[str, Any] | str | bool | None:
    """``tool_choice`` as written (``"any"``, ``True``, a tool's name...), after checking it
    against ``tools`` now, at ``bind_tools``, rather than at the first call; None (or False)
    leaves it unset."""
    if tool_choice is None or tool_choice is False:
        return None
    normalize_tool_choice(tool_choice, tools)  # raises a ConfigurationError (a ValueError)
    return tool_choice
