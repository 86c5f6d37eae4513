"""``RunAPILLM``: RunAPI's chat models (GLM first) as a LlamaIndex ``FunctionCallingLLM``.

The core (``runapi_client``) does the HTTP, retries, SSE, stream accumulation, usage and cost;
this class only converts LlamaIndex messages to a request dict and the results back
(``_messages``, ``_tools``, ``_streams``). Streams yield the cumulative message on every chunk,
reasoning-only chunks included, with usage and cost on the last response only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ThinkingBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr, field_validator
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.program.function_program import FunctionCallingProgram
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode

from runapi_client import (
    AsyncRunAPIClient,
    Balance,
    ChatResult,
    ClientConfig,
    ConfigurationError,
    ModelInfo,
    Pacer,
    PreparedRequest,
    Price,
    RunAPIClient,
    RunAPIError,
    get_model_info,
    prepare_request,
    token_counts,
)
from runapi_client.kit import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    STRUCTURED_OUTPUT,
    ClientCache,
    Closing,
    MaskedSettingsRepr,
    public_settings,
    seal,
    sort_keywords,
)

from ._messages import from_wire_message, response_kwargs, to_wire_messages
from ._names import apply_other_names
from ._streams import StreamView
from ._tools import tool_fields, tool_selections

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "RunAPILLM"]

DEFAULT_MODEL = "glm-4.6"

OUTPUT_RESERVE = 16_384
"""``metadata.num_output`` when ``max_tokens`` is unset (capped at the model's output limit).

LlamaIndex's prompt helper keeps ``num_output`` tokens of the context window free for the
answer. GLM-4.6 may write up to 131,072 tokens, but reserving all of them would leave query
engines only 73K of its 204,800-token window (32K of glm-4.5's) for retrieved text; 16K holds
GLM's reasoning and a long answer. Set ``max_tokens`` to reserve (and cap) exactly that much.
"""

OTHER_NAMES = {"api_base": "base_url", "model_name": "model", "request_timeout": "timeout"}
"""Constructor names other integrations use for a field: ``OpenAILike(api_base=...)``,
``model_name`` as LlamaIndex's embeddings (``RunAPIEmbedding`` too) name the model, and
``request_timeout``, ChatOpenAI's (and ``ChatRunAPI``'s) other name for ``timeout``."""


class RunAPILLM(MaskedSettingsRepr, Closing, FunctionCallingLLM):
    """A RunAPI chat model for LlamaIndex.

    ```python
    from llama_index_runapi import RunAPILLM

    llm = RunAPILLM(model="glm-4.6")  # key from RUNAPI_API_KEY
    response = llm.chat([ChatMessage(role="user", content="Hello")])
    response.additional_kwargs["cost"]  # USD
    ```
    """

    model: str = Field(default=DEFAULT_MODEL, description="RunAPI model id, e.g. 'glm-4.6'.")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,  # never in to_dict()/to_json(); from_dict() reads RUNAPI_API_KEY again
        repr=False,
        description="RunAPI API key; defaults to the RUNAPI_API_KEY environment variable.",
    )
    base_url: str | None = Field(
        default=None, description="Defaults to RUNAPI_BASE_URL, else https://runapi.ai/v1."
    )
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="None leaves the model's default."
    )
    max_tokens: int | None = Field(default=None, gt=0, description="Output token limit.")
    timeout: float | httpx.Timeout | None = Field(
        default=DEFAULT_TIMEOUT,
        description="Seconds for connecting and each read, or an httpx.Timeout.",
    )
    total_timeout: float | None = Field(
        default=None,
        description="A deadline for the whole call (retries and the whole stream included).",
    )
    max_event_bytes: int | None = Field(
        default=None,
        description="The most one event of a stream may hold (None: 16 MB); past it the "
        "stream ends with an IncompleteStreamError that keeps what arrived.",
    )
    pacing: bool = Field(
        default=True,
        description="Calls on one key share one pace: on 'too many' they all hold back.",
    )
    max_concurrency: int | None = Field(
        default=None, gt=0, description="At most this many calls in flight at once on the key."
    )
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        ge=0,
        description="Retries, done by the core only: 2 means at most 3 requests per call.",
    )
    reasoning: bool | None = Field(
        default=None,
        description="GLM thinking on (True) or off (False); None leaves the model's default.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra fields merged into every request body."
    )
    default_headers: dict[str, str] | None = Field(default=None)
    price: Price | None = Field(
        default=None, description="USD per 1M tokens for this model, overriding the built-in table."
    )
    prices: str | None = Field(
        default=None,
        description="'live': RunAPI's price list (loaded once per process, cached on disk); "
        "'built-in'; None reads RUNAPI_PRICES. `price` still wins for this model.",
    )
    price_list_url: str | None = Field(
        default=None, description="RunAPI's price list; RUNAPI_PRICE_LIST_URL or runapi.ai's."
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window."
    )

    http_client: httpx.Client | None = Field(
        default=None,
        exclude=True,
        description="Your own httpx.Client (e.g. with a MockTransport) instead of the shared pool.",
    )
    async_http_client: httpx.AsyncClient | None = Field(
        default=None, exclude=True, description="Your own httpx.AsyncClient."
    )

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    def __init__(self, **kwargs: Any) -> None:
        """``api_base`` and ``model_name`` are accepted for ``base_url`` and ``model``; a Chat
        Completions field (``top_k``, ``frequency_penalty``...) goes to ``additional_kwargs``;
        any other unknown name is an error, with a did-you-mean for a misspelt one."""
        if kwargs.get("api_key") is not None:  # sealed first, as in the core (kit.seal)
            kwargs["api_key"] = seal(kwargs["api_key"])
        super().__init__(**_field_values(type(self), kwargs))
        self._config()  # a missing key or a bad URL is reported now, not at the first call

    @field_validator("price", mode="before")
    @classmethod
    def _price_from_mapping(cls, value: Any) -> Any:
        return Price.from_mapping(value) if isinstance(value, Mapping) else value

    @classmethod
    def class_name(cls) -> str:
        return "RunAPILLM"

    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """The settings as saved: no key, no base URL holding credentials, no secret-looking
        header (see ``kit.public_settings``); ``from_dict`` reads them from the environment."""
        return public_settings(super().to_dict(**kwargs))

    # ------------------------------------------------------------------------------ clients

    @property
    def model_info(self) -> ModelInfo:
        return get_model_info(self.model)

    def _config(self) -> ClientConfig:
        return ClientConfig.from_settings(self)

    def _prices(self) -> dict[str, Price] | None:
        return {self.model: self.price} if self.price is not None else None

    def _sync_client(self) -> RunAPIClient:
        return self._clients.sync(self)

    def _async_client(self) -> AsyncRunAPIClient:
        return self._clients.async_(self)

    def balance(self) -> Balance:
        """The account's balance and spend in USD, with this model's key and settings (the
        core's ``RunAPIClient.balance``)."""
        return self._sync_client().balance()

    async def abalance(self) -> Balance:
        return await self._async_client().balance()

    @property
    def pacer(self) -> Pacer | None:
        """The pace this LLM's calls share with every client on the same key (``stats()``),
        None with ``pacing=False``."""
        return self._sync_client().pacer

    # ----------------------------------------------------------------------------- metadata

    @property
    def metadata(self) -> LLMMetadata:
        info = self.model_info
        return LLMMetadata(
            context_window=self.context_window or info.context_window,
            num_output=self.max_tokens or min(info.max_output_tokens, OUTPUT_RESERVE),
            is_chat_model=True,
            is_function_calling_model=info.supports_tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    # ----------------------------------------------------------------------------- requests

    def _request_body(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]
    ) -> PreparedRequest:
        """The Chat Completions request: settings, then ``additional_kwargs``, then the call's
        keywords, adapted to the model by the core's policy (as ``ChatRunAPI``'s requests are:
        content a model cannot read, tool choices it cannot take, JSON modes...)."""
        call = {k: v for k, v in kwargs.items() if v is not None}
        structured = bool(call.pop(STRUCTURED_OUTPUT, False))
        reasoning = call.pop("reasoning", self.reasoning)
        body: dict[str, Any] = {"model": self.model, "messages": to_wire_messages(messages)}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if reasoning is not None:
            body["thinking"] = {"type": "enabled" if reasoning else "disabled"}
        body.update(self.additional_kwargs)
        body.update(call)
        return prepare_request(body, structured=structured)

    def _chat_response(self, result: ChatResult) -> ChatResponse:
        completion = result.completion
        choices = completion.get("choices") or [{}]
        choice = choices[0]
        usage = completion.get("usage")
        counts = result.tokens  # the core's, computed once for cost and usage tracking too
        if counts is None and usage:  # a ChatResult built by hand
            counts = token_counts(usage)
        reasoning_tokens = counts["reasoning"] if counts is not None else None
        extra = response_kwargs(usage, result.cost, result.request_id, counts)
        if choice.get("finish_reason"):
            extra["finish_reason"] = choice["finish_reason"]
        message = from_wire_message(choice.get("message") or {}, reasoning_tokens=reasoning_tokens)
        return ChatResponse(
            message=message,
            raw=dict(completion),
            additional_kwargs=extra,
        )

    # --------------------------------------------------------------------------------- chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = self._sync_client().chat_completion(self._request_body(messages, kwargs))
        return self._chat_response(result)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self._async_client()
        result = await client.chat_completion(self._request_body(messages, kwargs))
        return self._chat_response(result)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request = self._request_body(messages, kwargs)
        # Created here, so a bad request or a spent budget raises at the call; sent on iteration.
        stream = self._sync_client().stream_chat_completion(request)

        def gen() -> ChatResponseGen:
            view = StreamView(stream.accumulator)
            error: RunAPIError | None = None
            with stream:
                try:
                    for chunk in stream:
                        if (response := view.feed(chunk, stream.request_id)) is not None:
                            yield response
                except RunAPIError as exc:  # a stream cut short: yield what is held, then raise
                    error = exc
                if (last := view.finish(stream.cost, stream.tokens)) is not None:
                    yield last
            if error is not None:
                raise error

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        request = self._request_body(messages, kwargs)
        stream = self._async_client().stream_chat_completion(request)

        async def gen() -> ChatResponseAsyncGen:
            view = StreamView(stream.accumulator)
            error: RunAPIError | None = None
            async with stream:
                try:
                    async for chunk in stream:
                        if (response := view.feed(chunk, stream.request_id)) is not None:
                            yield response
                except RunAPIError as exc:
                    error = exc
                if (last := view.finish(stream.cost, stream.tokens)) is not None:
                    yield last
            if error is not None:
                raise error

        return gen()

    # --------------------------------------------------------------------------- completion

    @staticmethod
    def _prompt_messages(prompt: str) -> list[ChatMessage]:
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return _completion(self._chat(self._prompt_messages(prompt), **kwargs))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return _completion(await self._achat(self._prompt_messages(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        chats = self._stream_chat(self._prompt_messages(prompt), **kwargs)

        def gen() -> CompletionResponseGen:
            for response in chats:
                yield _completion(response)

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        chats = await self._astream_chat(self._prompt_messages(prompt), **kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            async for response in chats:
                yield _completion(response)

        return gen()

    # -------------------------------------------------------------------------------- tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The chat keywords of a tool call: what LlamaIndex asked for, as request fields
        (what the model accepts of them is the core's policy: GLM cannot be forced, so a
        forced choice is asked for in words; ``allow_parallel_tool_calls=False`` keeps the
        first call of the answer, streamed or not)."""
        messages = list(chat_history or [])  # a copy: the caller's history is not ours to grow
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        fields = tool_fields(
            tools,
            tool_choice=tool_choice,
            tool_required=tool_required,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
        )
        kwargs.pop("strict", None)  # OpenAI-only; GLM has no strict tool schemas
        return {"messages": messages, **fields, **kwargs}

    # ------------------------------------------------------------------- structured output

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        return super().structured_predict(  # type: ignore[no-any-return]
            output_cls, prompt, llm_kwargs=_structured(llm_kwargs), **prompt_args
        )

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        return await super().astructured_predict(  # type: ignore[no-any-return]
            output_cls, prompt, llm_kwargs=_structured(llm_kwargs), **prompt_args
        )

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
        llm_kwargs = _structured(llm_kwargs)
        program = self._tool_program(output_cls, prompt)
        if program is None:
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        return program.stream_call(llm_kwargs=llm_kwargs, **prompt_args)

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
        llm_kwargs = _structured(llm_kwargs)
        program = self._tool_program(output_cls, prompt)
        if program is None:
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        return await program.astream_call(llm_kwargs=llm_kwargs, **prompt_args)

    def _tool_program(
        self, output_cls: type[Model], prompt: BasePromptTemplate
    ) -> FunctionCallingProgram[Model] | None:
        """The tool-calling program LlamaIndex streams structured output with (None when the
        program mode picks another kind), told to call its tool.

        LlamaIndex's streaming program drops ``tool_required``, which its non-streaming calls
        set, and passes only its own ``tool_choice``: without this, a streamed request would
        not force its tool (nor, on GLM, ask for it in words)."""
        mode = self.pydantic_program_mode
        if mode != PydanticProgramMode.FUNCTION and (
            mode != PydanticProgramMode.DEFAULT or not self.model_info.supports_tools
        ):
            return None
        return FunctionCallingProgram.from_defaults(
            output_cls=output_cls, prompt=prompt, llm=self, tool_choice="required"
        )

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)


# ------------------------------------------------------------------------------------ helpers


_RENAMED = {
    "transport": "http_client=httpx.Client(transport=...)",
    "async_transport": "async_http_client=httpx.AsyncClient(transport=...)",
}
"""Keywords of earlier releases, and what to write instead."""


def _field_values(cls: type[RunAPILLM], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords as field values: other names mapped to ours, request fields into
    ``additional_kwargs``, anything else refused (the core's ``sort_keywords``, which
    ``ChatRunAPI`` uses too).

    Pydantic would drop an unknown name silently, so ``api_base=`` sent the key to the default
    URL and ``temprature=`` did nothing. LlamaIndex itself passes fields only: ``from_dict``
    removes ``class_name`` and unpickling passes the fields back; ``class_name`` is dropped
    here too, for ``RunAPILLM(**llm.to_dict())``."""
    values = dict(kwargs)
    values.pop("class_name", None)
    for old, new in _RENAMED.items():
        if old in values:
            raise ConfigurationError(f"{cls.__name__} takes {new} instead of {old}=.")
    apply_other_names(cls.__name__, values, OTHER_NAMES)
    extra = sort_keywords(
        cls.__name__, values, cls.model_fields, extra_home="additional_kwargs={...}"
    )
    if extra:
        additional = dict(values.get("additional_kwargs") or {})
        for name in extra:
            if name in additional:
                raise ConfigurationError(
                    f"{name} was given both directly and in additional_kwargs."
                )
            additional[name] = values.pop(name)
        values["additional_kwargs"] = additional
    return values


def _structured(llm_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``llm_kwargs`` of a structured-output call, marked as such (``kit.STRUCTURED_OUTPUT``)."""
    return {**(llm_kwargs or {}), STRUCTURED_OUTPUT: True}


def _completion(response: ChatResponse) -> CompletionResponse:
    extra = dict(response.additional_kwargs)
    thinking = "".join(
        b.content or "" for b in response.message.blocks if isinstance(b, ThinkingBlock)
    )
    if thinking:
        extra["thinking"] = thinking
    if response.message.additional_kwargs.get("tool_calls"):
        extra["tool_calls"] = response.message.additional_kwargs["tool_calls"]
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=extra,
    )
