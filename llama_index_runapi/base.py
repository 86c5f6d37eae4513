"""``RunAPILLM``: RunAPI's chat models (GLM first) as a LlamaIndex ``FunctionCallingLLM``.

The core (``runapi_client``) does the HTTP, retries, SSE, stream accumulation, usage and cost;
this class only converts LlamaIndex messages to a request dict and the results back
(``_messages``, ``_tools``, ``_streams``). Streams yield the cumulative message on every chunk,
reasoning-only chunks included, with usage and cost on the last response only.
"""

from __future__ import annotations

import difflib
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
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode

from runapi_client import (
    AsyncRunAPIClient,
    ChatResult,
    ConfigurationError,
    ModelInfo,
    Price,
    RunAPIClient,
    RunAPIError,
    get_model_info,
    token_counts,
)
from runapi_client._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientConfig,
    settings_key,
)

from ._messages import from_wire_message, response_kwargs, to_wire_messages
from ._names import apply_other_names
from ._streams import StreamView
from ._tools import (
    afirst_tool_call_only,
    first_tool_call_only,
    force_single_tool_call,
    tool_request,
    tool_selections,
    with_instruction,
)

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

OTHER_NAMES = {"api_base": "base_url", "model_name": "model"}
"""Constructor names other integrations use for a field: ``OpenAILike(api_base=...)``, and
``model_name`` as LlamaIndex's embeddings (``RunAPIEmbedding`` too) name the model."""


class RunAPILLM(FunctionCallingLLM):
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
    timeout: float | None = Field(default=DEFAULT_TIMEOUT, description="Seconds per request.")
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
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window."
    )

    # (settings key, client): one private attribute each, since every read of a pydantic
    # private attribute costs ~1.7 µs
    _client: tuple[tuple[Any, ...], RunAPIClient] | None = PrivateAttr(default=None)
    _aclient: tuple[tuple[Any, ...], AsyncRunAPIClient] | None = PrivateAttr(default=None)
    _transport: httpx.BaseTransport | None = PrivateAttr(default=None)
    _async_transport: httpx.AsyncBaseTransport | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        """``transport``/``async_transport`` replace the shared connection pool (tests use
        ``httpx.MockTransport``, which serves both). ``api_base`` and ``model_name`` are
        accepted for ``base_url`` and ``model``; any other unknown name is an error."""
        super().__init__(**_field_values(type(self), kwargs))
        self._transport = transport
        if async_transport is None and isinstance(transport, httpx.AsyncBaseTransport):
            async_transport = transport
        self._async_transport = async_transport
        self._config()  # a missing key or a bad URL is reported now, not at the first call

    @field_validator("price", mode="before")
    @classmethod
    def _price_from_mapping(cls, value: Any) -> Any:
        return Price.from_mapping(value) if isinstance(value, Mapping) else value

    @classmethod
    def class_name(cls) -> str:
        return "RunAPILLM"

    # ------------------------------------------------------------------------------ clients

    @property
    def model_info(self) -> ModelInfo:
        return get_model_info(self.model)

    def _config(self) -> ClientConfig:
        return ClientConfig.from_settings(self)

    def _settings_key(self) -> tuple[Any, ...]:
        """What the clients are built from (the core's ``settings_key``), plus the model and
        price the client's price table is built from."""
        return (*settings_key(self), self.model, self.price)

    def _client_settings(self) -> dict[str, Any]:
        prices = {self.model: self.price} if self.price is not None else None
        return {"config": self._config(), "prices": prices}

    def _sync_client(self) -> RunAPIClient:
        # Built once and reused; rebuilt only if a setting changed since (cheap: the core
        # shares one pool between clients with the same base URL and timeout).
        key, cached = self._settings_key(), self._client
        if cached is not None and cached[0] == key:
            return cached[1]
        client = RunAPIClient(transport=self._transport, **self._client_settings())
        self._client = (key, client)
        return client

    def _async_client(self) -> AsyncRunAPIClient:
        key, cached = self._settings_key(), self._aclient
        if cached is not None and cached[0] == key:
            return cached[1]
        client = AsyncRunAPIClient(transport=self._async_transport, **self._client_settings())
        self._aclient = (key, client)
        return client

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
    ) -> dict[str, Any]:
        """The Chat Completions body: settings, then ``additional_kwargs``, then call kwargs."""
        call = {k: v for k, v in kwargs.items() if v is not None}
        reasoning = call.pop("reasoning", self.reasoning)
        body: dict[str, Any] = {"model": self.model, "messages": to_wire_messages(messages)}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        info = self.model_info
        # Content a known model cannot read (an image for a text-only GLM) is refused by the
        # core's request check, before anything is sent.
        if reasoning is not None and (info.reasoning or not info.known):
            body["thinking"] = {"type": "enabled" if reasoning else "disabled"}
        body.update(self.additional_kwargs)
        body.update(call)
        return body

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
        body = self._request_body(messages, kwargs)
        # Created here, so a bad request or a spent budget raises at the call; sent on iteration.
        client = self._sync_client()
        stream = client.stream_chat_completion(body)

        def gen() -> ChatResponseGen:
            view = StreamView(stream.accumulator, client.cost_of, body["model"])
            error: RunAPIError | None = None
            with stream:
                try:
                    for chunk in stream:
                        if (response := view.feed(chunk, stream.request_id)) is not None:
                            yield response
                except RunAPIError as exc:  # a stream cut short: yield what is held, then raise
                    error = exc
                if (last := view.finish()) is not None:
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
        body = self._request_body(messages, kwargs)
        client = self._async_client()
        stream = client.stream_chat_completion(body)

        async def gen() -> ChatResponseAsyncGen:
            view = StreamView(stream.accumulator, client.cost_of, body["model"])
            error: RunAPIError | None = None
            async with stream:
                try:
                    async for chunk in stream:
                        if (response := view.feed(chunk, stream.request_id)) is not None:
                            yield response
                except RunAPIError as exc:
                    error = exc
                if (last := view.finish()) is not None:
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
        messages = list(chat_history or [])  # a copy: the caller's history is not ours to grow
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        request = tool_request(
            tools,
            self.model_info,
            tool_choice=tool_choice,
            tool_required=tool_required,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
        )
        if request.hint:
            messages = with_instruction(messages, request.hint)
        kwargs.pop("strict", None)  # OpenAI-only; GLM has no strict tool schemas
        return {"messages": messages, **request.fields, **kwargs}

    def stream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseGen:
        responses = super().stream_chat_with_tools(
            tools,
            user_msg,
            chat_history,
            verbose,
            allow_parallel_tool_calls,
            tool_required,
            **kwargs,
        )
        if self._keeps_parallel_calls(allow_parallel_tool_calls):
            return responses
        return first_tool_call_only(responses)

    async def astream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseAsyncGen:
        responses = await super().astream_chat_with_tools(
            tools,
            user_msg,
            chat_history,
            verbose,
            allow_parallel_tool_calls,
            tool_required,
            **kwargs,
        )
        if self._keeps_parallel_calls(allow_parallel_tool_calls):
            return responses
        return afirst_tool_call_only(responses)

    def _keeps_parallel_calls(self, allow_parallel_tool_calls: bool) -> bool:
        """Whether a stream may keep every call: allowed, or the server was told not to make
        several (``parallel_tool_calls=false``). GLM cannot be told, so its streams keep the
        first call only, as ``chat_with_tools`` does."""
        return allow_parallel_tool_calls or self.model_info.parallel_tool_calls

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            force_single_tool_call(response)
        return response

    # ------------------------------------------------------------------- structured output

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
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
        program = self._tool_program(output_cls, prompt)
        if program is None:
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        return await program.astream_call(llm_kwargs=llm_kwargs, **prompt_args)

    def _tool_program(
        self, output_cls: type[Model], prompt: PromptTemplate
    ) -> FunctionCallingProgram[Model] | None:
        """The tool-calling program LlamaIndex streams structured output with (None when the
        program mode picks another kind), told to call its tool.

        LlamaIndex's streaming program drops ``tool_required``, which its non-streaming calls
        set, and passes only its own ``tool_choice``: without this, a streamed request would
        go out with neither the instruction GLM gets instead of ``tool_choice="required"``
        nor, for a model that accepts it, ``tool_choice`` itself."""
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


def _field_values(cls: type[RunAPILLM], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords as field values: other names mapped to ours, unknown names refused.

    Pydantic would drop an unknown name silently, so ``api_base=`` sent the key to the default
    URL and ``temprature=`` did nothing. LlamaIndex itself passes fields only: ``from_dict``
    removes ``class_name`` and unpickling passes the fields back; ``class_name`` is dropped
    here too, for ``RunAPILLM(**llm.to_dict())``."""
    values = dict(kwargs)
    values.pop("class_name", None)
    apply_other_names(cls.__name__, values, OTHER_NAMES)
    fields = cls.model_fields
    unknown = [k for k in values if k not in fields]
    if unknown:
        known = [*fields, *OTHER_NAMES, "transport", "async_transport"]
        described = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            described.append(f"{name} (did you mean {close[0]!r}?)" if close else name)
        raise ConfigurationError(
            f"{cls.__name__} got unknown keyword argument(s): {', '.join(described)}."
        )
    return values



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
