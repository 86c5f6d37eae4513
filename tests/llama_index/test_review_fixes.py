"""Fixes from the LlamaIndex integration review, checked against the GLM emulator:
one tool call per streamed turn when parallel calls are off, the "call the tool" instruction
on streamed structured output, and constructor names that are not ours."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_runapi import ConfigurationError, RunAPILLM
from runapi_client.policy import TOOL_CALL_INSTRUCTION as REQUIRED_HINT
from tests.support.fake_runapi import FakeRunAPI


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(fn=add), FunctionTool.from_defaults(fn=mul)]
BOTH = "use add and mul on 2 and 5"  # the emulator calls every tool the user names, as GLM does


class Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


PROMPT = PromptTemplate("A joke about {topic}.")


def names(llm: RunAPILLM, response: ChatResponse) -> list[str]:
    return [c.tool_name for c in llm.get_tool_calls_from_response(response)]


# ------------------------------------------------------------ allow_parallel_tool_calls=False


def test_stream_keeps_the_first_tool_call_when_parallel_calls_are_off() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        responses = list(llm.stream_chat_with_tools(TOOLS, user_msg=BOTH))
        assert "parallel_tool_calls" not in fake.chat_requests[-1]["body"]  # GLM rejects it
        assert names(llm, responses[-1]) == ["add"]
        assert len(responses[-1].message.additional_kwargs["tool_calls"]) == 1
        assert all(
            len(llm.get_tool_calls_from_response(r, error_on_no_tool_call=False)) <= 1
            for r in responses
        )
        # Usage still arrives on the last response.
        assert responses[-1].additional_kwargs["total_tokens"] > 0

        allowed = list(
            llm.stream_chat_with_tools(TOOLS, user_msg=BOTH, allow_parallel_tool_calls=True)
        )
        assert names(llm, allowed[-1]) == ["add", "mul"]


async def test_astream_keeps_the_first_tool_call_when_parallel_calls_are_off() -> None:
    with FakeRunAPI(stream_shape="normalised") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        gen = await llm.astream_chat_with_tools(TOOLS, user_msg=BOTH)
        final = [r async for r in gen][-1]
        assert names(llm, final) == ["add"]
        gen = await llm.astream_chat_with_tools(
            TOOLS, user_msg=BOTH, allow_parallel_tool_calls=True
        )
        assert names(llm, [r async for r in gen][-1]) == ["add", "mul"]


async def test_function_agent_without_parallel_calls_runs_one_tool_per_step() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        agent = FunctionAgent(tools=TOOLS, llm=llm, allow_parallel_tool_calls=False)
        handler = agent.run(BOTH)
        first_step: list[str] = []
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult) and len(fake.chat_requests) == 1:
                first_step.append(event.tool_name)
        await handler
        assert first_step == ["add"]


# -------------------------------------------------- streamed structured output: the instruction


def hint_of(body: dict) -> str | None:
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else None


def test_stream_structured_predict_sends_the_instruction_non_streaming_sends() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url)
        llm.structured_predict(Joke, PROMPT, topic="cats")
        expected = hint_of(fake.chat_requests[-1]["body"])
        assert expected == f"{REQUIRED_HINT}: call `Joke`."  # the one tool, named

        partials = list(llm.stream_structured_predict(Joke, PROMPT, topic="cats"))
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
        gen = await llm.astream_structured_predict(Joke, PROMPT, topic="cats")
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
        list(llm.stream_structured_predict(Joke, PROMPT, topic="cats"))
        body = fake.chat_requests[-1]["body"]
        assert body["tool_choice"] == "required" and hint_of(body) is None


# ------------------------------------------------------------------ constructor names


def test_openai_style_names_are_accepted() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", api_base=fake.base_url, model_name="glm-4.7")
        assert (llm.base_url, llm.model) == (fake.base_url, "glm-4.7")
        llm.chat([ChatMessage(role="user", content="hi")])
        assert fake.chat_requests[-1]["body"]["model"] == "glm-4.7"
        # The same value twice is not a conflict.
        same = RunAPILLM(api_key="k", api_base=fake.base_url, base_url=fake.base_url)
        assert same.base_url == fake.base_url


@pytest.mark.parametrize(
    ("kwargs", "keep"),
    [
        ({"api_base": "http://a.test/v1", "base_url": "http://b.test/v1"}, "base_url"),
        ({"model_name": "glm-4.7", "model": "glm-4.6"}, "model"),
    ],
)
def test_an_alias_and_its_field_with_different_values_is_refused(
    kwargs: dict[str, str], keep: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"keep {keep}"):
        RunAPILLM(api_key="k", **kwargs)


def test_unknown_keyword_arguments_are_refused_with_the_closest_name() -> None:
    with pytest.raises(ConfigurationError, match=r"temprature.*did you mean 'temperature'"):
        RunAPILLM(api_key="k", temprature=0.2)
    with pytest.raises(ConfigurationError, match=r"request_timeout.*'timeout'") as info:
        RunAPILLM(api_key="k", request_timeout=5, zzz=1)
    assert "zzz" in str(info.value)


def test_round_trips_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    monkeypatch.setenv("RUNAPI_API_KEY", "sk-env")
    llm = RunAPILLM(
        api_base="http://a.test/v1",
        model_name="glm-4.7",
        temperature=0.3,
        system_prompt="Be brief.",
        max_tokens=100,
    )
    for again in (
        RunAPILLM.from_dict(llm.to_dict()),
        RunAPILLM.from_json(llm.to_json()),
        RunAPILLM(**llm.to_dict()),  # class_name included
        pickle.loads(pickle.dumps(llm)),
    ):
        assert again.to_dict() == llm.to_dict()
        assert again.base_url == "http://a.test/v1" and again.model == "glm-4.7"


def test_embedding_takes_other_names_and_refuses_two_different_models() -> None:
    from llama_index_runapi.embeddings import RunAPIEmbedding

    embedding = RunAPIEmbedding(api_key="k", model_name="emb-a", api_base="http://127.0.0.1:9")
    assert embedding.model_name == "emb-a"
    assert embedding.base_url == "http://127.0.0.1:9"
    assert RunAPIEmbedding(api_key="k", model="emb-a", model_name="emb-a").model_name == "emb-a"
    with pytest.raises(ConfigurationError, match="keep model only"):
        RunAPIEmbedding(api_key="k", model="emb-a", model_name="emb-b")
    with pytest.raises(ConfigurationError, match="keep base_url only"):
        RunAPIEmbedding(api_key="k", base_url="http://a:1", api_base="http://b:2")
