"""Instructions sent as a system message where a request field cannot say it.

GLM accepts ``tool_choice="auto"`` only, so a forced tool choice is asked for in words instead
(:func:`tool_call_instruction`); both adapters send the same words. :func:`add_system_instruction`
puts an instruction into a wire request's ``messages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["TOOL_CALL_INSTRUCTION", "add_system_instruction", "tool_call_instruction"]

TOOL_CALL_INSTRUCTION = "Answer by calling one of the provided tools"


def tool_call_instruction(name: str | None = None) -> str:
    """What a forced ``tool_choice`` says on a model that cannot be forced: call a tool, the
    tool ``name`` when one was named."""
    if name:
        return f"{TOOL_CALL_INSTRUCTION}: call `{name}`."
    return f"{TOOL_CALL_INSTRUCTION}."


def add_system_instruction(messages: Sequence[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Wire ``messages`` with ``text`` added to the leading system message, or in a new one at
    the head: one system message, first, as some models refuse a second one. The list and the
    messages given are left unchanged."""
    out = list(messages)
    first: Mapping[str, Any] = out[0] if out else {}
    content = first.get("content")
    if first.get("role") == "system" and isinstance(content, str):
        out[0] = {**first, "content": f"{content}\n\n{text}" if content else text}
    elif first.get("role") == "system" and isinstance(content, list):
        out[0] = {**first, "content": [*content, {"type": "text", "text": text}]}
    else:
        out.insert(0, {"role": "system", "content": text})
    return out
