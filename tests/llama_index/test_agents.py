"""RunAPILLM inside LlamaIndex agents, replayed from cassettes (no network).

Recorded against the GLM emulator (tests/support/fake_runapi.py) with
``make record OFFLINE=1`` or ``python scripts/record_cassettes.py --offline tests/llama_index``.
Tests with a ``[native]``/``[normalised]`` id ask the emulator for that stream shape, and check
the cassette holds it; recorded live, both ids hold RunAPI's own shape.

The emulator calls a tool only when asked to (here: "Use the multiply tool", or a system prompt
saying so), with schema-derived arguments (integers from the text), answers a tool result with
"The tool returned: <result>", and echoes a plain prompt back.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)

from llama_index_runapi import RunAPILLM, track_usage
from tests.llama_index.cassette_usage import (
    check_shape,
    glm46_cost,
    recorded_shape,
    recorded_usages,
    shape_headers,
)

SHAPES = ["native", "normalised"]


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


def llm(shape: str | None = None) -> RunAPILLM:
    return RunAPILLM(model="glm-4.6", default_headers=shape_headers(shape) if shape else None)


async def run_and_collect(
    workflow: Any, message: str
) -> tuple[str, list[ToolCallResult], list[AgentStream]]:
    handler = workflow.run(user_msg=message)
    tool_results: list[ToolCallResult] = []
    streamed: list[AgentStream] = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            tool_results.append(event)
        elif isinstance(event, AgentStream):
            streamed.append(event)
    result = await handler
    return str(result), tool_results, streamed


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
async def test_function_agent_calls_a_tool_and_answers_from_it(shape: str, vcr: Any) -> None:
    agent = FunctionAgent(tools=[multiply], llm=llm(shape), system_prompt="Use the tools.")
    with track_usage() as usage:
        answer, tool_results, streamed = await run_and_collect(agent, "Multiply 3 by 3.")

    assert [(r.tool_name, r.tool_kwargs) for r in tool_results] == [("multiply", {"a": 3, "b": 3})]
    assert tool_results[0].tool_output.content == "9"
    assert "9" in answer  # the answer is built from the tool's result

    # Reasoning streamed as thinking deltas, never into the answer text.
    assert any(e.thinking_delta for e in streamed)
    assert all("I will call the tool" not in e.response for e in streamed)
    # The last streamed event carries the wire chunk with the usage, in either shape.
    check_shape(vcr, shape)
    last_raw = streamed[-1].raw
    assert last_raw is not None
    assert last_raw["usage"]
    if recorded_shape(vcr) == "normalised":
        assert last_raw["choices"] == []
    else:
        assert last_raw["choices"][0]["finish_reason"] == "stop"

    # Two LLM calls (tool call, then the answer), totalled with no callback manager involved.
    recorded = recorded_usages(vcr)
    assert usage.requests == len(recorded) == 2
    assert usage.prompt_tokens == sum(u["prompt_tokens"] for u in recorded)
    assert usage.completion_tokens == sum(u["completion_tokens"] for u in recorded)
    assert usage.total_cost == pytest.approx(sum(glm46_cost(u) for u in recorded))


@pytest.mark.vcr
async def test_function_agent_without_streaming() -> None:
    agent = FunctionAgent(tools=[multiply], llm=llm(), streaming=False)
    answer, tool_results, _ = await run_and_collect(agent, "Use the multiply tool: 3 by 3.")
    assert tool_results[0].tool_output.content == "9"
    assert "9" in answer


@pytest.mark.vcr
async def test_agent_workflow_picks_function_agent_and_answers() -> None:
    workflow = AgentWorkflow.from_tools_or_functions([multiply], llm=llm())
    (agent,) = workflow.agents.values()
    assert isinstance(agent, FunctionAgent)  # because metadata says the model calls tools
    answer, tool_results, _ = await run_and_collect(workflow, "Use the multiply tool: 3 by 3.")
    assert tool_results[0].tool_name == "multiply"
    assert "9" in answer


@pytest.mark.vcr
@pytest.mark.parametrize("shape", SHAPES)
async def test_react_agent_calls_a_tool_and_answers(shape: str, vcr: Any) -> None:
    # The emulator echoes the user's text, so the prompt scripts the model's ReAct step:
    # its echo is a Thought/Action/Action Input block, then the observation is echoed back.
    script = 'Thought: I need the multiply tool.\nAction: multiply\nAction Input: {"a": 6, "b": 7}'
    agent = ReActAgent(tools=[multiply], llm=llm(shape))
    answer, tool_results, _ = await run_and_collect(agent, script)
    check_shape(vcr, shape)
    assert [(r.tool_name, r.tool_kwargs) for r in tool_results] == [("multiply", {"a": 6, "b": 7})]
    assert "Observation: 42" in answer
