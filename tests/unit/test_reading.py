"""Reading a 200 answer into the wire's shapes (``runapi_client._reading``), called directly.

Through the clients and both adapters the same cases are in ``tests/test_malformed_answers.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from runapi_client import cost_of, token_counts
from runapi_client._reading import MAX_TOKENS, Unreadable, is_count, read_chunk, read_completion


def answer(message: Any, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], **fields}


def test_a_well_formed_answer_is_left_as_it_is() -> None:
    data = answer(
        {"role": "assistant", "content": "Hi", "annotations": []},
        id="x",
        model="glm-4.6",
        created=1,
        usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4, "cost": 0.1},
        request_id="r",
    )
    expected = {**data, "choices": [dict(data["choices"][0])]}
    read_completion(data)
    assert data == expected  # fields the server adds stay


@pytest.mark.parametrize("value", [10**400, MAX_TOKENS, -1, 1.0, "3", True, None, [3]])
def test_a_count_that_cannot_be_one_is_dropped(value: Any) -> None:
    assert not is_count(value)
    data = answer({"content": "Hi"}, usage={"prompt_tokens": value, "completion_tokens": 2})
    read_completion(data)
    assert data["usage"] == {"completion_tokens": 2}
    assert token_counts(data["usage"])["input"] == 0


def test_details_keep_their_counts_only() -> None:
    usage = {
        "prompt_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 10**400, "audio_tokens": 1, "note": "x"},
        "completion_tokens_details": "reasoning",
    }
    read_completion(answer({"content": "Hi"}, usage=usage))
    assert usage == {"prompt_tokens": 9, "prompt_tokens_details": {"audio_tokens": 1}}


def test_pricing_reads_absurd_counts_as_unreadable_even_unread() -> None:
    """``token_counts`` and ``cost_of`` are public: a usage given to them by hand is read by
    the same rule, and one that is not an object is none."""
    usage = {"prompt_tokens": 10**400, "completion_tokens": 10**400}
    assert token_counts(usage)["input"] == 0
    cost = cost_of("glm-4.6", usage)
    assert cost is not None and cost.total == 0.0
    assert cost_of("glm-4.6", "lots") is None  # type: ignore[arg-type]
    assert token_counts([1, 2])["total"] == 0  # type: ignore[arg-type]


def test_fields_of_the_wrong_type_are_as_if_absent() -> None:
    data = answer(
        {"role": 5, "content": 42, "reasoning_content": ["x"], "tool_calls": "call"},
        id=["x"],
        model=5,
        created="yesterday",
        object=1,
        system_fingerprint={},
        usage="lots",
    )
    data["choices"][0].update(index="0", finish_reason=5, logprobs="x")
    read_completion(data)
    assert data == {
        "choices": [
            {"index": 0, "message": {"content": None}, "finish_reason": None, "logprobs": None}
        ]
    }


def test_a_whole_answer_s_tool_calls_come_out_complete() -> None:
    message = {
        "content": None,
        "tool_calls": [
            None,
            {"id": 5, "type": 1, "index": "0", "function": "get_weather"},
            {"id": "call_2", "function": {"name": 7, "arguments": {"city": "Paris"}}},
            {"id": "call_3", "function": {"name": "f", "arguments": None}},
        ],
    }
    read_completion(answer(message))
    assert message["tool_calls"] == [
        {"type": "function", "function": {"name": "", "arguments": ""}},
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "", "arguments": '{"city": "Paris"}'},
        },
        {"id": "call_3", "type": "function", "function": {"name": "f", "arguments": ""}},
    ]


def test_a_delta_s_tool_calls_keep_what_can_be_read() -> None:
    """The rest of a call may come in a later delta, so nothing is filled in."""
    delta = {
        "tool_calls": [
            {"index": 0, "id": "call_1", "function": "get_weather"},
            {"index": -1, "id": 5, "function": {"name": 7, "arguments": {"a": 1}}},
            {"function": {"arguments": None}},
        ]
    }
    read_chunk({"choices": [{"delta": delta}]})
    assert delta["tool_calls"] == [
        {"index": 0, "id": "call_1"},
        {"function": {"arguments": '{"a": 1}'}},
        {},
    ]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({}, "choices is missing"),
        ({"choices": "Hi"}, "choices is a string, not a list"),
        ({"choices": []}, "choices is empty"),
        ({"choices": [None, 5]}, "choices[0] is null, not an object"),
        ({"choices": [{"index": 0}]}, "choices[0].message is missing"),
        ({"choices": [{"message": "Hi"}]}, "choices[0].message is a string, not an object"),
        ({"choices": [{"message": None}]}, "choices[0].message is null, not an object"),
    ],
)
def test_a_whole_answer_without_a_usable_choice_is_unreadable(
    data: dict[str, Any], named: str
) -> None:
    with pytest.raises(Unreadable) as caught:
        read_completion(data)
    assert str(caught.value) == named


def test_unreadable_choices_are_dropped_when_one_can_be_read() -> None:
    data = {"choices": [None, {"message": {"content": "Hi"}}]}
    read_completion(data)
    assert data["choices"] == [{"index": 1, "message": {"content": "Hi"}}]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"choices": "Hi"}, "choices is a string, not a list"),
        ({"choices": {"0": {}}}, "choices is an object, not a list"),
        ({"choices": [None]}, "choices[0] is null, not an object"),
        ({"choices": [{"delta": "Hi"}]}, "choices[0].delta is a string, not an object"),
    ],
)
def test_a_chunk_with_choices_none_of_which_can_be_read_is_unreadable(
    data: dict[str, Any], named: str
) -> None:
    with pytest.raises(Unreadable, match=named.replace("[", r"\[").replace("]", r"\]")):
        read_chunk(data)


def test_a_chunk_without_choices_or_delta_is_fine() -> None:
    usage_chunk: dict[str, Any] = {"choices": None, "usage": {"prompt_tokens": 1}}
    read_chunk(usage_chunk)
    assert usage_chunk == {"choices": [], "usage": {"prompt_tokens": 1}}
    finish: dict[str, Any] = {"choices": [{"finish_reason": "stop", "delta": None}]}
    read_chunk(finish)
    assert finish["choices"] == [{"finish_reason": "stop", "delta": {}, "index": 0}]


def test_logprobs_are_rebuilt_from_the_fields_openai_defines() -> None:
    good = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
    choice = {
        "delta": {},
        "logprobs": {
            "content": [good, {"token": 5}, {"token": "x", "logprob": "low", "index": 0}],
            "refusal": None,
            "other": 1.5,
        },
    }
    read_chunk({"choices": [choice]})
    assert choice["logprobs"] == {"content": [good]}
