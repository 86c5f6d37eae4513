"""No frame of a failed call's traceback holds the API key, however deep one looks.

Error trackers (Sentry with its defaults), ``pytest --showlocals`` and
``traceback.TracebackException(capture_locals=True)`` record the locals of every frame a
failing call passed through. Each error kind (no connection, an HTTP error status, a stream cut
short, an error event in a stream, a timeout, a refused setting), sync and async, through the
core and both adapters: every frame of the traceback, of its causes and contexts, searched
through dicts, lists, objects' attributes, httpx requests and headers, for the key.
"""

from __future__ import annotations

import asyncio
import os
import traceback
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import AsyncRunAPIClient, ConfigurationError, RunAPIClient, RunAPIError
from tests.support.fake_runapi import FakeRunAPI

KEY = "sk-live-0123456789abcdefTRACEBACK"
BODY = {"model": "glm-4.6", "messages": [{"role": "user", "content": "hi"}]}

_SKIP = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, types.CodeType)


def _holds_key(obj: Any, seen: set[int], depth: int = 0) -> str | None:
    """Where in ``obj`` the key is found (a path), or None."""
    if depth > 25 or id(obj) in seen or isinstance(obj, _SKIP):
        return None
    seen.add(id(obj))
    if isinstance(obj, str):
        return "" if KEY in obj else None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "" if KEY.encode() in bytes(obj) else None
    if isinstance(obj, (int, float, bool, type(None))):
        return None
    children: list[tuple[str, Any]] = []
    if isinstance(obj, httpx.Headers):
        children = [(f"[{k!r}]", v) for k, v in obj.raw]
    elif isinstance(obj, dict):
        children = [(f"[{k!r}]", v) for k, v in list(obj.items())]
        children += [(f"<key {k!r}>", k) for k in list(obj)]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = [(f"[{i}]", v) for i, v in enumerate(list(obj))]
    else:
        if isinstance(obj, httpx.Request):
            children.append((".headers", obj.headers))
        attrs = getattr(obj, "__dict__", None)
        if isinstance(attrs, dict):
            children += [(f".{k}", v) for k, v in list(attrs.items())]
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot):
                    children.append((f".{slot}", getattr(obj, slot, None)))
    for name, child in children:
        found = _holds_key(child, seen, depth + 1)
        if found is not None:
            return name + found
    return None


def _exceptions(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [err]
    while stack:
        exc = stack.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        stack += [e for e in (exc.__cause__, exc.__context__) if e is not None]


def assert_no_key_in_frames(err: BaseException) -> None:
    for exc in _exceptions(err):
        assert KEY not in str(exc) and KEY not in repr(exc)
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            for name, value in frame.f_locals.items():
                if isinstance(value, pytest.MonkeyPatch):
                    continue  # the test's own environment, not the library's
                where = _holds_key(value, set())
                code = frame.f_code
                assert where is None, (
                    f"{type(exc).__name__}: frame {code.co_name} ({code.co_filename}:"
                    f"{frame.f_lineno}) local {name}{where} holds the key"
                )
        # What error trackers and --showlocals print: the reprs of the locals.
        text = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
        assert KEY not in text


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """One retry each (it must not leak the key either), without the backoff's half second."""
    import runapi_client._machine as machine

    monkeypatch.setattr(machine, "INITIAL_BACKOFF", 0.001)
    monkeypatch.setattr(machine, "MAX_BACKOFF", 0.002)


@pytest.fixture
def fake() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as server:
        yield server


def unreachable_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def caught(run: Callable[[], Any]) -> BaseException:
    try:
        run()
    except RunAPIError as exc:
        return exc
    raise AssertionError("no error raised")


async def acaught(run: Callable[[], Awaitable[Any]]) -> BaseException:
    try:
        await run()
    except RunAPIError as exc:
        return exc
    raise AssertionError("no error raised")


FAULTS = {
    "refused": None,  # nothing listens at the base URL
    "http-401": "status=401",
    "http-500": "status=500",
    "stream-cut": "cut_stream=3",
    "error-event": "error_event=3;code=1113",
    "timeout": "stall=1",
}


def settings(fault: str, fake: FakeRunAPI) -> dict[str, Any]:
    header = FAULTS[fault]
    return {
        "api_key": KEY,
        "base_url": unreachable_url() if header is None else fake.base_url,
        "max_retries": 1,
        "timeout": 0.15,
        "default_headers": {"X-Fake-Fault": header} if header else None,
    }


def _core_stream(client: RunAPIClient) -> None:
    with client.stream_chat_completion(BODY) as stream:
        for _ in stream:
            pass


async def _acore_stream(client: AsyncRunAPIClient) -> None:
    async with client.stream_chat_completion(BODY) as stream:
        async for _ in stream:
            pass


STREAM_ONLY = ("stream-cut", "error-event")


def cases() -> list[Any]:
    return [
        pytest.param(fault, stream, id=f"{fault}-{'stream' if stream else 'whole'}")
        for fault in FAULTS
        for stream in (False, True)
        if stream or fault not in STREAM_ONLY
    ]


@pytest.mark.parametrize(("fault", "stream"), cases())
def test_core_sync(fault: str, stream: bool, fake: FakeRunAPI) -> None:
    client = RunAPIClient(**settings(fault, fake))
    run = (lambda: _core_stream(client)) if stream else (lambda: client.chat_completion(BODY))
    assert_no_key_in_frames(caught(run))


@pytest.mark.parametrize(("fault", "stream"), cases())
async def test_core_async(fault: str, stream: bool, fake: FakeRunAPI) -> None:
    client = AsyncRunAPIClient(**settings(fault, fake))
    if stream:
        err = await acaught(lambda: _acore_stream(client))
    else:
        err = await acaught(lambda: client.chat_completion(BODY))
    assert_no_key_in_frames(err)
    await client.aclose()


@pytest.mark.parametrize(("fault", "stream"), cases())
def test_langchain(fault: str, stream: bool, fake: FakeRunAPI) -> None:
    llm = ChatRunAPI(model="glm-4.6", **settings(fault, fake))
    run = (lambda: list(llm.stream("hi"))) if stream else (lambda: llm.invoke("hi"))
    assert_no_key_in_frames(caught(run))

    async def arun() -> Any:
        return [c async for c in llm.astream("hi")] if stream else await llm.ainvoke("hi")

    assert_no_key_in_frames(asyncio.run(acaught(arun)))


@pytest.mark.parametrize(("fault", "stream"), cases())
def test_llama_index(fault: str, stream: bool, fake: FakeRunAPI) -> None:
    llm = RunAPILLM(model="glm-4.6", **settings(fault, fake))
    messages = [ChatMessage(role="user", content="hi")]
    run = (lambda: list(llm.stream_chat(messages))) if stream else (lambda: llm.chat(messages))
    assert_no_key_in_frames(caught(run))

    async def arun() -> Any:
        if stream:
            return [r async for r in await llm.astream_chat(messages)]
        return await llm.achat(messages)

    assert_no_key_in_frames(asyncio.run(acaught(arun)))


@pytest.mark.parametrize(
    "bad",
    [{"temperature": 9}, {"base_url": "ftp://nowhere"}, {"default_headers": {"X": "a\nb"}}],
    ids=["parameter", "base_url", "header"],
)
@pytest.mark.parametrize("cls", [RunAPIClient, ChatRunAPI, RunAPILLM])
@pytest.mark.parametrize("given", ["argument", "environment"])
def test_settings_refused_at_construction(
    cls: type, bad: dict[str, Any], given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if cls is RunAPIClient and "temperature" in bad:
        pytest.skip("the core client has no temperature setting")
    monkeypatch.setenv("RUNAPI_API_KEY", KEY)
    with pytest.raises(ValueError) as info:
        if given == "argument":  # the key read here, not held by this test's frame
            cls(api_key=os.environ["RUNAPI_API_KEY"], **bad)
        else:
            cls(**bad)
    assert_no_key_in_frames(info.value)


@pytest.mark.parametrize("key", ["sk-abc\ndef", "sk-clé-non-ascii", "sk with space"])
def test_a_key_that_cannot_be_sent_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot be sent") as info:
        RunAPIClient(api_key=key)
    assert key not in str(info.value) and key.split()[0][:6] not in str(info.value)
