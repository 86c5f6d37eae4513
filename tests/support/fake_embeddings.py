"""A MockTransport answer for ``/embeddings``, shared by both adapters' embedding tests.

Vector ``[0]`` is ``len(text)``, so a test can tell which vector belongs to which text; the
data comes back in reverse order (with its ``index``), so a client that does not sort by index
hands vectors to the wrong texts.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class FakeEmbeddings:
    """Records each request body; answers ``status`` (an auth error body unless 200)."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status

    def answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "Invalid API key"}})
        dims = body.get("dimensions") or 4
        data = [
            {"index": i, "embedding": [float(len(t))] + [0.5] * (dims - 1)}
            for i, t in enumerate(body["input"])
        ]
        n = sum(len(t) for t in body["input"])
        usage = {"prompt_tokens": n, "total_tokens": n}
        answer = {"data": data[::-1], "model": body["model"], "usage": usage}
        return httpx.Response(200, json=answer)

    async def aanswer(self, request: httpx.Request) -> httpx.Response:
        return self.answer(request)

    def http_clients(self) -> dict[str, Any]:
        """``http_client``/``http_async_client`` keyword arguments answering through this."""
        return {
            "http_client": httpx.Client(transport=httpx.MockTransport(self.answer)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self.aanswer)),
        }
