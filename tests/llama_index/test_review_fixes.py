"""Fixes from the LlamaIndex integration review, checked against the GLM emulator:
one tool call per streamed turn when parallel calls are off, and the "call the tool"
instruction on streamed structured output."""

from __future__ import annotations

from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_runapi import RunAPILLM
from llama_index_runapi._tools import REQUIRED_HINT
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
        gen = await llm.astream_chat_with_tools(TOOLS, user_msg=BOTH,
                                                allow_parallel_tool_calls=True)
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
        assert expected == f"{REQUIRED_HINT}."

        partials = list(llm.stream_structured_predict(Joke, PROMPT, topic="cats"))
        body = fake.chat_requests[-1]["body"]
        assert body["stream"] is True and hint_of(body) == expected
        assert "tool_choice" not in body  # GLM accepts "auto" only
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
        assert hint_of(fake.chat_requests[-1]["body"]) == f"{REQUIRED_HINT}."
        assert isinstance(partials[-1], Joke)

        structured = llm.as_structured_llm(Joke)
        agen = await structured.astream_chat([ChatMessage(role="user", content="joke")])
        [r async for r in agen]
        assert hint_of(fake.chat_requests[-1]["body"]) == f"{REQUIRED_HINT}."


def test_stream_structured_predict_asks_a_model_that_accepts_it_with_tool_choice() -> None:
    with FakeRunAPI(stream_shape="native") as fake:
        llm = RunAPILLM(api_key="k", base_url=fake.base_url, model="gpt-4o-mini")
        list(llm.stream_structured_predict(Joke, PROMPT, topic="cats"))
        body = fake.chat_requests[-1]["body"]
        assert body["tool_choice"] == "required" and hint_of(body) is None
