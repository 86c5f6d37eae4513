"""The usage records of a vcr cassette's chat calls, to check totals against the recorded truth.

Works while recording (the interactions just made) and on replay (those loaded from the file).
"""

from __future__ import annotations

import json
from typing import Any


def _body_text(response: dict[str, Any]) -> str:
    body = response.get("body") or {}
    value = body.get("string", "")
    return value.decode() if isinstance(value, bytes) else str(value)


def recorded_usages(cassette: Any) -> list[dict[str, Any]]:
    """One usage dict per chat call in the cassette (JSON answers and SSE streams alike)."""
    usages = []
    for request, response in cassette.data:
        if not request.uri.endswith("/chat/completions"):
            continue
        text = _body_text(response)
        if text.lstrip().startswith("{"):
            usage = json.loads(text).get("usage")
        else:
            usage = None
            for line in text.splitlines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    chunk = json.loads(line[5:])
                    usage = chunk.get("usage") or usage
        if usage:
            usages.append(usage)
    return usages


def glm46_cost(usage: dict[str, Any]) -> float:
    """By hand: $0.30 in (uncached), $0.06 cache read, $1.10 out, per 1M tokens."""
    prompt = usage["prompt_tokens"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return ((prompt - cached) * 0.30 + cached * 0.06 + usage["completion_tokens"] * 1.10) / 1e6
