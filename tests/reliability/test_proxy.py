"""Proxies from the environment: ``HTTP(S)_PROXY``/``ALL_PROXY`` are honoured, ``NO_PROXY`` too.

The pools hand httpx a transport of their own, and httpx reads proxy variables only for a
client whose transport it builds itself, so without the pool reading them a user behind a
corporate proxy could not reach RunAPI at all (the OpenAI SDK can). The "proxy" here is a small
forwarding proxy on 127.0.0.1 in front of the emulator; the API host ``runapi.test`` is never
resolved, so a request that skipped the proxy fails to connect.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import urlsplit

import pytest

from runapi_client import AsyncRunAPIClient, ConfigurationError, RunAPIClient, _pool
from runapi_client.errors import APIConnectionError
from tests.reliability.helpers import KEY, body
from tests.support.fake_runapi import FakeRunAPI

BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "What is 2 + 3?"}]}


class _ForwardProxy:
    """An HTTP forward proxy: takes absolute-form requests, sends them on to one origin."""

    def __init__(self, origin: str) -> None:
        self.seen: list[tuple[str, str, str | None]] = []  # method, target, Authorization
        target = urlsplit(origin)
        host = cast(str, target.hostname)  # the origin is an http:// URL: it has a host
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy.seen.append(("POST", self.path, self.headers.get("Authorization")))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection(host, target.port, timeout=10)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    upstream.request("POST", urlsplit(self.path).path, body, headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def proxy(server: FakeRunAPI) -> Iterator[_ForwardProxy]:
    with _ForwardProxy(server.base_url) as forward:
        yield forward


@pytest.fixture
def proxied_env(monkeypatch: pytest.MonkeyPatch, proxy: _ForwardProxy) -> _ForwardProxy:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    return proxy


def test_sync_calls_and_streams_go_through_the_proxy(proxied_env: _ForwardProxy) -> None:
    with RunAPIClient(api_key="sk-proxy", base_url="http://runapi.test:8001", max_retries=0) as c:
        assert _pool.direct_transport(c.http) is not None  # the fast path stays on
        answer = c.chat_completion(BODY).completion["choices"][0]["message"]["content"]
        assert answer is not None and "You said" in answer
        streamed = "".join(
            choice.get("delta", {}).get("content") or ""
            for chunk in c.stream_chat_completion(BODY)
            for choice in chunk.get("choices", [])
        )
        assert "You said" in streamed
    assert (
        proxied_env.seen
        == [
            ("POST", "http://runapi.test:8001/v1/chat/completions", "Bearer sk-proxy"),
        ]
        * 2
    )


def test_async_calls_go_through_the_proxy(proxied_env: _ForwardProxy) -> None:
    async def run() -> str:
        client = AsyncRunAPIClient(
            api_key="sk-proxy", base_url="http://runapi.test:8002", max_retries=0
        )
        try:
            result = await asyncio.gather(*(client.chat_completion(BODY) for _ in range(3)))
        finally:
            await client.aclose()
        return str(result[0].completion["choices"][0]["message"]["content"])

    assert "You said" in asyncio.run(run())
    assert [target for _, target, _ in proxied_env.seen] == [
        "http://runapi.test:8002/v1/chat/completions"
    ] * 3


def test_no_proxy_sends_straight_to_the_host(
    proxied_env: _ForwardProxy, server: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with RunAPIClient(api_key="sk-direct", base_url=server.base_url, max_retries=0) as c:
        assert _pool.direct_transport(c.http) is not None
        direct = c.chat_completion(BODY).completion["choices"][0]["message"]["content"]
        assert direct is not None and "You said" in direct
    assert proxied_env.seen == []


def test_without_a_proxy_the_unresolvable_host_fails_to_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The control for the tests above: runapi.test is only reachable through the proxy.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with (
        RunAPIClient(api_key="k", base_url="http://runapi.test:8003", max_retries=0) as c,
        pytest.raises(APIConnectionError),
    ):
        c.chat_completion(BODY)


def test_the_adapters_use_the_proxy(proxied_env: _ForwardProxy) -> None:
    from llama_index.core.llms import ChatMessage

    from langchain_runapi import ChatRunAPI
    from llama_index_runapi import RunAPILLM

    chat = ChatRunAPI(model="glm-4.6", api_key="sk-lc", base_url="http://runapi.test:8004")
    assert "You said" in str(chat.invoke("What is 2 + 3?").content)
    llm = RunAPILLM(model="glm-4.6", api_key="sk-li", base_url="http://runapi.test:8005")
    assert "You said" in str(
        llm.chat([ChatMessage(role="user", content="What is 2 + 3?")]).message.content
    )
    assert [(t, a) for _, t, a in proxied_env.seen] == [
        ("http://runapi.test:8004/v1/chat/completions", "Bearer sk-lc"),
        ("http://runapi.test:8005/v1/chat/completions", "Bearer sk-li"),
    ]


# ---------------------------------------- NO_PROXY entries with a port; malformed proxy variables


_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("no_proxy", "base_url", "proxied"),
    [  # as httpx.Client() and requests decide
        ("127.0.0.1:8080", "http://127.0.0.1:8080/v1", False),
        ("localhost:8080", "http://localhost:8080/v1", False),
        ("127.0.0.1:9999", "http://127.0.0.1:8080/v1", True),
        ("127.0.0.1", "http://127.0.0.1:8080/v1", False),
        ("other:1,127.0.0.1:8080", "http://127.0.0.1:8080/v1", False),
        ("runapi.ai:443", "https://runapi.ai/v1", True),  # a default port is not matched
        ("::1", "http://[::1]:8080/v1", False),
    ],
)
def test_no_proxy_entries_with_a_port_match_as_in_httpx(
    proxy_env: pytest.MonkeyPatch, no_proxy: str, base_url: str, proxied: bool
) -> None:
    proxy_env.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    proxy_env.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    proxy_env.setenv("NO_PROXY", no_proxy)
    assert (_pool.env_proxy(base_url) is not None) == proxied


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTPS_PROXY", "http://user:s3cretpw@proxy.invalid:notaport"),
        ("https_proxy", "ftp://user:s3cretpw@proxy.invalid:21"),
        ("ALL_PROXY", "http://user:s3cretpw@[::1"),
    ],
)
def test_a_malformed_proxy_variable_is_a_configuration_error_naming_it(
    proxy_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    proxy_env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name) as info:
        _pool.env_proxy("https://runapi.example/v1")
    assert "s3cretpw" not in str(info.value)
    client = RunAPIClient(api_key=KEY, base_url="https://runapi.example/v1", timeout=1.25)
    with pytest.raises(ConfigurationError, match=name) as info:
        client.chat_completion(body())
    assert "s3cretpw" not in str(info.value)
