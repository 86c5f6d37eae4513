"""The usage records of a vcr cassette's chat calls, to check totals against the recorded truth.

Works while recording (the interactions just made) and on replay (those loaded from the file).
"""

from __future__ import annotations

import json
import os
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
    return float((prompt - cached) * 0.30 + cached * 0.06 + usage["completion_tokens"] * 1.10) / 1e6


# ------------------------------------------------------------------------------ stream shapes


def shape_headers(shape: str) -> dict[str, str] | None:
    """Ask the GLM emulator for ``shape`` when recording against it (a loopback base URL).

    Live, RunAPI sends its own shape and the header is not sent; on replay nothing is sent.
    """
    base_url = os.environ.get("RUNAPI_BASE_URL", "")
    if "127.0.0.1" in base_url or "localhost" in base_url:
        return {"X-Fake-Stream-Shape": shape}
    return None


def requested_shape(cassette: Any) -> str | None:
    """The shape the recording asked the emulator for; None if recorded live."""
    for request in cassette.requests:
        value = request.headers.get("X-Fake-Stream-Shape") or request.headers.get(
            "x-fake-stream-shape"
        )
        if value:
            return str(value[0] if isinstance(value, list) else value)
    return None


def recorded_shape(cassette: Any) -> str | None:
    """ "normalised" if a stream's usage came in a ``choices: []`` chunk, "native" if on a
    chunk with choices, None if no recorded stream carried usage."""
    for _, response in cassette.data:
        for line in _body_text(response).splitlines():
            if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                continue
            chunk = json.loads(line[5:])
            if chunk.get("usage"):
                return "native" if chunk.get("choices") else "normalised"
    return None


def check_shape(cassette: Any, shape: str) -> None:
    """Recorded against the emulator, the cassette must hold the shape the test is named for."""
    asked = requested_shape(cassette)
    if asked is not None:
        assert asked == shape
        assert recorded_shape(cassette) == shape
