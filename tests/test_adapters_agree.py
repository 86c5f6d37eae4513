"""One behaviour in both adapters: each case of the model policy through ``ChatRunAPI`` and
``RunAPILLM`` side by side, against the GLM emulator over real sockets. The request each sends,
the warning each gives and the outcome each returns must be the same (docs/policy.md, "One
behaviour in both adapters")."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from llama_index.core.base.llms.types import ChatMessage, ThinkingBlock, ToolCallBlock
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from langchain_runapi import ChatRunAPI
from llama_index_runapi import RunAPILLM
from runapi_client import (
    ConfigurationError,
    ContextOverflowError,
    IncompleteStreamError,
    InsufficientCreditsError,
    NotFoundError,
    RedirectError,
    RunAPIError,
    UsageLimitError,
)
from runapi_client.policy import TOOL_CALL_INSTRUCTION
from tests.support import fake_runapi
from tests.support.fake_runapi import FakeRunAPI
from tests.support.scripted_glm import Answer

ADAPTERS = ["langchain", "llama_index"]


@pytest.fixture
def fake() -> Iterator[FakeRunAPI]:
    with FakeRunAPI(stream_shape="native") as server:
        yield server


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"Noon in {city}"


LC_TOOLS = [tool(get_weather), tool(get_time)]
LI_TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(get_time)]


class Weather(BaseModel):
    """A weather report."""

    city: str
    temperature: int


def model(adapter: str, fake: FakeRunAPI, **kwargs: Any) -> Any:
    settings = {"model": "glm-4.6", "api_key": "k", "base_url": fake.base_url, **kwargs}
    return ChatRunAPI(**settings) if adapter == "langchain" else RunAPILLM(**settings)


def last_body(fake: FakeRunAPI) -> dict[str, Any]:
    body: dict[str, Any] = fake.chat_requests[-1]["body"]
    return body


def tool_fields(body: dict[str, Any]) -> dict[str, Any]:
    first = body["messages"][0]
    return {
        "tools": [t["function"]["name"] for t in body.get("tools") or []],
        "tool_choice": body.get("tool_choice"),
        "parallel_tool_calls": body.get("parallel_tool_calls"),
        "instruction": first["content"] if first["role"] == "system" else None,
    }


def calls_of(adapter: str, answer: Any) -> list[str]:
    if adapter == "langchain":
        return [c["name"] for c in answer.tool_calls]
    return [b.tool_name for b in answer.message.blocks if isinstance(b, ToolCallBlock)]


def bind_and_ask(adapter: str, llm: Any, text: str, **options: Any) -> Any:
    if adapter == "langchain":
        return llm.bind_tools(LC_TOOLS, **options).invoke(text)
    if "parallel_tool_calls" in options:
        options["allow_parallel_tool_calls"] = options.pop("parallel_tool_calls")
    return llm.chat_with_tools(LI_TOOLS, user_msg=text, **options)


# ------------------------------------------------------------------------------ tool choice


def test_a_named_tool_choice_is_handled_the_same(fake: FakeRunAPI) -> None:
    seen = []
    for adapter in ADAPTERS:
        with pytest.warns(UserWarning) as caught:
            answer = bind_and_ask(adapter, model(adapter, fake), "hi", tool_choice="get_weather")
        messages = [str(w.message) for w in caught]
        assert any("tool_choice='get_weather' is sent as 'auto'" in m for m in messages)
        assert calls_of(adapter, answer) == ["get_weather"]  # asked in words, it calls
        seen.append(tool_fields(last_body(fake)))
    assert (
        seen[0]
        == seen[1]
        == {
            "tools": ["get_weather"],
            "tool_choice": "auto",
            "parallel_tool_calls": None,
            "instruction": f"{TOOL_CALL_INSTRUCTION}: call `get_weather`.",
        }
    )


def test_the_warning_quotes_what_was_written(fake: FakeRunAPI) -> None:
    with pytest.warns(UserWarning, match="tool_choice='any' is sent as 'auto'"):
        bind_and_ask("langchain", model("langchain", fake), "hi", tool_choice="any")
    with pytest.warns(UserWarning, match="tool_choice='required' is sent as 'auto'"):
        bind_and_ask("llama_index", model("llama_index", fake), "hi", tool_choice="required")


def test_tools_offered_but_not_asked_for_get_prose_in_both(fake: FakeRunAPI) -> None:
    for adapter in ADAPTERS:
        answer = bind_and_ask(adapter, model(adapter, fake), "Hello!")
        assert calls_of(adapter, answer) == []
        assert tool_fields(last_body(fake))["instruction"] is None


def test_parallel_calls_refused_keep_the_first_call_in_both(fake: FakeRunAPI) -> None:
    ask = "Call get_weather and get_time for 'Paris'."
    for adapter in ADAPTERS:
        answer = bind_and_ask(adapter, model(adapter, fake), ask, parallel_tool_calls=False)
        assert "parallel_tool_calls" not in last_body(fake)
        assert calls_of(adapter, answer) == ["get_weather"]
        allowed = bind_and_ask(adapter, model(adapter, fake), ask, parallel_tool_calls=True)
        assert calls_of(adapter, allowed) == ["get_weather", "get_time"]


# ------------------------------------------------------------------------ structured output


def structured(adapter: str, llm: Any, text: str) -> Any:
    if adapter == "langchain":
        return llm.with_structured_output(Weather).invoke(text)
    return llm.structured_predict(Weather, PromptTemplate(text))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_structured_output_asks_for_the_tool_in_words_without_a_warning(
    adapter: str, fake: FakeRunAPI
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = structured(adapter, model(adapter, fake), "The weather in 'Oslo'?")
    assert isinstance(out, Weather)
    fields = tool_fields(last_body(fake))
    assert fields["tools"] == ["Weather"] and fields["tool_choice"] == "auto"
    assert fields["instruction"] == f"{TOOL_CALL_INSTRUCTION}: call `Weather`."


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_json_text_instead_of_a_call_still_parses(
    adapter: str, stream: bool, fake: FakeRunAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(body: dict[str, Any]) -> Answer:  # a model that writes the JSON out instead
        return Answer(content='```json\n{"city": "Oslo", "temperature": 3}\n```', prompt_tokens=9)

    monkeypatch.setattr(fake_runapi, "answer", answer)
    llm = model(adapter, fake)
    if not stream:
        out = structured(adapter, llm, "Oslo?")
    elif adapter == "langchain":
        out = list(llm.with_structured_output(Weather).stream("Oslo?"))[-1]
    else:
        out = list(llm.stream_structured_predict(Weather, PromptTemplate("Oslo?")))[-1]
    assert out == Weather(city="Oslo", temperature=3)


# ------------------------------------------------------------------- reasoning in a tool loop


def test_the_reasoning_of_the_turn_in_progress_goes_back_in_both(fake: FakeRunAPI) -> None:
    call: dict[str, Any] = {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}
    lc_history = [
        HumanMessage("Earlier?"),
        AIMessage("Done.", additional_kwargs={"reasoning_content": "settled"}),
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[call], additional_kwargs={"reasoning_content": "need a tool"}),
        ToolMessage("Sunny", tool_call_id="call_1"),
    ]
    li_history = [
        ChatMessage(role="user", content="Earlier?"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="settled")], content="Done."),
        ChatMessage(role="user", content="Weather in Paris?"),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="need a tool"),
                ToolCallBlock(
                    tool_call_id="call_1", tool_name="get_weather", tool_kwargs=call["args"]
                ),
            ],
        ),
        ChatMessage(role="tool", content="Sunny", additional_kwargs={"tool_call_id": "call_1"}),
    ]
    model("langchain", fake).invoke(lc_history)
    lc_sent = last_body(fake)["messages"]
    model("llama_index", fake).chat(li_history)
    li_sent = last_body(fake)["messages"]
    reasoning = [[m.get("reasoning_content") for m in sent] for sent in (lc_sent, li_sent)]
    assert reasoning[0] == reasoning[1] == [None, None, None, "need a tool", None]


# ------------------------------------------------------------------------- construction


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_missing_key_is_the_same_error(adapter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNAPI_API_KEY", raising=False)
    cls = ChatRunAPI if adapter == "langchain" else RunAPILLM
    with pytest.raises(ConfigurationError, match="RUNAPI_API_KEY"):
        cls(model="glm-4.6")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_misspelt_keyword_is_caught_with_a_did_you_mean(adapter: str) -> None:
    cls = ChatRunAPI if adapter == "langchain" else RunAPILLM
    with pytest.raises(ConfigurationError, match="temprature \\(did you mean 'temperature'\\?\\)"):
        cls(api_key="k", temprature=0.2)
    llm = cls(api_key="k", frequency_penalty=0.5)  # a request field: sent in the body
    extra = llm.model_kwargs if isinstance(llm, ChatRunAPI) else llm.additional_kwargs
    assert extra == {"frequency_penalty": 0.5}


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_your_own_http_clients_have_the_ecosystem_names(
    adapter: str, fake: FakeRunAPI
) -> None:
    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async def ahook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    llm = model(
        adapter,
        fake,
        http_client=httpx.Client(event_hooks={"request": [hook]}),
        async_http_client=httpx.AsyncClient(event_hooks={"request": [ahook]}),
    )
    if adapter == "langchain":
        llm.invoke("hi")
        await llm.ainvoke("hi")
    else:
        llm.complete("hi")
        await llm.acomplete("hi")
    assert seen == ["/v1/chat/completions"] * 2


# ------------------------------------------------------------------------------- errors


def ask(adapter: str, llm: Any, *, stream: bool = False) -> Any:
    if adapter == "langchain":
        return list(llm.stream("hi")) if stream else llm.invoke("hi")
    message = [ChatMessage(role="user", content="hi")]
    return list(llm.stream_chat(message)) if stream else llm.chat(message)


@pytest.mark.parametrize(
    ("fault", "cls"),
    [("no_balance", InsufficientCreditsError), ("usage_cap", UsageLimitError)],
)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_provider_codes_decide_the_error_and_are_not_retried(
    adapter: str, fault: str, cls: type[RunAPIError], fake: FakeRunAPI
) -> None:
    llm = model(adapter, fake, default_headers={"X-Fake-Fault": fault})
    with pytest.raises(cls) as info:
        ask(adapter, llm)
    assert info.value.status_code == 429
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_stream_event_past_max_event_bytes_ends_the_stream(
    adapter: str, fake: FakeRunAPI
) -> None:
    # A chunk of the emulator's stream is a few hundred bytes: 64 is past it at once, and
    # nothing is retried (a 200 stream, read up to the limit).
    with pytest.raises(IncompleteStreamError, match=r"larger than 64 bytes.*max_event_bytes"):
        ask(adapter, model(adapter, fake, max_event_bytes=64), stream=True)
    assert len(fake.chat_requests) == 1
    for bad in (0, -1, 1.5, "16MB"):
        with pytest.raises((ConfigurationError, ValueError), match="max_event_bytes"):
            ask(adapter, model(adapter, fake, max_event_bytes=bad), stream=True)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_unknown_model_is_not_found(adapter: str, fake: FakeRunAPI) -> None:
    with pytest.raises(NotFoundError) as info:
        ask(adapter, model(adapter, fake, model="glm-does-not-exist"))
    assert info.value.status_code == 400 and info.value.code == "1211"


@pytest.mark.parametrize("form", ["event=error", "code=1305"])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_an_error_as_the_first_stream_event_is_retried(
    adapter: str, form: str, fake: FakeRunAPI
) -> None:
    llm = model(adapter, fake, default_headers={"X-Fake-Fault": f"error_event=0;{form};times=1"})
    chunks = ask(adapter, llm, stream=True)
    assert chunks and len(fake.chat_requests) == 2


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_gateways_prefixed_snapshot_and_its_cost_in_usage(adapter: str, fake: FakeRunAPI) -> None:
    llm = model(adapter, fake, default_headers={"X-Fake-Dialect": "gateway"})
    answer = ask(adapter, llm)
    if adapter == "langchain":
        metadata = answer.response_metadata
        assert metadata["model_name"].startswith("z-ai/glm-4.6-")
        cost, details = metadata["cost"], metadata["cost_details"]
    else:
        cost, details = answer.additional_kwargs["cost"], answer.additional_kwargs["cost_details"]
    assert details["source"] == "server" and cost > 0


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_redirect_is_reported_not_followed(adapter: str, fake: FakeRunAPI) -> None:
    llm = model(adapter, fake, default_headers={"X-Fake-Fault": "redirect=301"})
    with pytest.raises(RedirectError) as info:
        ask(adapter, llm)
    assert info.value.location and info.value.location.startswith("https://")
    assert len(fake.chat_requests) == 1


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_stream_labelled_json_is_read_as_a_stream(adapter: str, fake: FakeRunAPI) -> None:
    llm = model(adapter, fake, default_headers={"X-Fake-Fault": "sse_as_json"})
    chunks = ask(adapter, llm, stream=True)
    text = "".join(c.text for c in chunks) if adapter == "langchain" else chunks[-1].message.content
    assert "You said: hi" in text and len(fake.chat_requests) == 1


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_too_long_prompt_is_a_context_overflow(adapter: str, fake: FakeRunAPI) -> None:
    llm = model(adapter, fake, model="glm-4.5-air")
    long = "word " * 140_000
    with pytest.raises(ContextOverflowError):
        if adapter == "langchain":
            llm.invoke(long)
        else:
            llm.complete(long)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_json_schema_goes_to_glm_as_json_object_with_the_schema_in_words(
    adapter: str, fake: FakeRunAPI
) -> None:
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "W", "schema": Weather.model_json_schema()},
    }
    with pytest.warns(UserWarning, match="does not accept response_format json_schema"):
        if adapter == "langchain":
            model(adapter, fake).invoke("Oslo?", response_format=schema)
        else:
            model(adapter, fake).chat(
                [ChatMessage(role="user", content="Oslo?")], response_format=schema
            )
    body = last_body(fake)
    assert body["response_format"] == {"type": "json_object"}
    assert "JSON Schema" in body["messages"][0]["content"]


@pytest.mark.filterwarnings("ignore:No price known for model 'gpt-4o-mini'")  # none published
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_reasoning_off_reaches_glm_as_thinking_disabled(adapter: str, fake: FakeRunAPI) -> None:
    ask(adapter, model(adapter, fake, reasoning=False))
    assert last_body(fake)["thinking"] == {"type": "disabled"}
    with pytest.warns(UserWarning, match="no reasoning switch"):
        ask(adapter, model(adapter, fake, model="gpt-4o-mini", reasoning=True))
    assert "thinking" not in last_body(fake)
