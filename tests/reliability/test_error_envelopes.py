"""A 200 answer whose JSON body is an error envelope (GLM gateways send them) is that error.

It is raised as its typed error, streamed or not, on chat completions and embeddings; a code
that says the server is busy is retried like a 503, an error without a known code is not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from runapi_client import IncompleteStreamError, NotFoundError, RunAPIClient, ServerError
from tests.reliability.conftest import RetryLog
from tests.reliability.helpers import KEY, MODES, body, complete, stream
from tests.support.fake_runapi import FakeRunAPI, Fault

UNKNOWN_MODEL = json.dumps({"error": {"code": "1211", "message": "model does not exist"}})
OVERLOADED = json.dumps({"error": {"code": "1305", "message": "temporarily overloaded"}})


@pytest.mark.parametrize("mode", MODES)
def test_a_200_error_envelope_raises_its_typed_error_at_once(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    with pytest.raises(NotFoundError, match="model does not exist") as info:
        complete(mode, server, body())
    assert info.value.code == "1211"
    assert info.value.request_id  # from the response's x-request-id
    assert len(server.chat_requests) == 1  # 1211 is final, like a 404


@pytest.mark.parametrize("mode", MODES)
def test_a_200_error_envelope_with_a_transient_code_is_retried(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=OVERLOADED))
    result = complete(mode, server, body("retry me"))
    content = result.completion["choices"][0]["message"]["content"]
    assert content is not None and "retry me" in content
    assert len(server.chat_requests) == 2

    server.reset_state()
    server.enqueue(*[Fault.status(200, body=OVERLOADED)] * 3)
    with pytest.raises(ServerError, match="temporarily overloaded"):
        complete(mode, server, body(), max_retries=2)
    assert len(server.chat_requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_answered_with_a_json_error_raises_it(
    mode: str, server: FakeRunAPI, retry_log: RetryLog
) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    outcome = stream(mode, server, body())
    assert isinstance(outcome.error, NotFoundError), outcome.error
    assert not isinstance(outcome.error, IncompleteStreamError)
    assert "model does not exist" in str(outcome.error)
    assert outcome.chunks == []
    assert len(server.chat_requests) == 1

    server.reset_state()
    server.enqueue(Fault.status(200, body=OVERLOADED))
    outcome = stream(mode, server, body("after the overload"))
    assert outcome.error is None and outcome.result is not None
    assert "after the overload" in outcome.content
    assert len(server.chat_requests) == 2


def test_a_200_error_envelope_on_embeddings_raises_it(server: FakeRunAPI) -> None:
    server.enqueue(Fault.status(200, body=UNKNOWN_MODEL))
    client = RunAPIClient(base_url=server.base_url, api_key=KEY)
    with client, pytest.raises(NotFoundError):
        client.embeddings({"model": "embedding-3", "input": ["a"]})


def test_a_200_error_without_a_known_code_is_not_retried() -> None:
    import httpx

    from runapi_client import APIStatusError, BadRequestError, RunAPIClient, ServerError

    for answer, expected in (
        ({"error": "Bad input"}, APIStatusError),
        ({"error": {"message": "bad", "type": "invalid_request_error"}}, BadRequestError),
        ({"error": {"message": "busy", "type": "overloaded_error"}}, ServerError),
    ):
        sent: list[httpx.Request] = []

        def handler(
            request: httpx.Request, answer: dict[str, Any] = answer, sent: list[Any] = sent
        ) -> httpx.Response:
            sent.append(request)
            return httpx.Response(200, json=answer)

        client = RunAPIClient(api_key="k", transport=httpx.MockTransport(handler), max_retries=2)
        body = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(expected) as caught:
            client.chat_completion(body)
        retried = isinstance(caught.value, ServerError)
        assert len(sent) == (3 if retried else 1), (answer, len(sent))
        assert "retrying later" not in str(caught.value) or retried
