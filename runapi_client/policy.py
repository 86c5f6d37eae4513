"""The model policy: how a request is adapted to a model, and how its answer is read.

Every rule about talking to a model lives here, once, on wire dicts, so that ``ChatRunAPI``,
``RunAPILLM`` and the core client behave the same; the adapters only translate their
framework's types. :func:`prepare_request` is what every chat request goes through:

- **Tool choice.** GLM accepts ``tool_choice="auto"`` only (see the catalog). A forcing choice
  the model cannot take is asked for in words instead: ``"auto"`` with one system instruction
  to call a tool, and a *named* tool narrows the tools offered to that one (nothing else may
  be called, as when a server forces it). A warning quotes what the caller wrote, except for
  structured output, where the words are the documented way. ``"none"`` sends no tools.
  Spellings: ``"any"`` is ``"required"``; ``True`` forces the only tool; a tool's name forces it.
- **Parallel calls.** ``parallel_tool_calls`` is sent only to models that take the field;
  ``False`` to one that does not is kept by reading the first tool call of the answer only.
- **JSON modes.** A schema given as ``response_format`` becomes the wire's ``json_schema``;
  a model without ``json_schema`` gets ``json_object`` and the schema in a system message,
  with a warning (the server does not enforce the schema then).
- **Thinking.** ``thinking`` reaches only models that have the switch (or unknown ones).
- **Reasoning in history.** GLM's interleaved thinking wants the reasoning of the turn in
  progress back: the assistant messages after the last user message (a tool loop) keep their
  ``reasoning_content``; earlier turns' reasoning is settled and dropped (GLM discards it, so it
  would only cost input tokens), unless ``thinking.clear_thinking`` is ``False`` (GLM's
  "preserved thinking"), which wants all of it back unmodified. Source: Z.ai, "Thinking Mode"
  (https://docs.z.ai/guides/capabilities/thinking-mode): "When using interleaved thinking with
  tools, thinking blocks should be explicitly preserved and returned together with the tool
  results."
- **Structured output.** :func:`read_structured_output` reads what each method asks for; a
  model that was asked in words and answered with the JSON as text instead of a tool call
  still parses (:func:`recover_tool_call`), and when nothing parses the result says why.

Answers are normalised by :func:`normalize_delta` / :func:`normalize_message`: a gateway's
``reasoning`` is read as ``reasoning_content``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._catalog import DEFAULT_MODEL_INFO, ModelInfo, get_model_info
from ._options import RequestOptions, split_request_options
from ._warn import warn_at_caller
from .errors import ConfigurationError

__all__ = [
    "TOOL_CALL_INSTRUCTION",
    "PreparedRequest",
    "StructuredMethod",
    "StructuredOutput",
    "add_system_instruction",
    "as_response_format",
    "fits_schema",
    "json_schema_instruction",
    "normalize_delta",
    "normalize_message",
    "normalize_tool_choice",
    "parse_json_text",
    "prepare_request",
    "read_structured_output",
    "reasoning_history",
    "recover_tool_call",
    "tool_call_instruction",
]

StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]

TOOL_CALL_INSTRUCTION = "Answer by calling one of the provided tools"


def tool_call_instruction(name: str | None = None) -> str:
    """What a forced ``tool_choice`` says on a model that cannot be forced: call a tool, the
    tool ``name`` when one was named."""
    if name:
        return f"{TOOL_CALL_INSTRUCTION}: call `{name}`."
    return f"{TOOL_CALL_INSTRUCTION}."


def json_schema_instruction(schema: Mapping[str, Any]) -> str:
    """What ``json_schema`` says on a model that only takes ``json_object``."""
    return (
        "Reply with one JSON object only, no prose and no code fences, that conforms to "
        f"this JSON Schema:\n{json.dumps(schema, ensure_ascii=False)}"
    )


def add_system_instruction(messages: Sequence[Any], text: str) -> list[Any]:
    """Wire ``messages`` with ``text`` added to the leading system message, or in a new one at
    the head: one system message, first, as some models refuse a second one. Text already
    there is not added twice (a prepared request prepared again stays as it was). The list and
    the messages given are left unchanged."""
    out = list(messages)
    first: Mapping[str, Any] = out[0] if out and isinstance(out[0], Mapping) else {}
    content = first.get("content")
    if first.get("role") == "system" and isinstance(content, str):
        if text in content:
            return out
        out[0] = {**first, "content": f"{content}\n\n{text}" if content else text}
    elif first.get("role") == "system" and isinstance(content, list):
        if any(isinstance(p, Mapping) and p.get("text") == text for p in content):
            return out
        out[0] = {**first, "content": [*content, {"type": "text", "text": text}]}
    else:
        out.insert(0, {"role": "system", "content": text})
    return out


# ------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request adapted to its model, and what the answer's reading needs to know.

    Pass it to ``RunAPIClient.chat_completion`` / ``stream_chat_completion`` as it is; a plain
    body passed there is prepared on the way (without ``structured``).
    """

    body: dict[str, Any]
    """The body as it goes on the wire."""
    model: ModelInfo
    options: RequestOptions | None = None
    """The OpenAI SDK's per-request options the body carried (``extra_headers``,
    ``timeout``); ``extra_body`` is merged into ``body`` before the rules apply."""
    single_tool_call: bool = False
    """``parallel_tool_calls=False`` on a model without the field: keep the first call only."""
    forced_tool: Mapping[str, Any] | None = None
    """The one tool the caller forced, asked for in words: a JSON answer given as text instead
    of a call of it is read as that call (:func:`recover_tool_call`)."""


def prepare_request(
    body: Mapping[str, Any], *, structured: bool = False, warn: bool = True
) -> PreparedRequest:
    """``body`` adapted to what its model accepts (see the module's docstring).

    ``structured``: the request is structured output (LangChain's ``with_structured_output``,
    LlamaIndex's programs), whose forced tool choice is asked for in words without a warning.
    ``warn=False`` stays silent (a body prepared a second time). Nothing given is changed; a
    body that needs no change comes back as a shallow copy.
    """
    fields, options = split_request_options(body)
    out = dict(fields)
    model = out.get("model")
    info = get_model_info(model) if isinstance(model, str) and model else DEFAULT_MODEL_INFO
    _adapt_thinking(out, info, warn)
    messages = out.get("messages")
    if isinstance(messages, list):
        out["messages"] = reasoning_history(messages, info, out.get("thinking"))
    single, forced = _adapt_tools(out, info, structured=structured, warn=warn)
    _adapt_response_format(out, info, warn)
    return PreparedRequest(out, info, options, single_tool_call=single, forced_tool=forced)


def _warn(warn: bool, text: str) -> None:
    if warn:
        warn_at_caller(text)


def _adapt_thinking(out: dict[str, Any], info: ModelInfo, warn: bool) -> None:
    thinking = out.get("thinking")
    if thinking is None or not info.known or info.reasoning:
        return  # an unknown model may have the switch: sent as given
    del out["thinking"]
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        _warn(warn, f"{info.name} has no reasoning switch; reasoning=True is not sent.")


def _is_user(message: Any) -> bool:
    return isinstance(message, Mapping) and message.get("role") == "user"


def reasoning_history(messages: list[Any], info: ModelInfo, thinking: Any = None) -> list[Any]:
    """``messages`` with each assistant turn's reasoning kept or dropped by the rule in the
    module's docstring; a gateway's ``reasoning`` field is sent as ``reasoning_content``.
    Returns ``messages`` itself when nothing changes."""
    preserved = isinstance(thinking, Mapping) and thinking.get("clear_thinking") is False
    thinks = info.reasoning or not info.known
    last_user = max((i for i, m in enumerate(messages) if _is_user(m)), default=-1)
    out: list[Any] | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        if "reasoning_content" not in message and "reasoning" not in message:
            continue
        keep = thinks and (preserved or i > last_user)
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        fixed = {k: v for k, v in message.items() if k not in ("reasoning_content", "reasoning")}
        if keep and isinstance(reasoning, str) and reasoning:
            fixed["reasoning_content"] = reasoning
        if fixed != message:
            out = out if out is not None else list(messages)
            out[i] = fixed
    return out if out is not None else messages


def _tool_name(tool: Any) -> str | None:
    if isinstance(tool, Mapping):
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    return None


def normalize_tool_choice(choice: Any, tools: Sequence[Any] | None) -> str | dict[str, Any] | None:
    """Any spelling of ``tool_choice`` -> the wire value, or None to leave it unset.

    ``"any"`` is ``"required"``; ``True`` forces the only tool (an error with several);
    ``False``/``None`` is unset; a bound tool's name forces that tool; a ``{"type":
    "function", ...}`` dict is kept. A name or dict naming no offered tool is an error.
    """
    if choice is None or choice is False:
        return None
    names = [n for n in (_tool_name(t) for t in tools or ()) if n]
    if choice is True:
        if len(names) != 1:
            raise ConfigurationError(
                f"tool_choice=True forces the one tool, but {len(names)} are given; name the "
                "tool instead: tool_choice='my_tool'."
            )
        return {"type": "function", "function": {"name": names[0]}}
    if choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, str):
        name: Any = choice
        wire: dict[str, Any] = {"type": "function", "function": {"name": choice}}
    elif isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        wire = {"type": "function", "function": {"name": name}}
    else:
        raise ConfigurationError(
            f"tool_choice must be 'auto', 'none', 'required'/'any', a tool's name, True or a "
            f"{{'type': 'function', ...}} dict; got {choice!r}."
        )
    if tools is not None and name not in names:
        raise ConfigurationError(
            f"tool_choice={choice!r} names no bound tool; the tools are {sorted(names)}."
        )
    return wire


def _adapt_tools(
    out: dict[str, Any], info: ModelInfo, *, structured: bool, warn: bool
) -> tuple[bool, Mapping[str, Any] | None]:
    """Make ``out``'s tool fields fit the model; returns (single_tool_call, forced_tool)."""
    tools = out.get("tools")
    given = out.get("tool_choice")
    parallel = out.get("parallel_tool_calls")
    if not info.parallel_tool_calls:
        out.pop("parallel_tool_calls", None)
    if not tools:
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            out.pop(key, None)
        return False, None
    single = parallel is False and not info.parallel_tool_calls
    choice = normalize_tool_choice(given, tools)
    if choice is None:
        out.pop("tool_choice", None)
        return single, None
    kind = "function" if isinstance(choice, dict) else choice
    if kind in info.tool_choice:
        out["tool_choice"] = choice
        return single, None
    if choice == "none":
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            out.pop(key, None)
        return False, None
    # A forcing choice the model rejects: asked for in words, naming the tool when there is
    # one ("required" with one tool is that tool, as with_structured_output's named choice).
    name = choice["function"]["name"] if isinstance(choice, dict) else None
    if name is not None:
        tools = out["tools"] = [t for t in tools if _tool_name(t) == name]
    called = name if name is not None or len(tools) != 1 else _tool_name(tools[0])
    if "auto" in info.tool_choice:
        out["tool_choice"] = "auto"
    else:
        out.pop("tool_choice", None)
    messages = out.get("messages")
    if isinstance(messages, list):
        out["messages"] = add_system_instruction(messages, tool_call_instruction(called))
    if not structured:
        narrowed = f", offering only `{name}`" if name else ""
        _warn(
            warn,
            f"{info.name} accepts tool_choice {list(info.tool_choice)} only, so "
            f"tool_choice={given!r} is sent as 'auto'{narrowed}, with a system instruction to "
            "call the tool: the model may still answer without calling it.",
        )
    forced = tools[0] if len(tools) == 1 and isinstance(tools[0], Mapping) else None
    return single, forced


# The response_format types of the wire; any other dict is taken for a schema.
_WIRE_RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})


def as_response_format(value: Any) -> Any:
    """A ``response_format`` as the wire takes it: a JSON Schema dict or a ``{"name": ...,
    "schema": ...}`` spec (as ``ChatOpenAI`` accepts them) becomes ``{"type": "json_schema",
    ...}``; a wire format, or anything else, is returned as is (classes are the adapters' to
    convert; the request check refuses what cannot be sent)."""
    if not isinstance(value, Mapping) or value.get("type") in _WIRE_RESPONSE_FORMATS:
        return value
    if "name" in value and "schema" in value:
        return {"type": "json_schema", "json_schema": dict(value)}
    spec = {"name": value.get("title") or "output", "schema": dict(value)}
    return {"type": "json_schema", "json_schema": spec}


def _adapt_response_format(out: dict[str, Any], info: ModelInfo, warn: bool) -> None:
    if out.get("response_format") is None:
        return
    response_format = out["response_format"] = as_response_format(out["response_format"])
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return
    if info.accepts_json_schema:
        return
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    _warn(
        warn,
        f"{info.name} does not accept response_format json_schema; sending json_object with "
        "the schema in a system message instead. The server does not enforce the schema: a "
        "pydantic schema is validated when parsed, a dict or TypedDict schema is not.",
    )
    messages = out.get("messages")
    if isinstance(messages, list):
        instruction = json_schema_instruction(schema if isinstance(schema, Mapping) else {})
        out["messages"] = add_system_instruction(messages, instruction)
    out["response_format"] = {"type": "json_object"}


# -------------------------------------------------------------------------------- answers


def normalize_delta(delta: dict[str, Any]) -> dict[str, Any]:
    """A stream delta as the adapters read it, changed in place: a gateway's ``reasoning``
    text is ``reasoning_content``."""
    if "reasoning" in delta:
        reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and not delta.get("reasoning_content"):
            delta["reasoning_content"] = reasoning
            del delta["reasoning"]
    return delta


normalize_message = normalize_delta
"""A whole answer's message, normalised as a delta is."""


_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def parse_json_text(text: str) -> Any:
    """The JSON value a text answer holds: the whole text, a fenced code block, or the span
    from the first ``{`` to the last ``}`` (a model that wraps JSON in a sentence). Raises
    ``ValueError`` when there is none."""
    stripped = text.strip()
    candidates = [stripped]
    fenced = _FENCE.match(stripped)
    if fenced:
        candidates.append(fenced.group(1).strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            continue
    raise ValueError("no JSON value in the text")


def fits_schema(value: Any, schema: Mapping[str, Any] | None) -> bool:
    """A light check that ``value`` is the object ``schema`` describes: an object, with every
    ``required`` key, and no unknown key when ``additionalProperties`` is false. (Values are
    the adapters' to validate: pydantic does it in full.)"""
    if not isinstance(value, dict):
        return False
    if not isinstance(schema, Mapping):
        return True
    required = schema.get("required")
    if isinstance(required, list) and any(key not in value for key in required):
        return False
    properties = schema.get("properties")
    if schema.get("additionalProperties") is False and isinstance(properties, Mapping):
        return all(key in properties for key in value)
    if isinstance(properties, Mapping) and properties and value:
        # Some of the keys must be the schema's: {"answer": ...} is not a {"setup", ...}.
        return any(key in properties for key in value)
    return True


def _excerpt(text: str, size: int = 120) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= size else text[: size - 3] + "...")


def recover_tool_call(
    message: Mapping[str, Any], forced_tool: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The call of ``forced_tool`` that an answer without tool calls gave as JSON text (a model
    asked in words to call the tool may write the arguments out instead), or None."""
    if forced_tool is None or message.get("tool_calls"):
        return None
    content = message.get("content")
    if not isinstance(content, str) or "{" not in content:
        return None
    function = forced_tool.get("function")
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        return None
    try:
        value = parse_json_text(content)
    except ValueError:
        return None
    if not fits_schema(value, function.get("parameters")):
        return None
    return {
        "id": f"call_{secrets.token_hex(12)}",
        "type": "function",
        "function": {
            "name": function["name"],
            "arguments": json.dumps(value, ensure_ascii=False),
        },
    }


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """What a structured-output answer holds: ``value`` (parsed JSON, None when nothing
    parsed), ``source`` (``"tool_call"`` or ``"text"``) and, when nothing parsed, ``error``
    saying why, in words a caller can act on."""

    value: Any = None
    source: Literal["tool_call", "text"] | None = None
    error: str | None = None


def _calls_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = message.get("tool_calls")
    return [c for c in calls if isinstance(c, Mapping)] if isinstance(calls, list) else []


def read_structured_output(
    message: Mapping[str, Any],
    *,
    method: StructuredMethod,
    tool_name: str | None = None,
    schema: Mapping[str, Any] | None = None,
) -> StructuredOutput:
    """Read a structured-output answer (a wire assistant message: ``content`` and
    ``tool_calls`` with JSON-text ``arguments``, or already-parsed dict arguments).

    ``function_calling``: the arguments of the first call of ``tool_name`` (of any tool when
    None); without one, JSON text fitting ``schema`` in the content. ``json_mode`` and
    ``json_schema``: the JSON the content holds (fitting ``schema`` when given)."""
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    if method == "function_calling":
        for call in _calls_of(message):
            function = call.get("function")
            if not isinstance(function, Mapping):
                continue
            if tool_name is not None and function.get("name") != tool_name:
                continue
            arguments = function.get("arguments")
            if isinstance(arguments, Mapping):
                return StructuredOutput(dict(arguments), "tool_call")
            try:
                value = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
            except (ValueError, RecursionError):
                return StructuredOutput(
                    error=f"The call of `{function.get('name')}` has arguments that are not "
                    f"JSON: {_excerpt(str(arguments))}."
                )
            if not isinstance(value, dict):
                return StructuredOutput(
                    error=f"The call of `{function.get('name')}` has arguments that are not a "
                    f"JSON object: {_excerpt(str(arguments))}."
                )
            return StructuredOutput(value, "tool_call")
        what = f"`{tool_name}`" if tool_name else "a tool"
        others = [
            str(c.get("function", {}).get("name"))
            for c in _calls_of(message)
            if isinstance(c.get("function"), Mapping)
        ]
        found = _json_in(text, schema)
        if found is not None:
            return StructuredOutput(found, "text")
        if others:
            why = f"The model called {', '.join(others)} instead of {what}."
        elif text.strip():
            why = f"The model answered in prose without calling {what}: {_excerpt(text)}."
        else:
            why = f"The model answered with no text and without calling {what}."
        return StructuredOutput(error=why)
    found = _json_in(text, schema)
    if found is not None:
        return StructuredOutput(found, "text")
    if not text.strip():
        return StructuredOutput(error="The model's answer has no text to parse as JSON.")
    try:
        parse_json_text(text)
    except ValueError:
        return StructuredOutput(error=f"The answer is not JSON: {_excerpt(text)}.")
    return StructuredOutput(
        error=f"The answer's JSON does not fit the schema (keys missing or unknown): "
        f"{_excerpt(text)}."
    )


def _json_in(text: str, schema: Mapping[str, Any] | None) -> Any:
    """The JSON ``text`` holds, if it fits ``schema`` (any JSON value without one)."""
    if not text.strip():
        return None
    try:
        value = parse_json_text(text)
    except ValueError:
        return None
    return value if schema is None or fits_schema(value, schema) else None
