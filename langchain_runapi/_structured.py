"""``with_structured_output`` pieces: the request fields and the parser for each method.

``json_schema`` on a model that does not accept it (GLM) is adapted at request time by
:func:`adapt_response_format`: the request goes out as ``json_object`` with the schema spelled
out in a system message, and a ``UserWarning`` says so.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
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
from langchain_core.utils.pydantic import is_basemodel_subclass

from runapi_client import ModelInfo

__all__ = [
    "StructuredMethod",
    "adapt_response_format",
    "json_schema_response_format",
    "output_parser",
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


def output_parser(schema: Any, method: StructuredMethod) -> OutputParserLike[Any]:
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
    """Send ``json_schema`` as ``json_object`` plus instructions where the model needs it."""
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return
    if info.accepts_json_schema:
        return
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or {}
    warnings.warn(
        f"{body.get('model')} does not accept response_format json_schema; sending "
        "json_object with the schema in a system message instead (the server does not "
        "enforce it, the parser checks it).",
        UserWarning,
        stacklevel=4,
    )
    instruction = (
        "Reply with one JSON object only, no prose and no code fences, that conforms to "
        f"this JSON Schema:\n{json.dumps(schema, ensure_ascii=False)}"
    )
    messages = list(body["messages"])
    first = messages[0] if messages else {}
    if first.get("role") == "system" and isinstance(first.get("content"), str):
        # One system message at the head: some models refuse a second one.
        messages[0] = {**first, "content": f"{first['content']}\n\n{instruction}"}
    else:
        messages.insert(0, {"role": "system", "content": instruction})
    body["messages"] = messages
    body["response_format"] = {"type": "json_object"}
