"""Stream deltas -> one completed message, whatever shape the stream takes.

GLM streams come in two shapes (see the wire samples): GLM-native (no ``object``, ``role`` in
every delta, usage on the finish chunk) and gateway-normalised (usage in a separate chunk with
``choices: []``). Tool calls may arrive whole in one delta or split over many, with the ``id``
and name only on the first. The accumulator accepts all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._types import ChatCompletion, ChatCompletionChunk, ToolCall, Usage
from .policy import normalize_delta

__all__ = ["StreamAccumulator", "completion_as_chunk"]


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id: str = ""
        self.name: str = ""
        self.type: str = "function"
        self.arguments: list[str] = []


class StreamAccumulator:
    """Fold chunks (choice 0) into a ``ChatCompletion``-shaped dict.

    ``add`` is called once per chunk and does only the work that chunk needs; the joins happen
    once, in ``completion()``.
    """

    __slots__ = (
        "_content",
        "_last_tool",
        "_reasoning",
        "_tools",
        "chunks",
        "created",
        "finish_reason",
        "id",
        "model",
        "saw_done",
        "single_tool_call",
        "system_fingerprint",
        "usage",
    )

    def __init__(self, *, single_tool_call: bool = False) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tools: dict[int, _ToolCallParts] = {}
        self._last_tool: int | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.system_fingerprint: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.saw_done = False
        self.chunks = 0
        # parallel_tool_calls=False on a model without the field: calls after the first are
        # dropped, from the accumulated answer and from the delta the caller gets alike.
        self.single_tool_call = single_tool_call

    @property
    def complete(self) -> bool:
        return self.saw_done or self.finish_reason is not None

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Fold one chunk in; raises TypeError/AttributeError on a chunk of the wrong shape."""
        self.chunks += 1
        if self.id is None:
            self.id = chunk.get("id")
            self.model = chunk.get("model")
            self.created = chunk.get("created")
        fingerprint = chunk.get("system_fingerprint")
        if fingerprint:
            self.system_fingerprint = fingerprint
        usage = chunk.get("usage")
        if usage:
            if not isinstance(usage, dict):
                raise TypeError(f"usage is {type(usage).__name__}, not an object")
            self.usage = usage
        choices = chunk.get("choices") or ()
        if not isinstance(choices, (list, tuple)):
            raise TypeError(f"choices is {type(choices).__name__}, not a list")
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue  # n > 1 is not requested by the adapters
            delta = choice.get("delta") or {}
            if "reasoning" in delta:
                normalize_delta(delta)  # type: ignore[arg-type]
            text = delta.get("content")
            if text:
                if text.__class__ is not str:
                    raise TypeError(f"content is {type(text).__name__}, not a string")
                self._content.append(text)
            reasoning = delta.get("reasoning_content")
            if reasoning:
                if reasoning.__class__ is not str:
                    raise TypeError(f"reasoning_content is {type(reasoning).__name__}")
                self._reasoning.append(reasoning)
            calls = delta.get("tool_calls")
            if calls:
                delta["tool_calls"] = self._add_tool_calls(calls)
            finish = choice.get("finish_reason")
            if finish:
                self.finish_reason = finish

    def _add_tool_calls(self, calls: list[Any]) -> list[Any]:
        """Fold tool-call deltas in; returns them with the slot each landed in as its
        ``index`` (a missing or negative index resolved), so the caller's view of the delta
        matches the accumulated calls. A call dropped by ``single_tool_call`` is left out."""
        kept = []
        for call in calls:
            index = call.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                index = self._index_of(call)  # missing, or -1 (seen in a real recording)
                call["index"] = index
            if self.single_tool_call and self._tools and index not in self._tools:
                continue
            kept.append(call)
            self._last_tool = index
            parts = self._tools.get(index)
            if parts is None:
                parts = self._tools[index] = _ToolCallParts()
            # id, name and type are set once, never concatenated: some servers repeat them
            if call.get("id") and not parts.id:
                parts.id = call["id"]
            if call.get("type"):
                parts.type = call["type"]
            function = call.get("function") or {}
            if function.get("name") and not parts.name:
                parts.name = function["name"]
            arguments = function.get("arguments")
            if arguments:
                parts.arguments.append(
                    arguments if isinstance(arguments, str) else _dumps(arguments)
                )
        return kept

    def _index_of(self, call: Any) -> int:
        """The slot of a call delta without ``index``: the call with its id, else a new call if
        it has an id or a new name, else the call being streamed (a continuation)."""
        call_id = call.get("id")
        if call_id:
            for i, parts in self._tools.items():
                if parts.id == call_id:
                    return i
        elif self._last_tool is not None:
            name = (call.get("function") or {}).get("name")
            if not name or name == self._tools[self._last_tool].name:
                return self._last_tool
        return max(self._tools, default=-1) + 1

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning_content(self) -> str:
        return "".join(self._reasoning)

    def tool_calls(self) -> list[ToolCall]:
        """The tool calls so far, by index; arguments may be partial JSON mid-stream."""
        return [
            {
                "id": p.id,
                "type": "function",
                "index": i,
                "function": {"name": p.name, "arguments": "".join(p.arguments)},
            }
            for i, p in sorted(self._tools.items())
        ]

    def completion(self) -> ChatCompletion:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self._reasoning:
            message["reasoning_content"] = self.reasoning_content
        if self._tools:
            message["tool_calls"] = self.tool_calls()
        result: dict[str, Any] = {
            "id": self.id or "",
            "object": "chat.completion",
            "created": self.created or 0,
            "model": self.model or "",
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": self.usage,
        }
        if self.system_fingerprint:
            result["system_fingerprint"] = self.system_fingerprint
        return result  # type: ignore[return-value]


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def completion_as_chunk(completion: Mapping[str, Any]) -> dict[str, Any]:
    """A whole completion as one stream chunk carrying every message as its delta.

    For a server that answers a stream request with a plain completion (a gateway route that
    ignores ``stream: true``): the caller still gets the answer, through the same stream code.
    Tool calls get the ``index`` a delta needs, in their order.
    """
    choices = []
    for position, choice in enumerate(completion.get("choices") or []):
        message = dict(choice.get("message") or {})
        calls = message.get("tool_calls")
        if calls:
            message["tool_calls"] = [
                {"index": i, **call} if "index" not in call else call
                for i, call in enumerate(calls)
            ]
        choices.append(
            {
                "index": choice.get("index", position),
                "delta": message,
                "finish_reason": choice.get("finish_reason"),
            }
        )
    chunk: dict[str, Any] = {
        key: completion[key] for key in ("id", "created", "model") if key in completion
    }
    chunk["object"] = "chat.completion.chunk"
    chunk["choices"] = choices
    if completion.get("usage"):
        chunk["usage"] = completion["usage"]
    return chunk
