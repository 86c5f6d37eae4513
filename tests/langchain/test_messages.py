"""How LangChain messages go on the wire: text parts joined by newlines, v1 content blocks
(reasoning as ``reasoning_content``), images as ``image_url`` parts for a vision model and in tool
results (refused before sending for a text-only model), tool content blocks kept, and reasoning
sent back on the tool-calling turns of the loop in progress only."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_runapi import ConfigurationError
from langchain_runapi._messages import message_to_wire
from tests.support.fake_runapi import FakeRunAPI

from ._mock import ScriptedServer, llm_on, sample

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
IMAGE_BLOCK = {"type": "image", "base64": PNG, "mime_type": "image/png"}
TOOL_TURN = [
    HumanMessage("take a screenshot"),
    AIMessage("", tool_calls=[{"name": "screenshot", "args": {}, "id": "c1"}]),
]


# ------------------------------------------------------------------------------------------- text


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


def test_v1_content_blocks_are_sent_as_text() -> None:
    msg = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "think"},
            {"type": "text", "text": "Hi"},
        ]
    )
    # The reasoning block goes as reasoning_content; whether it reaches the model is the
    # core's rule (policy.reasoning_history).
    assert message_to_wire(msg) == {
        "role": "assistant",
        "content": "Hi",
        "reasoning_content": "think",
    }
    human = HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert message_to_wire(human) == {"role": "user", "content": "a\nb"}  # not "ab"
    image = HumanMessage(
        content=[
            {"type": "text", "text": "What is it?"},
            {"type": "image", "url": "https://example.com/cat.png"},
        ]
    )
    assert message_to_wire(image)["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png"},
    }


# ----------------------------------------------------------------------------------------- images


def test_user_text_and_image_stay_a_parts_list_for_vision_models(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, model="glm-4.6v", price={"input": 0.3, "output": 0.9})
    llm.invoke([HumanMessage([{"type": "text", "text": "What is this?"}, IMAGE_BLOCK])])
    content = fake.chat_requests[-1]["body"]["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url"]


def test_tool_image_on_text_only_model_is_refused_before_sending(fake: FakeRunAPI) -> None:
    before = len(fake.chat_requests)
    refused = r"'image_url' content part, but glm-4\.6 reads text only\. Use a vision model"
    contents: list[list[str | dict[Any, Any]]] = [
        [IMAGE_BLOCK],
        [{"type": "text", "text": "Here:"}, IMAGE_BLOCK],
    ]
    for content in contents:
        with pytest.raises(ConfigurationError, match=refused):
            llm_on(fake).invoke([*TOOL_TURN, ToolMessage(content, tool_call_id="c1")])
    assert len(fake.chat_requests) == before


def test_tool_image_reaches_a_vision_model_as_an_image_url_part(fake: FakeRunAPI) -> None:
    llm = llm_on(fake, model="glm-4.6v", price={"input": 0.3, "output": 0.9})
    content: list[str | dict[Any, Any]] = [
        {"type": "text", "text": "Here is the screen:"},
        IMAGE_BLOCK,
    ]
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


# ----------------------------------------------------------------------- reasoning in a tool loop


def _tool_turn(call_id: str, reasoning: str) -> AIMessage:
    return AIMessage(
        content="",
        additional_kwargs={"reasoning_content": reasoning},
        tool_calls=[{"name": "w", "args": {}, "id": call_id, "type": "tool_call"}],
    )


def test_reasoning_goes_back_on_current_tool_loop_turns_only(server: ScriptedServer) -> None:
    history = [
        HumanMessage("Weather in Oslo?"),
        _tool_turn("c1", "earlier loop"),
        ToolMessage("cold", tool_call_id="c1"),
        AIMessage("Cold.", additional_kwargs={"reasoning_content": "final answer"}),
        HumanMessage("And Rome?"),
        _tool_turn("c2", "current loop"),
        ToolMessage("warm", tool_call_id="c2"),
    ]
    for _ in range(2):
        server.json(sample("glm-4.6.nonstream.json"))
    server.model().invoke(history)
    sent = [m.get("reasoning_content") for m in server.last["messages"]]
    # Only the tool-calling turn of the loop in progress: GLM needs it to carry on thinking;
    # the settled loop and the final answer would only cost input tokens.
    assert sent == [None, None, None, None, None, "current loop", None]

    server.model(model="gpt-4o-mini").invoke(history)  # a model that does not think
    assert all("reasoning_content" not in m for m in server.last["messages"])
