"""Fixes from the ChatRunAPI review (/tmp/review_langchain.md), one section per item.

Most run against the GLM emulator (``FakeRunAPI``); answers the emulator cannot give (tool
arguments as a JSON object, logprobs, an answer that does not fit a schema) come from the
scripted ``httpx.MockTransport`` in ``_mock``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, SecretStr
from typing_extensions import TypedDict

from langchain_runapi import ChatRunAPI, ConfigurationError, RunAPIEmbeddings
from langchain_runapi._messages import message_to_wire
from tests.support.fake_runapi import FakeRunAPI

from ._mock import ScriptedServer, sse


class Joke(BaseModel):
    setup: str
    punchline: str


class JokeDict(TypedDict):
    setup: str
    punchline: str


JOKE_SCHEMA = {
    "title": "Joke",
    "type": "object",
    "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
    "required": ["setup", "punchline"],
}

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
IMAGE_BLOCK = {"type": "image", "base64": PNG, "mime_type": "image/png"}
TOOL_TURN = [
    HumanMessage("take a screenshot"),
    AIMessage("", tool_calls=[{"name": "screenshot", "args": {}, "id": "c1"}]),
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as server:
        yield server


@pytest.fixture
def server() -> ScriptedServer:
    return ScriptedServer()


def llm_on(fake: FakeRunAPI, **kwargs: Any) -> ChatRunAPI:
    return ChatRunAPI(**{"model": "glm-4.6", "api_key": "k", "base_url": fake.base_url, **kwargs})


def collect(chunks: Iterator[AIMessageChunk]) -> AIMessageChunk:
    full: AIMessageChunk | None = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def completion(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "glm-4.6",
        "created": 1,
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message},
             **choice}
        ],
    }


# ------------------------------------------ item 3: response_format given as a schema


@pytest.mark.parametrize(
    "schema", [Joke, JokeDict, JOKE_SCHEMA], ids=["pydantic", "typeddict", "dict"]
)
def test_response_format_schema_goes_out_as_json_object_on_glm(
    fake: FakeRunAPI, schema: Any
) -> None:
    with pytest.warns(UserWarning, match="does not accept response_format json_schema"):
        msg = llm_on(fake).bind(response_format=schema).invoke("tell a joke")
    body = fake.chat_requests[-1]["body"]
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system" and '"punchline"' in system["content"]
    assert set(json.loads(msg.text)) == {"setup", "punchline"}
    if schema is Joke:  # as ChatOpenAI: the parsed object for a pydantic class only
        assert isinstance(msg.additional_kwargs["parsed"], Joke)
    else:
        assert "parsed" not in msg.additional_kwargs


def test_response_format_pydantic_per_call_and_async(fake: FakeRunAPI) -> None:
    llm = llm_on(fake)
    with pytest.warns(UserWarning):
        msg = llm.invoke("tell a joke", response_format=Joke)
        amsg = asyncio.run(llm.ainvoke("tell a joke", response_format=Joke))
    assert isinstance(msg.additional_kwargs["parsed"], Joke)
    assert isinstance(amsg.additional_kwargs["parsed"], Joke)


def test_response_format_pydantic_stream_puts_parsed_on_the_last_chunk(fake: FakeRunAPI) -> None:
    llm = llm_on(fake).bind(response_format=Joke)
    with pytest.warns(UserWarning):
        full = collect(llm.stream("tell a joke"))
        afull = asyncio.run(_acollect(llm, "tell a joke"))
    assert full.additional_kwargs["parsed"] == Joke.model_validate_json(full.text)
    assert isinstance(afull.additional_kwargs["parsed"], Joke)


async def _acollect(llm: Any, prompt: str) -> AIMessageChunk:
    full = None
    async for chunk in llm.astream(prompt):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full


def test_response_format_pydantic_native_json_schema_where_accepted(
    server: ScriptedServer,
) -> None:
    server.json(completion({"content": '{"setup": "a", "punchline": "b"}'}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no adaptation warning: the model takes json_schema
        msg = server.model(model="gpt-4o-mini").invoke("joke", response_format=Joke)
    sent = server.last["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "Joke"
    assert set(sent["json_schema"]["schema"]["properties"]) == {"setup", "punchline"}
    assert msg.additional_kwargs["parsed"] == Joke(setup="a", punchline="b")


def test_response_format_pydantic_answer_that_does_not_fit_parses_to_none(
    server: ScriptedServer,
) -> None:
    server.json(completion({"content": "Sorry, no joke today."}))
    with pytest.warns(UserWarning):
        msg = server.model().invoke("joke", response_format=Joke)
    assert msg.additional_kwargs["parsed"] is None
    assert msg.text == "Sorry, no joke today."  # the answer itself is kept


def test_response_format_wire_dicts_are_sent_as_given(server: ScriptedServer) -> None:
    server.json(completion({"content": "{}"}))
    server.model().invoke("x", response_format={"type": "json_object"})
    assert server.last["response_format"] == {"type": "json_object"}


# ------------------------------------------------------- item 4: images in tool results


def test_tool_image_on_text_only_model_is_refused_before_sending(fake: FakeRunAPI) -> None:
    before = len(fake.chat_requests)
    refused = r"'image_url' content part, but glm-4\.6 reads text only\. Use a vision model"
    for content in ([IMAGE_BLOCK], [{"type": "text", "text": "Here:"}, IMAGE_BLOCK]):
        with pytest.raises(ConfigurationError, match=refused):
            llm_on(fake).invoke([*TOOL_TURN, ToolMessage(content, tool_call_id="c1")])
    assert len(fake.chat_requests) == before


def test_tool_image_reaches_a_vision_model_as_an_image_url_part(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, model="glm-4.6v", price={"input": 0.3, "output": 0.9})
    content = [{"type": "text", "text": "Here is the screen:"}, IMAGE_BLOCK]
    llm.invoke([*TOOL_TURN, ToolMessage(content, tool_call_id="c1")])
    sent = fake.chat_requests[-1]["body"]["messages"][-1]
    assert sent == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": [
            {"type": "text", "text": "Here is the screen:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ],
    }


def test_tool_content_keeps_every_block() -> None:
    def wire(content: Any) -> Any:
        return message_to_wire(ToolMessage(content, tool_call_id="c1"))["content"]

    assert wire("plain") == "plain"
    assert wire([{"type": "text", "text": "a"}, "b"]) == "a\nb"
    # A non-text, non-media block goes as its JSON text instead of being dropped.
    assert wire([{"type": "text", "text": "rows:"}, {"type": "json", "json": {"n": 2}}]) == (
        'rows:\n{"type": "json", "json": {"n": 2}}'
    )


# ---------------------------------------- item 5: tool arguments as a JSON object


def test_invoke_accepts_tool_arguments_sent_as_an_object(server: ScriptedServer) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    server.json(completion({"content": "", "tool_calls": [call]}, finish_reason="tool_calls"))
    msg = server.model().invoke("weather in Paris?")
    assert msg.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    ]
    assert msg.invalid_tool_calls == []


# --------------------------------------------- item 6: changed settings, new client


def test_model_copy_and_assignment_follow_the_new_settings() -> None:
    with FakeRunAPI() as old, FakeRunAPI() as new:
        llm = ChatRunAPI(model="glm-4.6", api_key="key-A", base_url=old.base_url)
        llm.invoke("warm up")
        copy = llm.model_copy(update={"base_url": new.base_url, "api_key": SecretStr("key-B")})
        copy.invoke("to the new server")
        assert len(new.chat_requests) == 1
        assert new.chat_requests[-1]["headers"]["authorization"] == "Bearer key-B"

        llm.invoke("the original is unchanged")
        assert len(old.chat_requests) == 2
        assert old.chat_requests[-1]["headers"]["authorization"] == "Bearer key-A"

        llm.base_url = new.base_url
        asyncio.run(llm.ainvoke("after assignment"))
        llm.invoke("after assignment")
        assert len(new.chat_requests) == 3 and len(old.chat_requests) == 2

        llm.default_headers = {"X-Trace": "1"}
        llm.invoke("with a header")
        assert new.chat_requests[-1]["headers"]["x-trace"] == "1"
        llm.default_headers["X-Trace"] = "2"  # changed in place
        llm.invoke("with a changed header")
        assert new.chat_requests[-1]["headers"]["x-trace"] == "2"


@pytest.mark.parametrize(
    ("field", "value"), [("timeout", 5.0), ("max_retries", 0), ("api_key", SecretStr("other"))]
)
def test_client_is_reused_until_a_setting_changes(field: str, value: Any) -> None:
    llm = ChatRunAPI(api_key="k")
    client, aclient = llm.client, llm.async_client
    assert llm.client is client and llm.async_client is aclient
    setattr(llm, field, value)
    assert llm.client is not client and llm.async_client is not aclient
    assert llm.client is llm.client
    config = llm.client.config
    assert getattr(config, field) == value


def test_model_copy_without_changes_shares_the_client() -> None:
    llm = ChatRunAPI(api_key="k")
    client = llm.client
    assert llm.model_copy().client is client


# ------------------------------------------------------------------- item 8: logprobs

LOGPROBS = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]}


def test_logprobs_in_response_metadata_on_invoke(server: ScriptedServer) -> None:
    server.json(completion({"content": "Hi"}, logprobs=LOGPROBS))
    msg = server.model(model="gpt-4o-mini").invoke("hi", logprobs=True)
    assert server.last["logprobs"] is True
    assert msg.response_metadata["logprobs"] == LOGPROBS


def test_logprobs_in_response_metadata_on_stream(server: ScriptedServer) -> None:
    def token(text: str, logprob: float) -> dict[str, Any]:
        entry = {"token": text, "logprob": logprob, "bytes": list(text.encode()),
                 "top_logprobs": []}
        return {"id": "c1", "model": "gpt-4o-mini", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": text},
                             "logprobs": {"content": [entry]}}]}

    end = {"id": "c1", "model": "gpt-4o-mini", "object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    server.stream(sse(token("Hi", -0.1), token("!", -0.5), end))
    full = collect(server.model(model="gpt-4o-mini").stream("hi", logprobs=True))
    assert full.text == "Hi!"
    assert [t["token"] for t in full.response_metadata["logprobs"]["content"]] == ["Hi", "!"]


def test_no_logprobs_key_without_logprobs(server: ScriptedServer) -> None:
    server.json(completion({"content": "Hi"}))
    assert "logprobs" not in server.model().invoke("hi").response_metadata


# ----------------------------------------------- item 9: text parts joined by newlines


def test_text_parts_are_joined_with_newlines(fake: FakeRunAPI) -> None:
    def parts(*texts: str) -> list[str | dict[Any, Any]]:
        return [{"type": "text", "text": t} for t in texts]

    llm_on(fake).invoke(
        [
            SystemMessage(parts("You are terse.", "Answer in French.")),
            HumanMessage(parts("Translate:", "good morning")),
            AIMessage(parts("Bonjour", "!")),
            HumanMessage(["And:", {"type": "text", "text": "good night"}]),
        ]
    )
    sent = [m["content"] for m in fake.chat_requests[-1]["body"]["messages"]]
    assert sent == [
        "You are terse.\nAnswer in French.",
        "Translate:\ngood morning",
        "Bonjour\n!",
        "And:\ngood night",
    ]


def test_user_text_and_image_stay_a_parts_list_for_vision_models(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, model="glm-4.6v", price={"input": 0.3, "output": 0.9})
    llm.invoke([HumanMessage([{"type": "text", "text": "What is this?"}, IMAGE_BLOCK])])
    content = fake.chat_requests[-1]["body"]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url"]


# ------------------------------------------------------- item 10: stop as one string


def test_stop_accepts_a_single_string(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, stop="END")
    assert llm.stop == ["END"]
    assert ChatRunAPI(api_key="k", stop_sequences="END").stop == ["END"]
    llm.invoke("hi")
    assert fake.chat_requests[-1]["body"]["stop"] == ["END"]


# ------------------- item 7: construction errors are ConfigurationErrors that name the fix


@pytest.mark.parametrize("cls", [ChatRunAPI, RunAPIEmbeddings])
def test_construction_error_names_the_fix_and_never_the_key(
    cls: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY") as missing:
        cls()
    assert isinstance(missing.value, ValueError)  # `except ValueError` catches it
    with pytest.raises(ConfigurationError, match="timeout must be a positive number") as bad:
        cls(api_key="sk-very-secret", timeout=-1)
    assert "sk-very-secret" not in str(bad.value)


@pytest.mark.parametrize("name", ["openai_api_key", "openai_api_base", "api_base"])
def test_chat_openai_settings_are_refused_not_sent_in_the_body(name: str) -> None:
    from langchain_runapi import ChatRunAPI

    with pytest.raises(ConfigurationError, match=f"{name} is ChatOpenAI's setting") as caught:
        ChatRunAPI(api_key="k", **{name: "sk-openai-secret-value"})
    assert "sk-openai-secret-value" not in str(caught.value)
