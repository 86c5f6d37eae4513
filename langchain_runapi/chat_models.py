"""``ChatRunAPI``: RunAPI's chat models (GLM and friends) as a LangChain chat model.

The class only maps LangChain's calling conventions onto ``runapi_client``: it builds the
request body (``_request_body``), hands it to the core, and turns the result into LangChain
messages with the pure functions in ``_messages``. Sockets, retries, SSE, stream accumulation,
usage and cost live in the core.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput, ModelProfile
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils import from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from runapi_client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    AsyncRunAPIClient,
    Balance,
    ClientConfig,
    ConfigurationError,
    Pacer,
    PreparedRequest,
    Price,
    RunAPIClient,
    get_model_info,
    prepare_request,
)
from runapi_client import ChatResult as WireResult
from runapi_client.kit import (
    STRUCTURED_OUTPUT,
    ClientCache,
    Closing,
    MaskedSettingsRepr,
    check_parameters,
    mask_url,
    raise_configuration_error,
    remember_caller,
    seal,
    sealed_key_from_env,
    sort_keywords,
)

from ._blocks import register as _register_block_translator
from ._messages import (
    completion_to_message,
    delta_to_message_chunk,
    messages_to_wire,
    response_metadata_of,
    usage_to_metadata,
)
from ._params import check_call_kwargs, check_extra_fields
from ._structured import (
    StructuredMethod,
    StructuredOutputParser,
    as_response_format,
    is_pydantic_class,
    json_schema_response_format,
    parse_as,
    schema_of,
    with_raw,
)
from ._tokens import count_message_tokens, count_text_tokens
from ._tools import ToolLike, check_tool_choice, format_tools
from .errors import model_errors

__all__ = ["ChatRunAPI"]

_register_block_translator()

_OPENAI_SETTINGS = {
    "openai_api_key": f"api_key=... (a RunAPI key) or the {API_KEY_ENV} environment variable",
    "openai_api_base": f"base_url=... or the {BASE_URL_ENV} environment variable",
    "api_base": f"base_url=... or the {BASE_URL_ENV} environment variable",
    "openai_organization": "no organization: a RunAPI key stands alone",
    "openai_proxy": "the HTTPS_PROXY environment variable, read as httpx reads it",
}
"""Constructor names from ChatOpenAI that must not become request-body fields."""

_ALIASES = (
    "model",
    "max_completion_tokens",
    "stop_sequences",
    "request_timeout",
    "http_async_client",
)
"""Constructor names that are aliases of fields."""


class ChatRunAPI(MaskedSettingsRepr, Closing, BaseChatModel):
    """Chat model on RunAPI (https://runapi.ai), e.g. ``ChatRunAPI(model="glm-4.6")``.

    Setup: ``pip install runapi-integrations[langchain]`` and ``export RUNAPI_API_KEY=...``.

    Beyond what ``ChatOpenAI`` offers on GLM, it keeps GLM's reasoning
    (``additional_kwargs["reasoning_content"]`` and a reasoning content block), reports
    cache-read and reasoning tokens in ``usage_metadata``, and puts the cost of each call in
    ``response_metadata["cost"]`` (USD) and ``["cost_details"]``. See docs/langchain.md.
    """

    model_name: str = Field(default="glm-4.6", alias="model")
    """Model id, e.g. ``"glm-4.6"``; a per-call ``model=...`` overrides it."""
    api_key: SecretStr | None = Field(default_factory=sealed_key_from_env)
    """RunAPI key; read from ``RUNAPI_API_KEY`` if not given."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """API base URL; ``RUNAPI_BASE_URL`` or ``https://runapi.ai/v1``."""
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens")
    top_p: float | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    seed: int | None = None
    timeout: float | httpx.Timeout | None = Field(default=60.0, alias="request_timeout")
    """Seconds for connecting and for each read (None: no limit), or an ``httpx.Timeout``."""
    total_timeout: float | None = None
    """A deadline for the whole call in seconds: every attempt, the waits between them and all
    of a stream (a stream kept alive by pings is never stopped by ``timeout``)."""
    max_event_bytes: int | None = None
    """The most one event of a stream may hold (None: 16 MB); past it the stream ends with an
    ``IncompleteStreamError`` that keeps what arrived."""
    pacing: bool = True
    """Calls on one key share one pace: when RunAPI says "too many", they all hold back
    (``llm.pacer.stats()``). False: each call meets its 429s alone."""
    max_concurrency: int | None = None
    """At most this many of this model's calls in flight at once on the key."""
    max_retries: int = 2
    """Retries on connection errors, 408/429/5xx, honouring ``Retry-After``."""
    streaming: bool = False
    """Stream under ``invoke`` too (e.g. so callbacks see tokens)."""
    stream_usage: bool = True
    """Attach ``usage_metadata`` to the last chunk of a stream. Usage is requested from the
    server either way, so cost tracking (``get_runapi_callback``) keeps counting."""
    reasoning: bool | None = None
    """GLM thinking on (True) or off (False); None leaves the model's default."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other Chat Completions parameters, sent as given."""
    extra_body: dict[str, Any] | None = None
    """Extra fields merged into the request body (RunAPI/GLM-specific ones)."""
    default_headers: dict[str, str] | None = Field(default=None, exclude=True)
    price: Price | None = Field(default=None, exclude=True)
    """This instance's price (USD per 1M tokens), overriding the built-in table."""
    prices: str | None = None
    """Where costs are priced from: ``"live"`` (RunAPI's price list, loaded once per process
    and cached on disk) or ``"built-in"``; None reads ``RUNAPI_PRICES`` (else built-in).
    ``price`` still wins for this model."""
    price_list_url: str | None = None
    """RunAPI's price list; ``RUNAPI_PRICE_LIST_URL`` or runapi.ai's (never the base URL's)."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` (e.g. with a ``MockTransport``) instead of the shared pool."""
    async_http_client: httpx.AsyncClient | None = Field(
        default=None,
        exclude=True,
        validation_alias=AliasChoices("async_http_client", "http_async_client"),
    )
    """Your own ``httpx.AsyncClient`` (``http_async_client``, ChatOpenAI's name, works too)."""

    # hide_input_in_errors: a ValidationError would otherwise quote the raw input, key included.
    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    # Rebuilt when a connection field changes after the first call, by assignment or
    # model_copy(update=...), which skip validation (see _client_key).
    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    def __init__(self, **kwargs: Any) -> None:
        """A missing key or another bad setting is the same ``ConfigurationError`` as in the
        core and ``RunAPILLM`` (naming ``RUNAPI_API_KEY``), not pydantic's wrapper of it."""
        if kwargs.get("api_key") is not None:  # sealed first, as in the core (kit.seal)
            kwargs["api_key"] = seal(kwargs["api_key"])
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            raise_configuration_error(exc)
            raise

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_list(cls, value: Any) -> Any:
        """A single stop string is accepted, as in ``ChatOpenAI`` and on the wire."""
        return [value] if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _collect_model_kwargs(cls, values: dict[str, Any]) -> Any:
        """Constructor keywords that are Chat Completions request fields go to
        ``model_kwargs``; a misspelt one is an error with a did-you-mean (the core's
        ``sort_keywords``, which ``RunAPILLM`` uses too)."""
        if not isinstance(values, dict):
            return values
        known = {*cls.model_fields, *_ALIASES}
        for name in values:
            if name in _OPENAI_SETTINGS:
                # Sent on as a body field, ChatOpenAI's key or URL would go to RunAPI and sit
                # in model_kwargs, i.e. in this model's repr.
                raise ConfigurationError(
                    f"{name} is ChatOpenAI's setting; ChatRunAPI takes "
                    f"{_OPENAI_SETTINGS[name]} instead."
                )
        extra = sort_keywords(
            "ChatRunAPI", values, known, extra_home="model_kwargs={...} or extra_body={...}"
        )
        if not extra:
            return values
        model_kwargs = dict(values.get("model_kwargs") or {})
        for name in extra:
            if name in model_kwargs:
                raise ConfigurationError(f"{name} was given both directly and in model_kwargs.")
            model_kwargs[name] = values.pop(name)
        values["model_kwargs"] = model_kwargs
        return values

    @model_validator(mode="after")
    def _check_config(self) -> Self:
        # Fail at construction, not on the first call: key, base URL, timeout, retries,
        # headers, parameter ranges, and fields that model_kwargs/extra_body would override.
        self._config()  # key, URL, timeout, retries, headers
        check_extra_fields(self.model_kwargs, self.extra_body or {}, self.reasoning)
        check_parameters(self._settings())
        return self

    # ------------------------------------------------------------------ LangChain plumbing

    @property
    def _llm_type(self) -> str:
        return "runapi-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        secrets = {"api_key": API_KEY_ENV}
        if self.base_url and mask_url(self.base_url) != self.base_url:
            # A base URL with credentials in it is a secret too: saved as a reference to the
            # variable, never its value (load(..., secrets_from_env=True) reads it back).
            secrets["base_url"] = BASE_URL_ENV
        return secrets

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_runapi", "chat_models"]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "seed": self.seed,
            "reasoning": self.reasoning,
            "model_kwargs": self.model_kwargs,
            "extra_body": self.extra_body,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="runapi",
            ls_model_name=kwargs.get("model") or self.model_name,
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
        )
        if max_tokens := kwargs.get("max_tokens", self.max_tokens):
            params["ls_max_tokens"] = max_tokens
        if ls_stop := stop or kwargs.get("stop") or self.stop:
            params["ls_stop"] = ls_stop
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        info = get_model_info(self.model_name)
        return ModelProfile(
            max_input_tokens=info.context_window,
            max_output_tokens=info.max_output_tokens,
            text_inputs=True,
            image_inputs=info.image_input,
            image_url_inputs=info.image_input,
            text_outputs=True,
            reasoning_output=info.reasoning,
            tool_calling=info.supports_tools,
            # "tool_choice" in a profile means choices beyond "auto" (forcing a tool).
            tool_choice=any(c != "auto" for c in info.tool_choice),
            tool_call_streaming=info.supports_tools,
            structured_output=info.accepts_json_schema,
        )

    # -------------------------------------------------------------------------- clients

    def _config(self) -> ClientConfig:
        return ClientConfig.from_settings(self)

    def _prices(self) -> dict[str, Price] | None:
        return {self.model_name: self.price} if self.price is not None else None

    @property
    def client(self) -> RunAPIClient:
        """The core client, built on first use and rebuilt only when a setting changed (equal
        settings share one pool, so rebuilding is cheap)."""
        return self._clients.sync(self)

    @property
    def async_client(self) -> AsyncRunAPIClient:
        return self._clients.async_(self)

    def balance(self) -> Balance:
        """The account's balance and spend in USD, with this model's key and settings (the
        core's ``RunAPIClient.balance``; errors as a call's)."""
        with model_errors():
            return self.client.balance()

    async def abalance(self) -> Balance:
        with model_errors():
            return await self.async_client.balance()

    @property
    def pacer(self) -> Pacer | None:
        """The pace this model's calls share with every client on the same key (``stats()``),
        None with ``pacing=False``."""
        return self.client.pacer

    # ------------------------------------------------------------------------- requests

    def _settings(self) -> dict[str, Any]:
        """The wire fields this instance sets: its own fields, then model_kwargs/extra_body
        (which the constructor checked cannot overlap them)."""
        body: dict[str, Any] = {"model": self.model_name}
        for name in ("temperature", "max_tokens", "top_p", "seed", "stop"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        body.update(self.model_kwargs)
        body.update(self.extra_body or {})
        return body

    def _request_body(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> PreparedRequest:
        """The wire request: the instance's settings, overridden by the call's kwargs, then
        adapted to the model by the core's policy (as ``RunAPILLM``'s requests are)."""
        # Not request fields: stream (the method decides), LangChain's tracing marker, and our
        # structured-output marker (its forced tool is asked for in words without a warning).
        kwargs.pop("stream", None)
        kwargs.pop("ls_structured_output_format", None)
        structured = bool(kwargs.pop(STRUCTURED_OUTPUT, False))
        check_call_kwargs(kwargs)
        body = self._settings()
        if stop is not None:
            body["stop"] = stop
        reasoning = kwargs.pop("reasoning", self.reasoning)
        body.update(kwargs)
        if not body.get("stop"):
            body.pop("stop", None)
        if reasoning is not None and "thinking" not in body:
            body["thinking"] = {"type": "enabled" if reasoning else "disabled"}
        if body.get("response_format") is not None:
            body["response_format"] = as_response_format(body["response_format"])
        body["messages"] = messages_to_wire(messages)
        return prepare_request(body, structured=structured)

    def _chat_result(
        self, result: WireResult, model: str, response_format: Any = None
    ) -> ChatResult:
        metadata = self._final_metadata(result, model)
        message = completion_to_message(
            result.completion,
            response_metadata=metadata,
            usage_metadata=usage_to_metadata(result.usage) if result.usage else None,
        )
        if is_pydantic_class(response_format):
            message.additional_kwargs["parsed"] = parse_as(response_format, message.text)
        llm_output = {"model_name": metadata["model_name"], "token_usage": dict(result.usage or {})}
        return ChatResult(generations=[ChatGeneration(message=message)], llm_output=llm_output)

    @staticmethod
    def _final_metadata(result: WireResult | None, model: str) -> dict[str, Any]:
        if result is None:
            return {"model_name": model, "model_provider": "runapi"}
        metadata = response_metadata_of(result.completion, model)
        if result.request_id:
            metadata["request_id"] = result.request_id
        if result.cost is not None:
            metadata["cost"] = result.cost.total
            metadata["cost_details"] = result.cost.as_dict()
        return metadata

    def _last_chunk(
        self,
        result: WireResult | None,
        model: str,
        stream_usage: bool,
        response_format: Any = None,
    ) -> ChatGenerationChunk:
        """The one chunk carrying finish reason, model, id, usage and cost (and, as in
        ``ChatOpenAI``, ``additional_kwargs["parsed"]`` for a pydantic ``response_format``)."""
        usage = result.usage if result is not None else None
        extra: dict[str, Any] = {}
        if result is not None and is_pydantic_class(response_format):
            message = (result.completion.get("choices") or [{}])[0].get("message") or {}
            parsed = parse_as(response_format, message.get("content") or "")
            extra["additional_kwargs"] = {"parsed": parsed}
        chunk = AIMessageChunk(
            content="",
            response_metadata=self._final_metadata(result, model),
            usage_metadata=usage_to_metadata(usage) if usage and stream_usage else None,
            chunk_position="last",
            id=(result.completion.get("id") or None) if result is not None else None,
            **extra,
        )
        return ChatGenerationChunk(message=chunk)

    def _response_format(self, kwargs: Mapping[str, Any]) -> Any:
        """The call's ``response_format`` as given (e.g. a pydantic class), before the request
        body turns it into a wire format."""
        if "response_format" in kwargs:
            return kwargs["response_format"]
        return (self.extra_body or {}).get("response_format") or self.model_kwargs.get(
            "response_format"
        )

    # ------------------------------------------------------------------------ the calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kwargs.pop("stream_usage", None)
        response_format = self._response_format(kwargs)
        with model_errors():
            request = self._request_body(messages, stop, **kwargs)
            result = self.client.chat_completion(request)
        return self._chat_result(result, request.body["model"], response_format)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kwargs.pop("stream_usage", None)
        response_format = self._response_format(kwargs)
        with model_errors():
            request = self._request_body(messages, stop, **kwargs)
            result = await self.async_client.chat_completion(request)
        return self._chat_result(result, request.body["model"], response_format)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stream_usage = kwargs.pop("stream_usage", self.stream_usage)
        response_format = self._response_format(kwargs)
        with model_errors():
            request = self._request_body(messages, stop, **kwargs)
            with self.client.stream_chat_completion(request) as stream:
                for wire_chunk in stream:
                    message = delta_to_message_chunk(wire_chunk)
                    if message is None:
                        continue
                    chunk = ChatGenerationChunk(message=message)
                    if run_manager:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                last = self._last_chunk(
                    stream.result, request.body["model"], stream_usage, response_format
                )
        if run_manager:
            run_manager.on_llm_new_token("", chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        stream_usage = kwargs.pop("stream_usage", self.stream_usage)
        response_format = self._response_format(kwargs)
        with model_errors():
            request = self._request_body(messages, stop, **kwargs)
            async with self.async_client.stream_chat_completion(request) as stream:
                async for wire_chunk in stream:
                    message = delta_to_message_chunk(wire_chunk)
                    if message is None:
                        continue
                    chunk = ChatGenerationChunk(message=message)
                    if run_manager:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                last = self._last_chunk(
                    stream.result, request.body["model"], stream_usage, response_format
                )
        if run_manager:
            await run_manager.on_llm_new_token("", chunk=last)
        yield last

    # LangChain makes ainvoke's call in an asyncio task (agenerate gathers), batch's in worker
    # threads and abatch's in tasks: the caller's line is noted before, for a warning raised
    # there (a forced tool_choice, a model without a price) to name it.

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        with remember_caller():
            return await super().ainvoke(input, config, stop=stop, **kwargs)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[AIMessage]:
        with remember_caller():
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[AIMessage]:
        with remember_caller():
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )

    # LangChain looks at ``_generate``'s and ``_agenerate``'s signatures on every call (does it
    # take ``run_manager``?); computed here once (``inspect.signature`` returns a function's
    # ``__signature__``), so that check is not redone per call. Subclasses that override
    # either method are unaffected.
    _generate.__signature__ = inspect.signature(_generate)  # type: ignore[attr-defined]
    _agenerate.__signature__ = inspect.signature(_agenerate)  # type: ignore[attr-defined]

    # ------------------------------------------------------------- token estimates

    def get_num_tokens(self, text: str) -> int:
        """Estimated tokens in ``text``, without a tokenizer (see ``_tokens``): RunAPI reports
        the exact count in ``usage_metadata`` after a call."""
        return count_text_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimated prompt tokens, scaled up by the latest answer's reported usage when that
        shows the estimate runs low; what ``trim_messages(token_counter=model)`` calls."""
        return count_message_tokens(messages, tools)

    # ------------------------------------------------------------- tools and structure

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic models, OpenAI tool dicts).

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``, ``True`` (the one
        tool), or a tool name. GLM accepts ``"auto"`` only; what is sent instead is the core's
        rule, the same in ``RunAPILLM`` (docs/langchain.md, "Tools"): a forcing choice is
        asked for in words, with a warning quoting what you wrote, and a named tool is the
        only one offered; ``"none"`` sends no tools. ``parallel_tool_calls=False`` on a model
        without the field keeps the first call of each answer.
        """
        formatted = format_tools(tools, strict=strict)
        choice = check_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def default_structured_output_method(self) -> StructuredMethod:
        """``json_schema`` where the model enforces schemas, else ``function_calling``."""
        if get_model_info(self.model_name).accepts_json_schema:
            return "json_schema"
        return "function_calling"

    def with_structured_output(  # type: ignore[override]
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: StructuredMethod | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answers shaped by ``schema`` (pydantic class, TypedDict or JSON Schema dict).

        ``method``: ``function_calling`` (a tool with the schema, forced; GLM's default: it
        cannot be forced, so the tool is asked for in words, and an answer giving the JSON as
        text instead still parses), ``json_mode`` (``response_format`` ``json_object``;
        describe the keys in the prompt), or ``json_schema`` (native where the model enforces
        it; on GLM sent as ``json_object`` plus the schema in a system message, with a
        warning). When nothing parses, ``function_calling`` gives None (as ``ChatOpenAI``;
        LangChain's middleware retries on it) and the JSON methods raise; ``include_raw=True``
        puts the reason in ``parsing_error``.
        """
        method = method or self.default_structured_output_method()
        if schema is None and method != "json_mode":
            raise ValueError(f"method={method!r} needs a schema; json_mode works without one.")
        llm: Runnable[LanguageModelInput, Any]
        tool_name: str | None = None
        if method == "function_calling":
            tool = convert_to_openai_tool(schema, strict=strict)  # type: ignore[arg-type]
            tool_name = tool["function"]["name"]
            llm = self.bind_tools(
                [tool],
                tool_choice=tool_name,
                strict=strict,
                **{STRUCTURED_OUTPUT: True},
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": tool,
                },
                **kwargs,
            )
        elif method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"},
                **{STRUCTURED_OUTPUT: True},
                ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
                **kwargs,
            )
        elif method == "json_schema":
            response_format = json_schema_response_format(schema, strict)
            llm = self.bind(
                response_format=response_format,
                **{STRUCTURED_OUTPUT: True},
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": response_format["json_schema"]["schema"],
                },
                **kwargs,
            )
        else:
            raise ValueError(
                f"method must be 'function_calling', 'json_mode' or 'json_schema', not {method!r}."
            )
        parser = StructuredOutputParser(
            method=method, schema_=schema, tool_name=tool_name, json_schema=schema_of(schema)
        )
        if include_raw:
            return with_raw(llm, parser)
        return llm | parser
