"""The real GLM payloads the unit tests feed the clients.

tests/wire_samples/ is a copy of the project's shared wire samples (../shared/wire-samples/ beside
the checkout), kept in the repository so the suite runs from any clone; test_wire_samples.py
checks the copy still matches the original wherever the original is present.
"""

from __future__ import annotations

from pathlib import Path

import httpx

WIRE_SAMPLES = Path(__file__).resolve().parent.parent / "wire_samples"
SHARED_WIRE_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "wire-samples"


def wire_sample(name: str) -> bytes:
    return (WIRE_SAMPLES / name).read_bytes()


def snapshot(request: httpx.Request) -> httpx.Request:
    """A copy of a request as it was sent. The clients take the ``Authorization`` header off a
    request once it is sent (so no traceback can reach the key), so a test that looks at the
    headers afterwards keeps a copy taken inside the transport."""
    return httpx.Request(
        request.method, request.url, headers=request.headers.copy(), content=request.read()
    )
