"""``with_structured_output`` pieces: the request fields and the parser for each method.

``json_schema`` on a model that does not accept it (GLM) is adapted at request time by
:func:`adapt_response_format`: the request goes out as ``json_object`` with the schema spelled
out in a system message, and a ``UserWarning`` says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.base import OutputParserLike
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.json import parse_json_markdown
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ValidationError

from runapi_client import ModelInfo
from runapi_client._instructions import add_system_instruction
from runapi_client._warn import warn_at_caller

__all__ = [
    "StructuredMethod",
    "adapt_response_format",
    "as_response_format",
    "is_pydantic_class",
    "json_schema_response_format",
    "output_parser",
    "parse_as",
    "with_raw",
]

StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]


def is_pydantic_class(obj: Any) -> bool:
    return isinstance(obj, type) and is_basemodel_subclass(obj)


def json_schema_response_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    json_schema = convert_to_json_schema(schema)
    spec: dict[str, Any] = {"name": json_schema.get("title") or "output", "schema": json_schema}
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


# The response_format types of the wire; any other dict is taken for a schema.
_WIRE_RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})


def as_response_format(value: Any) -> Any:
    """A ``response_format`` as the wire takes it. A pydantic class, a TypedDict, a JSON Schema
    dict or a ``{"name": ..., "schema": ...}`` spec (what ``bind(response_format=...)``
    accepts in ``ChatOpenAI``) becomes ``{"type": "json_schema", ...}``; a wire format, or
    anything else, is returned as is (the core refuses what cannot be sent)."""
    if isinstance(value, Mapping):
        if value.get("type") in _WIRE_RESPONSE_FORMATS:
            return value
        if "name" in value and "schema" in value:
            return {"type": "json_schema", "json_schema": dict(value)}
        # A JSON Schema is sent as given (LangChain's converter would insist on a title).
        spec = {"name": value.get("title") or "output", "schema": dict(value)}
        return {"type": "json_schema", "json_schema": spec}
    if isinstance(value, type):
        cached = _class_response_format(value)
        return {**cached, "json_schema": dict(cached["json_schema"])}  # the cache stays intact
    return value


@lru_cache(maxsize=64)
def _class_response_format(schema: type) -> dict[str, Any]:
    # Converting a class takes 0.2-0.4 ms; a bound response_format sends it on every call.
    return json_schema_response_format(schema, None)


def parse_as(schema: type, text: str) -> Any:
    """``additional_kwargs["parsed"]`` for a pydantic ``response_format``: the answer as an
    instance of ``schema``, or None when there is no answer text (a tool call) or it does not
    fit the schema. ``ChatOpenAI`` raises in that last case, but GLM does not enforce the
    schema (see :func:`adapt_response_format`): the answer stays readable in the content, and
    ``with_structured_output(include_raw=True)`` reports why it did not parse."""
    if not text.strip():
        return None
    try:
        return schema.model_validate(parse_json_markdown(text))  # type: ignore[attr-defined]
    except (ValueError, ValidationError):  # json.JSONDecodeError is a ValueError
        return None


def output_parser(schema: Any, method: StructuredMethod) -> OutputParserLike[Any]:
    """The parser ``ChatOpenAI`` uses for ``method``. With ``function_calling``, an answer that
    does not call the schema's tool parses to None (GLM may answer in prose: it cannot be
    forced to call the tool), as do arguments that are not JSON (they sit in
    ``invalid_tool_calls``); arguments that do not fit a pydantic schema raise. LangChain's
    middleware (``LLMToolSelectorMiddleware``) retries on None and then falls back."""
    if method == "function_calling":
        if is_pydantic_class(schema):
            return PydanticToolsParser(tools=[schema], first_tool_only=True)
        name = convert_to_openai_tool(schema)["function"]["name"]
        return JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    if is_pydantic_class(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def with_raw(
    llm: Runnable[LanguageModelInput, AIMessage], parser: OutputParserLike[Any]
) -> Runnable[LanguageModelInput, dict[str, Any]]:
    """``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}`` as LangChain's models do."""
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    parser_with_fallback = parser_assign.with_fallbacks(
        [parser_none], exception_key="parsing_error"
    )
    return RunnableMap(raw=llm) | parser_with_fallback


def adapt_response_format(body: dict[str, Any], info: ModelInfo) -> None:
    """Turn a schema given as ``response_format`` into the wire's ``json_schema`` format, and
    send ``json_schema`` as ``json_object`` plus instructions where the model needs it."""
    response_format = body.get("response_format")
    if response_format is None:
        return
    response_format = body["response_format"] = as_response_format(response_format)
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return
    if info.accepts_json_schema:
        return
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {}
    warn_at_caller(
        f"{body.get('model')} does not accept response_format json_schema; sending "
        "json_object with the schema in a system message instead. The server does not "
        "enforce the schema: a pydantic schema is validated when parsed, a dict or "
        "TypedDict schema is not."
    )
    instruction = (
        "Reply with one JSON object only, no prose and no code fences, that conforms to "
        f"this JSON Schema:\n{json.dumps(schema, ensure_ascii=False)}"
    )
    body["messages"] = add_system_instruction(body["messages"], instruction)
    body["response_format"] = {"type": "json_object"}
