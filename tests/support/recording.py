"""What every cassette recorder in the repository scrubs: the tests' (tests/conftest.py) and the
demo's (examples/demo.py). One list, so a recording made by either holds no credential.

The key travels in ``Authorization``; ``x-api-key``, an ``api_key`` query parameter and cookies
are scrubbed too, in case a proxy or a future endpoint uses them. Responses lose cookies and
per-edge tracing headers, which say nothing about the API and change on every recording.
"""

from __future__ import annotations

from typing import Any

FILTER_HEADERS = [
    ("authorization", "Bearer <redacted>"),
    ("x-api-key", "<redacted>"),
    ("cookie", None),
]
FILTER_QUERY_PARAMETERS = [("api_key", "<redacted>")]
_DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "cf-ray", "server-timing"})


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _DROPPED_RESPONSE_HEADERS:
            del headers[name]
    return response
