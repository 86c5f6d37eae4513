"""``with_structured_output``: LangChain's schema types -> the wire, and the answer -> values.

How each method is requested of a model and how an answer is read are the core's rules
(``runapi_client.policy``): the function-calling method forces its tool (asked for in words
where the model cannot be forced), and an answer holding the JSON as text instead of a call
still parses. Here: schema conversion (pydantic classes, TypedDicts), pydantic validation, and
the parser, which says why nothing parsed when asked for the raw answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.json import parse_partial_json
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ConfigDict, ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1

from runapi_client.policy import (
    StructuredMethod,
    parse_json_text,
    read_structured_output,
)
from runapi_client.policy import as_response_format as wire_response_format

__all__ = [
    "StructuredMethod",
    "StructuredOutputParser",
    "as_response_format",
    "is_pydantic_class",
    "json_schema_response_format",
    "parse_as",
    "with_raw",
]


def is_pydantic_class(obj: Any) -> bool:
    return isinstance(obj, type) and is_basemodel_subclass(obj)


def json_schema_response_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    json_schema = convert_to_json_schema(schema)
    spec: dict[str, Any] = {"name": json_schema.get("title") or "output", "schema": json_schema}
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def as_response_format(value: Any) -> Any:
    """A ``response_format`` as the wire takes it: a pydantic class or TypedDict becomes its
    ``json_schema`` format here; dicts are the core's to read (``policy.as_response_format``)."""
    if isinstance(value, type):
        cached = _class_response_format(value)
        return {**cached, "json_schema": dict(cached["json_schema"])}  # the cache stays intact
    return wire_response_format(value)


@lru_cache(maxsize=64)
def _class_response_format(schema: type) -> dict[str, Any]:
    # Converting a class takes 0.2-0.4 ms; a bound response_format sends it on every call.
    return json_schema_response_format(schema, None)


def _validate(schema: Any, value: Any) -> Any:
    if hasattr(schema, "model_validate"):
        return schema.model_validate(value)
    return schema.parse_obj(value)  # a pydantic.v1 model


def parse_as(schema: type, text: str) -> Any:
    """``additional_kwargs["parsed"]`` for a pydantic ``response_format``: the answer as an
    instance of ``schema``, or None when there is no answer text (a tool call) or it does not
    fit the schema (GLM does not enforce one: the answer stays readable in the content, and
    ``with_structured_output(include_raw=True)`` reports why it did not parse)."""
    if not text.strip():
        return None
    try:
        return _validate(schema, parse_json_text(text))
    except (ValueError, ValidationError, ValidationErrorV1):  # incl. json.JSONDecodeError
        return None


def _wire_message(message: BaseMessage) -> dict[str, Any]:
    """The parts of an answer the core's reader looks at, in the wire's shape."""
    calls: list[dict[str, Any]] = []
    if isinstance(message, AIMessage):
        calls = [
            {"function": {"name": call["name"], "arguments": call["args"]}}
            for call in message.tool_calls
        ]
        calls += [
            {"function": {"name": bad.get("name"), "arguments": bad.get("args") or ""}}
            for bad in message.invalid_tool_calls
        ]
    return {"content": message.text, "tool_calls": calls}


class StructuredOutputParser(BaseCumulativeTransformOutputParser[Any]):
    """The answer of ``with_structured_output`` as a value: a dict, or an instance of a
    pydantic schema. Streamed, it yields the value as it grows (valid instances only, for a
    pydantic schema).

    When nothing parses: the function-calling method gives None (as ``ChatOpenAI`` does;
    LangChain's middleware retries on it) and the JSON methods raise; with ``strict`` (the
    raw answer asked for) it raises ``OutputParserException`` saying why, which
    ``include_raw=True`` reports as ``parsing_error``. A value that does not fit a pydantic
    schema raises in every case.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    method: StructuredMethod
    schema_: Any = None
    """The schema as given: a pydantic class is validated, anything else is returned as JSON."""
    tool_name: str | None = None
    json_schema: dict[str, Any] | None = None
    strict: bool = False

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        generation = result[0]
        if isinstance(generation, ChatGeneration):
            message: dict[str, Any] = _wire_message(generation.message)
        else:
            message = {"content": generation.text}
        if partial:
            return self._partial(generation)
        found = read_structured_output(
            message, method=self.method, tool_name=self.tool_name, schema=self.json_schema
        )
        if found.error is not None:
            # As ChatOpenAI's parsers: PydanticToolsParser refuses a call of another tool.
            other_call = is_pydantic_class(self.schema_) and any(
                call["function"]["name"] != self.tool_name for call in message["tool_calls"]
            )
            if self.strict or self.method != "function_calling" or other_call:
                raise OutputParserException(found.error, llm_output=message["content"])
            return None
        if not is_pydantic_class(self.schema_):
            return found.value
        # A value that does not fit raises pydantic's ValidationError, as in ChatOpenAI.
        return _validate(self.schema_, found.value)

    def _partial(self, generation: Generation) -> Any:
        """The value so far in a stream, or None while there is nothing valid to show."""
        value: Any = None
        if self.method == "function_calling":
            message = generation.message if isinstance(generation, ChatGeneration) else None
            for call in getattr(message, "tool_calls", None) or ():
                if self.tool_name is None or call["name"] == self.tool_name:
                    value = call["args"]
                    break
        else:
            try:
                value = parse_partial_json(generation.text)
            except ValueError:
                value = None
        if not isinstance(value, dict) or not value:
            return None
        if not is_pydantic_class(self.schema_):
            return value
        try:
            return _validate(self.schema_, value)
        except (ValidationError, ValidationErrorV1):
            return None

    def parse(self, text: str) -> Any:
        return self.parse_result([Generation(text=text)])

    @property
    def _type(self) -> str:
        return "runapi_structured_output"


def with_raw(
    llm: Runnable[LanguageModelInput, AIMessage], parser: StructuredOutputParser
) -> Runnable[LanguageModelInput, dict[str, Any]]:
    """``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}`` as LangChain's models do,
    with the parser strict, so ``parsing_error`` says why when nothing parsed."""
    strict = parser.model_copy(update={"strict": True})
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | strict, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    parser_with_fallback = parser_assign.with_fallbacks(
        [parser_none], exception_key="parsing_error"
    )
    return RunnableMap(raw=llm) | parser_with_fallback


def schema_of(schema: Any) -> dict[str, Any] | None:
    """The JSON Schema of ``schema`` (a pydantic class, TypedDict, or JSON Schema dict)."""
    if schema is None:
        return None
    if isinstance(schema, Mapping) and "parameters" in schema.get("function", {}):
        return dict(schema["function"]["parameters"])  # an OpenAI tool dict
    return convert_to_json_schema(schema)
