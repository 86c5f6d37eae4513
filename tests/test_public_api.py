"""Each package's public API, pinned: the exact ``__all__`` of every public module, each of its
names importable, the adapters' error names the core's very classes, and every exported error
class naming a public module as its home (pickles and tracebacks record ``__module__``).

A change to a list below is a change to the public API: make it on purpose, with the package.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

import runapi_client.errors

PUBLIC_API: dict[str, list[str]] = {
    "runapi_client": [
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "API_KEY_ENV",
        "Account",
        "AsyncChatStream",
        "AsyncRunAPIClient",
        "AuthenticationError",
        "BASE_URL_ENV",
        "BadRequestError",
        "Balance",
        "BudgetExceededError",
        "CATALOG",
        "ChatCompletion",
        "ChatCompletionChunk",
        "ChatRequest",
        "ChatResult",
        "ChatStream",
        "ClientConfig",
        "ConfigurationError",
        "ContentFilterError",
        "ContextOverflowError",
        "Cost",
        "DEFAULT_BASE_URL",
        "DEFAULT_EMBEDDING_MODEL",
        "DEFAULT_MODEL_INFO",
        "DEFAULT_PRICE_LIST_URL",
        "EmbeddedTexts",
        "EmbeddingResult",
        "IncompleteStreamError",
        "InsufficientCreditsError",
        "MAX_EMBEDDING_INPUTS",
        "Model",
        "ModelInfo",
        "ModelUsage",
        "NotFoundError",
        "PRICES",
        "PRICES_AS_OF",
        "PRICES_ENV",
        "PRICE_LIST_TTL_ENV",
        "PRICE_LIST_URL_ENV",
        "Pacer",
        "PermissionDeniedError",
        "PreparedRequest",
        "Price",
        "PriceList",
        "RateLimitError",
        "RedirectError",
        "RequestOptions",
        "RunAPIClient",
        "RunAPIError",
        "RunAPIWarning",
        "SSEDecoder",
        "ServerError",
        "ServerSentEvent",
        "StreamAccumulator",
        "StreamInterruptedError",
        "StreamTimeoutError",
        "ToolCall",
        "Usage",
        "UsageLimitError",
        "UsageTracker",
        "__version__",
        "aembed_texts",
        "base_model",
        "batch_texts",
        "configure_telemetry",
        "cost_of",
        "embed_texts",
        "error_from_response",
        "error_from_stream_payload",
        "errors",
        "estimate_tokens",
        "format_usd",
        "get_model_info",
        "get_price",
        "kit",
        "model_key",
        "normalize_base_url",
        "parse_error_body",
        "parse_price_schedules",
        "parse_reset_time",
        "parse_retry_after",
        "policy",
        "prepare_request",
        "set_price",
        "token_counts",
        "track_usage",
        "validate_chat_request",
    ],
    "runapi_client.errors": [
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "BudgetExceededError",
        "ConfigurationError",
        "ContentFilterError",
        "ContextOverflowError",
        "IncompleteStreamError",
        "InsufficientCreditsError",
        "NotFoundError",
        "PermissionDeniedError",
        "RateLimitError",
        "RedirectError",
        "RunAPIError",
        "ServerError",
        "StreamInterruptedError",
        "StreamTimeoutError",
        "UsageLimitError",
        "error_from_response",
        "error_from_stream_payload",
        "parse_error_body",
        "parse_reset_time",
        "parse_retry_after",
    ],
    "runapi_client.policy": [
        "PreparedRequest",
        "StructuredMethod",
        "StructuredOutput",
        "TOOL_CALL_INSTRUCTION",
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
    ],
    "runapi_client.kit": [
        "BYTES_PER_TOKEN",
        "ClientCache",
        "ClientOwner",
        "Closing",
        "DEFAULT_EMBEDDING_BATCH_SIZE",
        "DEFAULT_EMBEDDING_CONCURRENCY",
        "DEFAULT_MAX_RETRIES",
        "DEFAULT_TIMEOUT",
        "MaskedSettingsRepr",
        "STRUCTURED_OUTPUT",
        "WIRE_FIELDS",
        "check_parameters",
        "is_secret_header",
        "mask_headers",
        "mask_url",
        "public_settings",
        "raise_configuration_error",
        "remember_caller",
        "seal",
        "sealed_key_from_env",
        "settings_key",
        "sort_keywords",
        "utf8_size",
        "warn_at_caller",
    ],
    "langchain_runapi": [
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "BudgetExceededError",
        "ChatRunAPI",
        "ConfigurationError",
        "ContentFilterError",
        "ContextOverflowError",
        "IncompleteStreamError",
        "InsufficientCreditsError",
        "NotFoundError",
        "PermissionDeniedError",
        "Price",
        "RateLimitError",
        "RedirectError",
        "RunAPIEmbeddings",
        "RunAPIError",
        "RunAPIUsage",
        "ServerError",
        "StreamInterruptedError",
        "StreamTimeoutError",
        "UsageLimitError",
        "error_from_response",
        "error_from_stream_payload",
        "get_runapi_callback",
        "parse_error_body",
        "parse_reset_time",
        "parse_retry_after",
    ],
    "langchain_runapi.errors": [
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "BudgetExceededError",
        "ConfigurationError",
        "ContentFilterError",
        "ContextOverflowError",
        "IncompleteStreamError",
        "InsufficientCreditsError",
        "NotFoundError",
        "PermissionDeniedError",
        "RateLimitError",
        "RedirectError",
        "ServerError",
        "StreamInterruptedError",
        "StreamTimeoutError",
        "UsageLimitError",
    ],
    "llama_index_runapi": [
        "APIConnectionError",
        "APIStatusError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "BudgetExceededError",
        "ConfigurationError",
        "ContentFilterError",
        "ContextOverflowError",
        "DEFAULT_MODEL",
        "IncompleteStreamError",
        "InsufficientCreditsError",
        "NotFoundError",
        "PermissionDeniedError",
        "Price",
        "RateLimitError",
        "RedirectError",
        "RunAPIEmbedding",
        "RunAPIError",
        "RunAPILLM",
        "ServerError",
        "StreamInterruptedError",
        "StreamTimeoutError",
        "UsageLimitError",
        "UsageTracker",
        "error_from_response",
        "error_from_stream_payload",
        "parse_error_body",
        "parse_reset_time",
        "parse_retry_after",
        "track_usage",
    ],
    "llama_index.llms.runapi": [
        "RunAPILLM",
        "track_usage",
    ],
    "llama_index.embeddings.runapi": [
        "RunAPIEmbedding",
    ],
}
MODULES = sorted(PUBLIC_API)
ADAPTERS = ["langchain_runapi", "llama_index_runapi"]


def module(name: str) -> ModuleType:
    return importlib.import_module(name)


def exported_error_classes(name: str) -> list[type[BaseException]]:
    found = [getattr(module(name), export) for export in module(name).__all__]
    return [o for o in found if inspect.isclass(o) and issubclass(o, BaseException)]


def test_the_pinned_lists_are_sorted_and_without_repeats() -> None:
    for name, exports in PUBLIC_API.items():
        assert exports == sorted(set(exports)), name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exactly_the_pinned_list(name: str) -> None:
    exports = module(name).__all__
    assert sorted(exports) == PUBLIC_API[name]
    assert len(exports) == len(set(exports))  # no name listed twice


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_is_importable(name: str) -> None:
    for export in module(name).__all__:
        namespace: dict[str, object] = {}
        exec(f"from {name} import {export}", namespace)  # as a user's import would
        assert namespace[export] is getattr(module(name), export)
    star: dict[str, object] = {}
    exec(f"from {name} import *", star)
    assert sorted(k for k in star if k != "__builtins__") == PUBLIC_API[name]


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_adapters_error_names_are_the_cores_classes(name: str) -> None:
    adapter = module(name)
    for error in runapi_client.errors.ERROR_CLASSES:  # every one, listed in __all__ or not
        assert getattr(adapter, error) is getattr(runapi_client.errors, error), error
    for export in adapter.__all__:
        if export in runapi_client.errors.__all__:
            assert getattr(adapter, export) is getattr(runapi_client.errors, export), export


def test_langchains_twins_are_subclasses_of_the_cores_classes() -> None:
    twins = module("langchain_runapi.errors")
    assert set(twins.__all__) == set(runapi_client.errors.ERROR_CLASSES) - {"RunAPIError"}
    for error in twins.__all__:
        twin = getattr(twins, error)
        core = getattr(runapi_client.errors, error)
        assert twin is not core and issubclass(twin, core), error
        assert twin.__name__ == error


@pytest.mark.parametrize("name", MODULES)
def test_exported_error_classes_live_in_a_public_module(name: str) -> None:
    for cls in exported_error_classes(name):
        segments = cls.__module__.split(".")
        assert not any(s.startswith("_") for s in segments), f"{cls.__name__}: {cls.__module__}"
        assert getattr(module(cls.__module__), cls.__name__) is cls  # found where it says
