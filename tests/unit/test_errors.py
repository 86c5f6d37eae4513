from __future__ import annotations

import pickle

import pytest

from runapi_client import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunAPIError,
    ServerError,
    error_from_response,
    parse_error_body,
)
from runapi_client.errors import error_from_stream_payload, parse_retry_after


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, BadRequestError),
        (413, BadRequestError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, BadRequestError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[RunAPIError]) -> None:
    err = error_from_response(status, {}, b'{"error": "x"}')
    assert type(err) is cls
    assert err.status_code == status
    assert isinstance(err, APIStatusError)


def test_openai_envelope() -> None:
    body = b'{"error": {"message": "Invalid API key", "type": "authentication_error", "param": null, "code": "invalid_api_key"}}'  # noqa: E501
    err = error_from_response(401, {"x-request-id": "req-1"}, body)
    assert isinstance(err, AuthenticationError)
    assert err.code == "invalid_api_key"
    assert err.request_id == "req-1"
    assert "Invalid API key" in str(err)
    assert "RUNAPI_API_KEY" in str(err)  # says what to do
    assert "req-1" in str(err)


def test_runapi_string_envelope() -> None:
    err = error_from_response(400, {}, b'{"error": "Bad input"}')
    assert err.message.startswith("RunAPI answered HTTP 400: Bad input")


def test_runapi_validation_details() -> None:
    err = error_from_response(
        422, {}, b'{"error": "Validation failed", "errors": {"prompt": ["is required"]}}'
    )
    assert isinstance(err, BadRequestError)
    assert "Validation failed: prompt is required" in str(err)


def test_runapi_object_envelope_rate_limit_with_retry_after() -> None:
    err = error_from_response(
        429, {"Retry-After": "2"}, b'{"error": {"code": "rate_limited", "message": "failed"}}'
    )
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 2.0
    assert err.code == "rate_limited"


def test_lowercase_retry_after() -> None:
    import httpx

    headers = httpx.Headers({"retry-after": "2"})
    err = error_from_response(429, headers, b'{"error": "Too many requests"}')
    assert isinstance(err, RateLimitError) and err.retry_after == 2.0


def test_no_channel_503() -> None:
    err = error_from_response(503, {}, b'{"error": "No active channel available"}')
    assert isinstance(err, ServerError)
    assert "No active channel available" in str(err)


def test_not_found_pricing_context() -> None:
    err = error_from_response(
        404,
        {},
        b'{"error": {"code": "protected_pricing_context_not_found", "message": "Protected pricing context not found"}}',  # noqa: E501
    )
    assert isinstance(err, NotFoundError)
    assert err.code == "protected_pricing_context_not_found"


def test_html_gateway_page() -> None:
    body = (
        b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )
    err = error_from_response(502, {}, body)
    assert isinstance(err, ServerError)
    assert "HTML page (502 Bad Gateway)" in str(err)


@pytest.mark.parametrize("body", [b"", b"   ", b"null"])
def test_empty_bodies(body: bytes) -> None:
    err = error_from_response(500, {}, body)
    assert isinstance(err, ServerError)
    assert "500" in str(err)


def test_zai_numeric_codes() -> None:
    err = error_from_response(
        400, {}, '{"error": {"code": "1211", "message": "模型不存在，请检查模型代码。"}}'.encode()
    )
    assert err.code == "1211"
    assert "模型不存在" in str(err)
    overloaded = error_from_stream_payload(
        {"error": {"code": "1305", "message": "The service may be temporarily overloaded"}}
    )
    assert isinstance(overloaded, ServerError)
    assert overloaded.code == "1305"


def test_plain_text_body() -> None:
    message, code, _ = parse_error_body(b"upstream connect error")
    assert message == "upstream connect error" and code is None


def test_retry_after_http_date_and_ms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None


def test_errors_pickle() -> None:
    err = error_from_response(429, {"retry-after": "3"}, b'{"error": "slow down"}')
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is RateLimitError
    assert again.retry_after == 3.0 and again.status_code == 429 and str(again) == str(err)


def test_error_as_a_list_gives_its_first_error() -> None:
    from runapi_client.errors import parse_error_body as parse

    body = b'{"error": [{"message": "bad thing", "code": "x"}, {"message": "2"}]}'
    message, code, _ = parse(body)
    assert (message, code) == ("bad thing", "x")
    message, code, _ = parse(b'[{"error": {"message": "bad thing", "code": "x"}}]')
    assert (message, code) == ("bad thing", "x")
