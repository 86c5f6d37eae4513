"""Stream chunks -> the cumulative ``ChatResponse``s LlamaIndex expects, one per chunk.

Every chunk yields a response, whether it carries text, reasoning, tool-call deltas or only
usage; tool calls come from the core's accumulator (by index, ids and names set once).

Usage and cost go on the last response only. GLM sends usage once, on the finish chunk or in a
``choices: []`` chunk after it, but a gateway may repeat it or send a chunk after it; so once
usage has arrived the view holds each response back by one chunk, and the stream's end (or its
error) releases the last one with the final usage and cost. Before usage arrives nothing is held,
so text streams with no added delay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ContentBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)

from runapi_client import Cost, StreamAccumulator

from ._messages import response_kwargs, tool_call_blocks

__all__ = ["StreamView"]


class StreamView:
    """The responses of one stream: ``feed`` each chunk, then ``finish`` once it has ended."""

    __slots__ = (
        "_acc",
        "_calls",
        "_held",
        "_reasoning",
        "_request_id",
        "_text",
        "_tool_blocks",
    )

    def __init__(self, accumulator: StreamAccumulator) -> None:
        self._acc = accumulator
        self._text = ""
        self._reasoning = ""
        self._calls: list[dict[str, Any]] = []
        self._tool_blocks: list[ContentBlock] = []
        self._held: ChatResponse | None = None
        self._request_id: str | None = None

    def feed(self, chunk: Mapping[str, Any], request_id: str | None) -> ChatResponse | None:
        """The response to yield now: this chunk's, or once usage has arrived the one before
        (None for the first chunk held back)."""
        self._request_id = request_id
        response = self._response(chunk)
        if self._acc.usage is None:
            return response
        previous, self._held = self._held, response
        return previous

    def finish(self, cost: Cost | None, counts: Mapping[str, int] | None) -> ChatResponse | None:
        """The held last response, with the stream's usage, ``cost`` and token ``counts``
        (the core's, from when the usage arrived)."""
        last, self._held = self._held, None
        usage = self._acc.usage
        if last is None or usage is None:
            return last
        extra = response_kwargs(usage, cost, self._request_id, counts)
        if self._acc.finish_reason:
            extra["finish_reason"] = self._acc.finish_reason  # usage may come after the finish
        last.additional_kwargs.update(extra)
        if isinstance(last.raw, dict) and not last.raw.get("usage"):
            # TokenCountingHandler reads the last response's raw["usage"].
            last.raw = {**last.raw, "usage": usage}
        for block in last.message.blocks:
            if isinstance(block, ThinkingBlock):
                block.num_tokens = extra.get("reasoning_tokens") or None
        return last

    def _response(self, chunk: Mapping[str, Any]) -> ChatResponse:
        choices = chunk.get("choices") or ()
        choice: Mapping[str, Any] = next((c for c in choices if c.get("index", 0) == 0), {})
        delta = choice.get("delta") or {}
        text_delta = delta.get("content") or ""
        reasoning_delta = delta.get("reasoning_content") or ""
        self._text += text_delta
        self._reasoning += reasoning_delta
        if delta.get("tool_calls"):
            # The accumulator has folded this chunk in already: read its calls, not the delta.
            self._calls = [dict(c) for c in self._acc.tool_calls()]
            for call in self._calls:
                call.pop("index", None)
            self._tool_blocks = list(tool_call_blocks(self._calls))

        extra: dict[str, Any] = {}
        if reasoning_delta:
            extra["thinking_delta"] = reasoning_delta
        if choice.get("finish_reason"):
            extra["finish_reason"] = choice["finish_reason"]

        blocks: list[ContentBlock] = []
        if self._reasoning:
            blocks.append(ThinkingBlock(content=self._reasoning))
        blocks.append(TextBlock(text=self._text))
        blocks.extend(self._tool_blocks)
        message_kwargs: dict[str, Any] = {"tool_calls": list(self._calls)} if self._calls else {}
        return ChatResponse(
            message=ChatMessage(
                role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs
            ),
            delta=text_delta,
            raw=dict(chunk),
            additional_kwargs=extra,
        )
