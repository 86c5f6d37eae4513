from __future__ import annotations

import pytest

from runapi_client import ClientConfig, ConfigurationError, RunAPIClient, normalize_base_url


@pytest.mark.parametrize(
    "given",
    [
        "https://runapi.ai",
        "https://runapi.ai/",
        "https://runapi.ai/v1",
        "https://runapi.ai/v1/",
        " https://runapi.ai/v1// ",
    ],
)
def test_base_url_accepted_with_or_without_v1(given: str) -> None:
    assert normalize_base_url(given) == "https://runapi.ai/v1"


def test_base_url_keeps_port_and_prefix() -> None:
    assert normalize_base_url("http://127.0.0.1:8080/proxy/") == "http://127.0.0.1:8080/proxy/v1"


@pytest.mark.parametrize("bad", ["runapi.ai/v1", "ftp://runapi.ai", "", "https://"])
def test_base_url_not_http_is_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        normalize_base_url(bad)


def test_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY"):
        RunAPIClient()


def test_key_and_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNAPI_API_KEY", "env-key-123")
    monkeypatch.setenv("RUNAPI_BASE_URL", "http://localhost:9999")
    config = ClientConfig.resolve()
    assert config.api_key.get_secret_value() == "env-key-123"
    assert config.base_url == "http://localhost:9999/v1"


def test_argument_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNAPI_API_KEY", "env-key")
    config = ClientConfig.resolve(api_key="arg-key", base_url="https://example.test/v1")
    assert config.api_key.get_secret_value() == "arg-key"
    assert config.base_url == "https://example.test/v1"


def test_key_never_in_repr() -> None:
    secret = "sk-very-secret-value-0123456789"
    client = RunAPIClient(api_key=secret)
    assert secret not in repr(client)
    assert secret not in repr(client.config)
    assert secret not in str(client.config)


@pytest.mark.parametrize("timeout", [0, -1, True])
def test_bad_timeout(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        ClientConfig.resolve(api_key="k", timeout=timeout)


@pytest.mark.parametrize("retries", [-1, 1.5, True])
def test_bad_max_retries(retries: int) -> None:
    with pytest.raises(ConfigurationError, match="max_retries"):
        ClientConfig.resolve(api_key="k", max_retries=retries)


def test_equal_configs_share_a_pool() -> None:
    a = RunAPIClient(api_key="a", base_url="http://127.0.0.1:1/v1")
    b = RunAPIClient(api_key="b", base_url="http://127.0.0.1:1")
    assert a.http is b.http
    c = RunAPIClient(api_key="a", base_url="http://127.0.0.1:2")
    assert c.http is not a.http
    a.close()
    assert b.http is not None and not b.http.is_closed  # a fresh pool after close


@pytest.mark.parametrize("name", ["Authorization", "content-type", "ACCEPT"])
def test_headers_the_client_sets_cannot_be_replaced(name: str) -> None:
    with pytest.raises(ConfigurationError, match="default_headers may not set"):
        ClientConfig.resolve(api_key="k", default_headers={name: "x"})


def test_other_headers_pass() -> None:
    config = ClientConfig.resolve(api_key="k", default_headers={"X-Team": "data"})
    assert config.default_headers == (("X-Team", "data"),)
