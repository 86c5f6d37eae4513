"""RunAPILLM over httpx.MockTransport, fed the real GLM wire samples (no sockets)."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

import llama_index_runapi
import runapi_client
from llama_index_runapi import (
    IncompleteStreamError,
    Price,
    RunAPILLM,
    ServerError,
    track_usage,
)
from tests.llama_index.helpers import json_response, make_llm, sample, sse_response

USER = [ChatMessage(role="user", content="Hi")]

# glm-4.6: $0.30 in / $1.10 out / $0.06 cache read per 1M; prompt_tokens includes cached ones.
COST_NONSTREAM = (81 - 6) * 0.30e-6 + 186 * 1.10e-6 + 6 * 0.06e-6  # 0.00022746
COST_NATIVE = (6074 - 43) * 0.30e-6 + 15 * 1.10e-6 + 43 * 0.06e-6  # 0.00182838
COST_NORMALISED = (9 - 7) * 0.30e-6 + 1024 * 1.10e-6 + 7 * 0.06e-6  # 0.00112742
# glm-4.7: 160 in, 78 out of which 56 reasoning (inside completion_tokens, billed as output).
COST_TOOLS_REASONING = 160 * 0.30e-6 + 78 * 1.10e-6  # 0.0001338


# --------------------------------------------------------------------------------- non-stream


def test_chat_plain_answer_usage_and_cost() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    response = llm.chat(USER)

    assert response.message.role == MessageRole.ASSISTANT
    # GLM's leading newline is kept as sent: the text is the model's, byte for byte.
    assert response.message.content == (
        "\nHello! I'm here to help you with your PostgreSQL queries. (shortened)"
    )
    extra = response.additional_kwargs
    assert extra["prompt_tokens"] == 81
    assert extra["completion_tokens"] == 186
    assert extra["total_tokens"] == 267
    assert extra["cache_read_tokens"] == 6
    assert extra["reasoning_tokens"] == 0
    assert extra["cost"] == pytest.approx(COST_NONSTREAM)
    assert extra["cost"] == pytest.approx(0.00022746)
    assert extra["cost_details"]["cache_read"] == pytest.approx(6 * 0.06e-6)
    assert extra["request_id"] == "req-test"
    assert extra["finish_reason"] == "stop"
    assert isinstance(response.raw, dict)
    assert response.raw["usage"]["prompt_tokens"] == 81

    body = server.body
    assert body["model"] == "glm-4.6"
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    # Nothing the user did not ask for: the model's defaults stand.
    for field in ("temperature", "max_tokens", "thinking", "stream", "tools", "tool_choice"):
        assert field not in body
    assert server.requests[0].url == "https://runapi.ai/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == "Bearer sk-test-secret-123"


def test_chat_reasoning_text_and_tool_call() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    response = llm.chat(USER)

    blocks = response.message.blocks
    assert [type(b) for b in blocks] == [ThinkingBlock, TextBlock, ToolCallBlock]
    assert blocks[0].content == "User wants weather."
    assert blocks[0].num_tokens == 56
    assert response.message.content == "I'll check the weather."  # reasoning never mixed in
    call = blocks[2]
    assert call.tool_call_id == "call_-7682507267639338722"
    assert call.tool_name == "get_weather"
    assert call.tool_kwargs == {"city": "Paris"}
    assert response.message.additional_kwargs["tool_calls"] == [
        {
            "id": "call_-7682507267639338722",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert response.additional_kwargs["reasoning_tokens"] == 56
    assert response.additional_kwargs["cost"] == pytest.approx(COST_TOOLS_REASONING)


async def test_achat_is_async_and_matches_sync() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    response = await llm.achat(USER)
    assert response.message.content.startswith("\nHello!")
    assert response.additional_kwargs["cost"] == pytest.approx(COST_NONSTREAM)
    assert len(server.requests) == 1


def test_complete_and_acomplete() -> None:
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    completion = llm.complete("Weather in Paris?")
    assert completion.text == "I'll check the weather."
    assert completion.additional_kwargs["thinking"] == "User wants weather."
    assert completion.additional_kwargs["total_tokens"] == 238
    assert server.body["messages"] == [{"role": "user", "content": "Weather in Paris?"}]


async def test_acomplete() -> None:
    llm, _ = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    completion = await llm.acomplete("Hi")
    assert completion.text.startswith("\nHello!")
    assert completion.additional_kwargs["cost"] == pytest.approx(COST_NONSTREAM)


# ------------------------------------------------------------------------------------ streams


def test_stream_native_shape() -> None:
    llm, server = make_llm(sse_response(sample("glm-4.6.stream-native.sse")))
    responses = list(llm.stream_chat(USER))

    assert [r.delta for r in responses] == [" today", "?", ""]
    assert [r.message.content for r in responses] == [" today", " today?", " today?"]
    last = responses[-1]
    assert last.additional_kwargs["prompt_tokens"] == 6074
    assert last.additional_kwargs["cache_read_tokens"] == 43
    assert last.additional_kwargs["cost"] == pytest.approx(COST_NATIVE)
    assert last.additional_kwargs["finish_reason"] == "stop"
    assert last.raw["usage"]["total_tokens"] == 6089
    assert "cost" not in responses[0].additional_kwargs
    body = server.body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def _check_normalised(responses: list[ChatResponse]) -> None:
    # The two reasoning-only chunks come first and are yielded, not skipped.
    assert len(responses) == 5
    assert [r.additional_kwargs.get("thinking_delta") for r in responses[:2]] == ["\n", "1"]
    assert [r.delta for r in responses] == ["", "", "模型", "", ""]
    first = responses[0].message
    assert isinstance(first.blocks[0], ThinkingBlock)
    assert first.blocks[0].content == "\n"
    final = responses[-1]
    thinking, text = final.message.blocks
    assert isinstance(thinking, ThinkingBlock) and thinking.content == "\n1"
    assert isinstance(text, TextBlock) and text.text == "模型"
    assert final.message.content == "模型"
    # usage came in its own choices: [] chunk, the last one: cost rides there
    assert final.raw is not None
    assert final.raw["choices"] == []
    assert final.additional_kwargs["completion_tokens"] == 1024
    assert final.additional_kwargs["cache_read_tokens"] == 7
    assert final.additional_kwargs["cost"] == pytest.approx(COST_NORMALISED)
    assert all("cost" not in r.additional_kwargs for r in responses[:-1])


def test_stream_normalised_shape_keeps_reasoning_only_chunks() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-normalised.sse")))
    _check_normalised(list(llm.stream_chat(USER)))


async def test_astream_normalised_shape_keeps_reasoning_only_chunks() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-normalised.sse")))
    _check_normalised([r async for r in await llm.astream_chat(USER)])


async def test_astream_native_shape() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-native.sse")))
    responses = [r async for r in await llm.astream_chat(USER)]
    assert responses[-1].message.content == " today?"
    assert responses[-1].additional_kwargs["cost"] == pytest.approx(COST_NATIVE)


def test_stream_complete_and_astream_complete() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-normalised.sse")))
    chunks = list(llm.stream_complete("Hi"))
    assert [c.delta for c in chunks] == ["", "", "模型", "", ""]
    assert chunks[-1].text == "模型"
    assert chunks[0].additional_kwargs["thinking_delta"] == "\n"
    assert chunks[-1].additional_kwargs["cost"] == pytest.approx(COST_NORMALISED)


async def test_astream_complete() -> None:
    llm, _ = make_llm(sse_response(sample("glm-4.6.stream-native.sse")))
    chunks = [c async for c in await llm.astream_complete("Hi")]
    assert chunks[-1].text == " today?"


def test_stream_cut_short_yields_everything_then_raises() -> None:
    cut = b"\n\n".join(sample("glm-4.6.stream-native.sse").split(b"\n\n")[:2]) + b"\n\n"
    llm, _ = make_llm(sse_response(cut))
    seen = []
    with pytest.raises(IncompleteStreamError):
        for response in llm.stream_chat(USER):
            seen.append(response.message.content)
    assert seen == [" today", " today?"]


# ----------------------------------------------------------------------------- usage totals


async def test_track_usage_totals_sync_and_async_calls() -> None:
    assert llama_index_runapi.track_usage is runapi_client.track_usage
    llm, _ = make_llm(json_response(sample("glm-4.6.nonstream.json")))
    streamer, _ = make_llm(sse_response(sample("glm-4.6.stream-normalised.sse")))
    with track_usage() as usage:
        llm.chat(USER)
        await llm.achat(USER)
        list(streamer.stream_chat(USER))
    assert usage.requests == 3
    assert usage.prompt_tokens == 81 + 81 + 9
    assert usage.cached_tokens == 6 + 6 + 7
    assert usage.completion_tokens == 186 + 186 + 1024
    assert usage.total_cost == pytest.approx(2 * COST_NONSTREAM + COST_NORMALISED)


def test_token_counting_handler_reads_server_numbers() -> None:
    counter = TokenCountingHandler()
    llm, _ = make_llm(
        sse_response(sample("glm-4.6.stream-native.sse")),
        callback_manager=CallbackManager([counter]),
    )
    list(llm.stream_chat(USER))
    assert counter.prompt_llm_token_count == 6074
    assert counter.completion_llm_token_count == 15


def test_price_override_for_this_llm_only() -> None:
    llm, _ = make_llm(
        json_response(sample("glm-4.6.nonstream.json")),
        price={"input": 1.0, "output": 2.0, "cache_read": 0.5},
    )
    assert llm.price == Price(input=1.0, output=2.0, cache_read=0.5)
    cost = llm.chat(USER).additional_kwargs["cost"]
    assert cost == pytest.approx((75 * 1.0 + 186 * 2.0 + 6 * 0.5) / 1e6)


# -------------------------------------------------------------------------- request settings


def test_settings_go_into_the_body() -> None:
    llm, server = make_llm(
        json_response(sample("glm-4.6.nonstream.json")),
        temperature=0.2,
        max_tokens=64,
        reasoning=False,
        additional_kwargs={"top_p": 0.9},
    )
    llm.chat(USER, stop=["\n\n"])
    body = server.body
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 64
    assert body["thinking"] == {"type": "disabled"}
    assert body["top_p"] == 0.9
    assert body["stop"] == ["\n\n"]
    llm.chat(USER, reasoning=True)  # per call
    assert server.body["thinking"] == {"type": "enabled"}


def test_no_thinking_field_for_a_model_that_does_not_reason() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="gpt-4o-mini")
    llm.chat(USER, reasoning=False)
    assert "thinking" not in server.body


# ------------------------------------------------------------------------- retries and errors


def test_one_retry_layer_max_retries_2_is_3_requests() -> None:
    busy = json_response(b'{"error": "No active channel available"}', 503, **{"retry-after": "0"})
    llm, server = make_llm(busy, max_retries=2)
    with pytest.raises(ServerError):
        llm.chat(USER)
    assert len(server.requests) == 3


async def test_one_retry_layer_async_stream() -> None:
    busy = json_response(b'{"error": "No active channel available"}', 503, **{"retry-after": "0"})
    llm, server = make_llm(busy, max_retries=2)
    with pytest.raises(ServerError):
        async for _ in await llm.astream_chat(USER):
            pass
    assert len(server.requests) == 3


def test_retry_then_success() -> None:
    busy = json_response(b'{"error": "busy"}', 429, **{"retry-after": "0"})
    llm, server = make_llm(busy, json_response(sample("glm-4.6.nonstream.json")))
    assert llm.chat(USER).message.content.startswith("\nHello!")
    assert len(server.requests) == 2


def test_error_classes_are_reexported() -> None:
    for name in runapi_client.errors.ERROR_CLASSES:
        assert getattr(llama_index_runapi, name) is getattr(runapi_client, name)


def test_import_path_llama_index_users_expect() -> None:
    from llama_index.llms.runapi import RunAPILLM as FromNamespace

    assert FromNamespace is RunAPILLM


# --------------------------------------------------------------------------------- the secret


def test_key_never_in_repr_to_dict_to_json_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-test-secret-123"
    busy = json_response(b'{"error": "busy"}', 503, **{"retry-after": "0"})
    llm, _ = make_llm(busy, json_response(sample("glm-4.6.nonstream.json")), api_key=secret)
    assert secret not in repr(llm)
    assert secret not in str(llm)
    assert secret not in json.dumps(llm.to_dict(), default=str)
    assert secret not in llm.to_json()
    assert "api_key" not in llm.to_dict()
    with caplog.at_level(logging.DEBUG):
        llm.chat(USER)
    assert caplog.records  # the retry was logged ...
    assert all(secret not in r.getMessage() for r in caplog.records)  # ... without the key
    # The secret is still there for requests, and a round trip reads the key from the env.
    assert llm.api_key is not None and llm.api_key.get_secret_value() == secret
    again = RunAPILLM.from_json(llm.to_json())
    assert again.model == llm.model


def test_key_echoed_by_the_server_is_not_in_the_error() -> None:
    secret = "sk-test-secret-123"
    echo = {"error": {"message": f"Invalid API key: {secret}", "code": "invalid_key"}}
    llm, _ = make_llm(json_response(echo, 401), api_key=secret)
    with pytest.raises(llama_index_runapi.AuthenticationError) as caught:
        llm.chat(USER)
    assert secret not in str(caught.value) and secret not in repr(caught.value.body)


# ------------------------------------------------------------------------ messages on the wire


def test_messages_are_converted_for_the_wire() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="glm-4.6v")
    history = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(
            role="user",
            blocks=[
                TextBlock(text="What is in the picture?"),
                ImageBlock(url="https://example.com/cat.png"),
            ],
        ),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="private"),
                TextBlock(text="Let me look."),
                ToolCallBlock(tool_call_id="call_1", tool_name="look", tool_kwargs={"q": "猫"}),
            ],
        ),
        ChatMessage(role="tool", content="a cat", additional_kwargs={"tool_call_id": "call_1"}),
        ChatMessage(
            role="assistant",
            content="",
            additional_kwargs={
                "tool_calls": [
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"q":"dog"}'},
                    }
                ]
            },
        ),
        ChatMessage(role="tool", content="no dog", additional_kwargs={"tool_call_id": "call_2"}),
    ]
    llm.chat(history)
    assert server.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in the picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"q": "猫"}'},
                }
            ],
            # the turn in progress (after the last user message): its reasoning goes back
            "reasoning_content": "private",
        },
        {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"q":"dog"}'},
                }
            ],
        },
        {"role": "tool", "content": "no dog", "tool_call_id": "call_2"},
    ]


def test_image_bytes_become_a_data_url() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="glm-4.6v")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    llm.chat([ChatMessage(role="user", blocks=[ImageBlock(image=png, image_mimetype="image/png")])])
    part = server.body["messages"][0]["content"][0]
    assert part["type"] == "image_url"
    assert part["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")


def test_base64_image_data_is_not_encoded_twice() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="glm-4.6v")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    llm.chat([ChatMessage(role="user", blocks=[ImageBlock(image=base64.b64encode(png))])])
    url = server.body["messages"][0]["content"][0]["image_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:image/png;base64,")) == png


def test_an_image_for_a_text_only_model_is_refused_before_sending() -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")))  # glm-4.6: text
    picture = [
        ChatMessage(
            role="user",
            blocks=[TextBlock(text="What is this?"), ImageBlock(url="https://example.com/cat.png")],
        )
    ]
    with pytest.raises(llama_index_runapi.ConfigurationError, match="reads text only"):
        llm.chat(picture)
    with pytest.raises(llama_index_runapi.ConfigurationError):
        llm.stream_chat(picture)  # at the call, not at the first chunk
    assert server.requests == []
    # A model the catalog does not know gets the image: it may well read it.
    unknown, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="glm-9v")
    unknown.chat(picture)
    assert server.body["messages"][0]["content"][1]["type"] == "image_url"


def test_an_image_outside_a_user_message_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm, server = make_llm(json_response(sample("glm-4.6.nonstream.json")), model="glm-4.6v")
    tool_result = ChatMessage(
        role="tool",
        blocks=[TextBlock(text="a chart"), ImageBlock(url="https://example.com/chart.png")],
        additional_kwargs={"tool_call_id": "call_1"},
    )
    with caplog.at_level(logging.WARNING, logger="llama_index_runapi"):
        llm.chat([*USER, tool_result])
    assert server.body["messages"][1] == {
        "role": "tool",
        "content": "a chart",
        "tool_call_id": "call_1",
    }
    assert "image in a tool message was left out" in caplog.text


def test_a_response_round_trips_into_the_next_request() -> None:
    llm, server = make_llm(json_response(sample("glm-4.7.tools-reasoning.json")), model="glm-4.7")
    reply = llm.chat(USER).message
    llm.chat([*USER, reply])
    sent = server.body["messages"][1]
    assert sent == {
        "role": "assistant",
        "content": "I'll check the weather.",
        "tool_calls": [
            {
                "id": "call_-7682507267639338722",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        # GLM's interleaved thinking wants the turn in progress's reasoning back.
        "reasoning_content": "User wants weather.",
    }
