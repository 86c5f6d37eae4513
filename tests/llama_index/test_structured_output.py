"""Structured prediction: ``structured_predict`` and its async and streamed twins, and
``as_structured_llm``, into a pydantic model. The schema goes out as a tool; GLM cannot be forced
to call it, so the request carries ``tool_choice="auto"`` and an instruction to call it, streamed
or not, while a model that takes ``tool_choice`` gets ``"required"`` and no instruction."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llama_index_runapi import RunAPILLM
from runapi_client.policy import TOOL_CALL_INSTRUCTION as REQUIRED_HINT
from tests.llama_index.helpers import (
    call_delta,
    chunk,
    json_response,
    make_llm,
    sse_of,
    sse_response,
    tool_call_completion,
)
from tests.support.fake_runapi import FakeRunAPI


class Song(BaseModel):
    """A song."""

    title: str
    length_seconds: int


PROMPT = PromptTemplate("Make up a song about {topic}.")


def test_structured_predict_into_a_pydantic_model() -> None:
    reply = tool_call_completion("Song", {"title": "Rain", "length_seconds": 180})
    llm, server = make_llm(json_response(reply))
    song = llm.structured_predict(Song, PROMPT, topic="rain")
    assert song == Song(title="Rain", length_seconds=180)
    body = server.body
    assert body["tools"][0]["function"]["name"] == "Song"
    assert body["tool_choice"] == "auto"  # the program requires a tool; GLM is asked in words
    assert body["messages"][0]["role"] == "system"


async def test_astructured_predict() -> None:
    reply = tool_call_completion("Song", {"title": "Sun", "length_seconds": 90})
    llm, _ = make_llm(json_response(reply))
    assert await llm.astructured_predict(Song, PROMPT, topic="sun") == Song(
        title="Sun", length_seconds=90
    )


def test_stream_structured_predict_into_a_pydantic_model() -> None:
    body = sse_of(
        chunk({"role": "assistant", "reasoning_content": "A song."}),
        chunk({"tool_calls": [call_delta(0, "call_s", "Song", '{"title": "Ra')]}),
        chunk({"tool_calls": [call_delta(0, None, None, 'in", "length_')]}),
        chunk({"tool_calls": [call_delta(0, None, None, 'seconds": 180}')]}, "tool_calls"),
    )
    llm, _ = make_llm(sse_response(body))
    partials = list(llm.stream_structured_predict(Song, PROMPT, topic="rain"))
    assert partials, "nothing streamed"
    final = partials[-1]
    assert isinstance(final, Song)
    assert final == Song(title="Rain", length_seconds=180)
    # A partial object (title known, length not yet) appeared before the end.
    assert any(
        getattr(p, "title", None) == "Rain" and getattr(p, "length_seconds", None) is None
        for p in partials[:-1]
    )


async def test_astream_structured_predict() -> None:
    body = sse_of(
        chunk({"tool_calls": [call_delta(0, "call_s", "Song", '{"title": "X", ')]}),
        chunk({"tool_calls": [call_delta(0, None, None, '"length_seconds": 5}')]}, "tool_calls"),
    )
    llm, _ = make_llm(sse_response(body))
    partials = [p async for p in await llm.astream_structured_predict(Song, PROMPT, topic="x")]
    assert partials[-1] == Song(title="X", length_seconds=5)


def test_as_structured_llm() -> None:
    reply = tool_call_completion("Song", {"title": "Snow", "length_seconds": 60})
    llm, _ = make_llm(json_response(reply))
    structured = llm.as_structured_llm(Song)
    response = structured.chat([ChatMessage(role="user", content="A song about snow")])
    assert response.raw == Song(title="Snow", length_seconds=60)


SONG_SSE = sse_of(
    chunk({"role": "assistant", "reasoning_content": "A song."}),
    chunk({"tool_calls": [call_delta(0, "call_s", "Song", '{"title": "Rain", ')]}),
    chunk({"tool_calls": [call_delta(0, None, None, '"length_seconds": 60}')]}, "tool_calls"),
)


def test_as_structured_llm_streams_partial_objects() -> None:
    llm, _ = make_llm(sse_response(SONG_SSE))
    structured = llm.as_structured_llm(Song)
    responses = list(structured.stream_chat([ChatMessage(role="user", content="A song")]))
    assert responses[-1].raw == Song(title="Rain", length_seconds=60)
    assert any(getattr(r.raw, "title", None) == "Rain" for r in responses[:-1])


async def test_as_structured_llm_astream() -> None:
    llm, _ = make_llm(sse_response(SONG_SSE))
    structured = llm.as_structured_llm(Song)
    gen = await structured.astream_chat([ChatMessage(role="user", content="A song")])
    responses = [r async for r in gen]
    assert responses[-1].raw == Song(title="Rain", length_seconds=60)


# ------------------------------- streamed or not, GLM is asked to call the schema's tool in words


class Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


JOKE_PROMPT = PromptTemplate("A joke about {topic}.")


def hint_of(body: dict[str, Any]) -> str | None:
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else None


def test_stream_structured_predict_sends_the_instruction_non_streaming_sends() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        llm.structured_predict(Joke, JOKE_PROMPT, topic="cats")
        expected = hint_of(fake.chat_requests[-1]["body"])
        assert expected == f"{REQUIRED_HINT}: call `Joke`."  # the one tool, named

        partials = list(llm.stream_structured_predict(Joke, JOKE_PROMPT, topic="cats"))
        body = fake.chat_requests[-1]["body"]
        assert body["stream"] is True and hint_of(body) == expected
        assert body["tool_choice"] == "auto"  # GLM accepts "auto" only
        assert isinstance(partials[-1], Joke)

        structured = llm.as_structured_llm(Joke)
        responses = list(structured.stream_chat([ChatMessage(role="user", content="joke")]))
        assert hint_of(fake.chat_requests[-1]["body"]) == expected
        assert isinstance(responses[-1].raw, Joke)


async def test_astream_structured_predict_sends_the_instruction() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        gen = await llm.astream_structured_predict(Joke, JOKE_PROMPT, topic="cats")
        partials = [p async for p in gen]
        assert hint_of(fake.chat_requests[-1]["body"]) == f"{REQUIRED_HINT}: call `Joke`."
        assert isinstance(partials[-1], Joke)

        structured = llm.as_structured_llm(Joke)
        agen = await structured.astream_chat([ChatMessage(role="user", content="joke")])
        [r async for r in agen]
        assert hint_of(fake.chat_requests[-1]["body"]) == f"{REQUIRED_HINT}: call `Joke`."


def test_stream_structured_predict_asks_a_model_that_accepts_it_with_tool_choice() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(
            api_key="k",
            base_url=fake.base_url,
            model="gpt-4o-mini",
            price={"input": 0.15, "output": 0.60},
        )
        list(llm.stream_structured_predict(Joke, JOKE_PROMPT, topic="cats"))
        body = fake.chat_requests[-1]["body"]
        assert body["tool_choice"] == "required" and hint_of(body) is None
