"""The model policy (runapi_client.policy) on wire dicts: each rule, with no I/O."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from runapi_client import ConfigurationError, get_model_info
from runapi_client.policy import (
    TOOL_CALL_INSTRUCTION,
    add_system_instruction,
    as_response_format,
    normalize_tool_choice,
    parse_json_text,
    prepare_request,
    read_structured_output,
    reasoning_history,
    recover_tool_call,
)

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
USER = [{"role": "user", "content": "Paris?"}]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "glm-4.6", "messages": list(USER), **fields}


def quietly(request: dict[str, Any], **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return prepare_request(request, **kwargs)


def system_text(prepared: Any) -> str:
    first = prepared.body["messages"][0]
    return first["content"] if first["role"] == "system" else ""


# ------------------------------------------------------------------------------ tool choice


@pytest.mark.parametrize("written", ["required", "any"])
def test_a_forced_choice_glm_cannot_take_is_asked_for_in_words(written: str) -> None:
    with pytest.warns(UserWarning, match=f"tool_choice='{written}' is sent as 'auto'"):
        prepared = prepare_request(body(tools=[WEATHER, TIME], tool_choice=written))
    assert prepared.body["tool_choice"] == "auto"
    assert len(prepared.body["tools"]) == 2
    assert system_text(prepared) == f"{TOOL_CALL_INSTRUCTION}."
    assert prepared.forced_tool is None  # two tools: no one tool a text answer stands for


@pytest.mark.parametrize(
    "written", ["get_weather", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_a_named_choice_narrows_the_tools_and_names_the_tool(written: Any) -> None:
    with pytest.warns(UserWarning, match=r"tool_choice=.*offering only `get_weather`"):
        prepared = prepare_request(body(tools=[WEATHER, TIME], tool_choice=written))
    assert [t["function"]["name"] for t in prepared.body["tools"]] == ["get_weather"]
    assert prepared.body["tool_choice"] == "auto"
    assert system_text(prepared) == f"{TOOL_CALL_INSTRUCTION}: call `get_weather`."
    assert prepared.forced_tool == WEATHER


def test_structured_output_is_asked_for_without_a_warning() -> None:
    prepared = quietly(body(tools=[WEATHER], tool_choice="get_weather"), structured=True)
    assert system_text(prepared).endswith("call `get_weather`.")


def test_true_forces_the_only_tool_and_is_an_error_with_several() -> None:
    assert normalize_tool_choice(True, [WEATHER]) == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    with pytest.raises(ConfigurationError, match="name the tool"):
        normalize_tool_choice(True, [WEATHER, TIME])
    with pytest.raises(ConfigurationError, match="names no bound tool"):
        normalize_tool_choice("nope", [WEATHER])


def test_none_sends_no_tools_and_auto_goes_as_it_is() -> None:
    prepared = quietly(body(tools=[WEATHER], tool_choice="none", parallel_tool_calls=False))
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(prepared.body)
    prepared = quietly(body(tools=[WEATHER], tool_choice="auto"))
    assert prepared.body["tool_choice"] == "auto" and prepared.body["messages"] == USER


def test_a_model_that_can_be_forced_gets_the_choice_as_it_is() -> None:
    prepared = quietly(
        body(model="gpt-4o-mini", tools=[WEATHER], tool_choice="any", parallel_tool_calls=False)
    )
    assert prepared.body["tool_choice"] == "required"
    assert prepared.body["parallel_tool_calls"] is False
    assert not prepared.single_tool_call and prepared.body["messages"] == USER


def test_parallel_tool_calls_false_on_glm_is_kept_by_reading_one_call() -> None:
    prepared = quietly(body(tools=[WEATHER], parallel_tool_calls=False))
    assert "parallel_tool_calls" not in prepared.body
    assert prepared.single_tool_call
    prepared = quietly(body(tools=[WEATHER], parallel_tool_calls=True))
    assert "parallel_tool_calls" not in prepared.body and not prepared.single_tool_call


def test_instructions_join_the_leading_system_message_once() -> None:
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    once = add_system_instruction(messages, "Do X.")
    assert once[0] == {"role": "system", "content": "Be brief.\n\nDo X."}
    assert add_system_instruction(once, "Do X.") == once
    assert messages[0]["content"] == "Be brief."  # the caller's list is left alone
    prepared = quietly(
        {**body(tools=[WEATHER], tool_choice="get_weather"), "messages": messages},
        structured=True,
    )
    again = quietly(prepared.body, structured=True)  # preparing twice changes nothing
    assert again.body == prepared.body


def test_add_system_instruction_keeps_one_system_message_first() -> None:
    user = {"role": "user", "content": "hi"}
    assert add_system_instruction([user], "X") == [{"role": "system", "content": "X"}, user]
    system = {"role": "system", "content": "Be brief."}
    given = [system, user]
    assert add_system_instruction(given, "X") == [
        {"role": "system", "content": "Be brief.\n\nX"},
        user,
    ]
    assert given == [{"role": "system", "content": "Be brief."}, user]  # left unchanged
    parts = {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    assert add_system_instruction([parts], "X")[0]["content"][-1] == {"type": "text", "text": "X"}
    # A system message after the first is not the head: a new one goes first.
    assert add_system_instruction([user, system], "X")[0] == {"role": "system", "content": "X"}


# ------------------------------------------------------------------------------- JSON modes


def test_json_schema_on_glm_is_json_object_with_the_schema_in_words() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    with pytest.warns(UserWarning, match="does not accept response_format json_schema"):
        prepared = prepare_request(
            body(response_format={"type": "json_schema", "json_schema": {"schema": schema}})
        )
    assert prepared.body["response_format"] == {"type": "json_object"}
    assert '{"type": "object"' in system_text(prepared)


def test_a_bare_schema_is_a_json_schema_format_and_passes_where_accepted() -> None:
    schema = {"title": "Out", "type": "object", "properties": {}}
    wrapped = as_response_format(schema)
    assert wrapped == {"type": "json_schema", "json_schema": {"name": "Out", "schema": schema}}
    prepared = quietly(body(model="gpt-4o", response_format=schema))
    assert prepared.body["response_format"] == wrapped


# --------------------------------------------------------------------------------- thinking


def test_thinking_reaches_only_models_with_the_switch() -> None:
    assert quietly(body(thinking={"type": "disabled"})).body["thinking"] == {"type": "disabled"}
    assert "thinking" not in quietly(body(model="gpt-4o", thinking={"type": "disabled"})).body
    with pytest.warns(UserWarning, match="no reasoning switch"):
        prepared = prepare_request(body(model="gpt-4o", thinking={"type": "enabled"}))
    assert "thinking" not in prepared.body
    unknown = quietly(body(model="some-new-model", thinking={"type": "enabled"}))
    assert unknown.body["thinking"] == {"type": "enabled"}


# ---------------------------------------------------------------------- reasoning in history


HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "first"},
    {"role": "assistant", "content": "done", "reasoning_content": "old loop"},
    {"role": "user", "content": "second"},
    {"role": "assistant", "content": None, "tool_calls": [], "reasoning_content": "in progress"},
    {"role": "tool", "content": "42", "tool_call_id": "c1"},
    {"role": "assistant", "content": None, "reasoning": "a gateway's field"},
]


def reasonings(messages: list[dict[str, Any]]) -> list[Any]:
    return [m.get("reasoning_content") for m in messages if m["role"] == "assistant"]


def test_the_turn_in_progress_keeps_its_reasoning_earlier_turns_drop_it() -> None:
    sent = reasoning_history(HISTORY, get_model_info("glm-4.6"))
    assert reasonings(sent) == [None, "in progress", "a gateway's field"]
    assert all("reasoning" not in m for m in sent)
    assert HISTORY[1]["reasoning_content"] == "old loop"  # not changed in place


def test_preserved_thinking_keeps_all_and_other_models_get_none() -> None:
    glm = get_model_info("glm-4.7")
    kept = reasoning_history(HISTORY, glm, {"type": "enabled", "clear_thinking": False})
    assert reasonings(kept) == ["old loop", "in progress", "a gateway's field"]
    assert reasonings(reasoning_history(HISTORY, get_model_info("gpt-4o"))) == [None] * 3
    plain = [{"role": "user", "content": "x"}]
    assert reasoning_history(plain, glm) is plain  # nothing to change: the same list


# ------------------------------------------------------------------------ structured output


def call(name: str, arguments: Any) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_structured_output_from_a_call_from_text_or_with_a_reason() -> None:
    schema = WEATHER["function"]["parameters"]
    read = read_structured_output(
        {"tool_calls": [call("get_weather", '{"city": "Oslo"}')]},
        method="function_calling",
        tool_name="get_weather",
        schema=schema,
    )
    assert (read.value, read.source) == ({"city": "Oslo"}, "tool_call")
    text = read_structured_output(
        {"content": 'Here it is:\n```json\n{"city": "Oslo"}\n```'},
        method="function_calling",
        tool_name="get_weather",
        schema=schema,
    )
    assert (text.value, text.source) == ({"city": "Oslo"}, "text")
    prose = read_structured_output(
        {"content": "It is cold."}, method="function_calling", tool_name="get_weather"
    )
    assert prose.value is None
    assert (
        prose.error == "The model answered in prose without calling `get_weather`: 'It is cold.'."
    )
    other = read_structured_output(
        {"tool_calls": [call("get_time", "{}")]}, method="function_calling", tool_name="get_weather"
    )
    assert other.error == "The model called get_time instead of `get_weather`."
    broken = read_structured_output(
        {"tool_calls": [call("get_weather", '{"city": ')]},
        method="function_calling",
        tool_name="get_weather",
    )
    assert broken.error is not None and "not JSON" in broken.error
    misfit = read_structured_output(
        {"content": '{"town": "Oslo"}'}, method="json_schema", schema=schema
    )
    assert misfit.error is not None and "does not fit" in misfit.error
    assert read_structured_output({"content": "[1, 2]"}, method="json_mode").value == [1, 2]


def test_json_text_is_found_in_fences_and_sentences() -> None:
    assert parse_json_text('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_text('Sure! {"a": 1} Hope that helps.') == {"a": 1}
    with pytest.raises(ValueError):
        parse_json_text("no json here")


def test_a_forced_tools_arguments_given_as_text_are_read_as_its_call() -> None:
    recovered = recover_tool_call({"content": '{"city": "Oslo"}'}, WEATHER)
    assert recovered is not None
    assert recovered["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert recovered["id"].startswith("call_")
    assert recover_tool_call({"content": '{"town": "Oslo"}'}, WEATHER) is None  # not its args
    assert recover_tool_call({"content": "It is cold."}, WEATHER) is None
    assert recover_tool_call({"content": '{"city": "x"}'}, None) is None  # nothing was forced
