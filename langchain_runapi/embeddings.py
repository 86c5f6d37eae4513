"""``RunAPIEmbeddings``: a LangChain ``Embeddings`` over RunAPI's ``/embeddings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings
from langchain_core.utils import from_env
from pydantic import (
    AliasChoices,
    BaseModel,
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
    BASE_URL_ENV,
    DEFAULT_EMBEDDING_MODEL,
    MAX_EMBEDDING_INPUTS,
    AsyncRunAPIClient,
    ClientConfig,
    Price,
    RunAPIClient,
    aembed_texts,
    embed_texts,
)
from runapi_client.kit import (
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_EMBEDDING_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientCache,
    Closing,
    MaskedSettingsRepr,
    raise_configuration_error,
    seal,
    sealed_key_from_env,
)

__all__ = ["RunAPIEmbeddings"]


class RunAPIEmbeddings(MaskedSettingsRepr, Closing, BaseModel, Embeddings):
    """OpenAI's embedding models through RunAPI, with the same key, errors and retries as
    ``ChatRunAPI``.

    .. code-block:: python

        from langchain_runapi.embeddings import RunAPIEmbeddings

        embeddings = RunAPIEmbeddings(model="text-embedding-3-small", dimensions=256)
        vectors = embeddings.embed_documents(["RunAPI is one key", "for many models"])
        query = embeddings.embed_query("one key?")

    Lists longer than ``chunk_size`` (or than ~250K estimated tokens) are split into several
    requests; the async methods send up to ``max_concurrency`` of them at once. Every request's
    usage is recorded into ``runapi_client.track_usage`` trackers (``get_runapi_callback``).
    RunAPI has not published embedding prices, so cost is only known when ``price`` is given.
    Empty strings raise ``ConfigurationError`` (a ``ValueError``): the API refuses them.
    """

    model: str = DEFAULT_EMBEDDING_MODEL
    """``text-embedding-3-small``, ``text-embedding-3-large`` or ``text-embedding-ada-002``."""
    api_key: SecretStr | None = Field(default_factory=sealed_key_from_env)
    """Defaults to the ``RUNAPI_API_KEY`` environment variable."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """Defaults to ``RUNAPI_BASE_URL``, else ``https://runapi.ai/v1``."""
    dimensions: int | None = Field(default=None, ge=1)
    """Shorter vectors (``text-embedding-3-*`` only); ``None`` for the model's full size."""
    chunk_size: int = Field(default=DEFAULT_EMBEDDING_BATCH_SIZE, ge=1, le=MAX_EMBEDDING_INPUTS)
    """Most texts per request (the API takes at most 2048)."""
    max_concurrency: int = Field(default=DEFAULT_EMBEDDING_CONCURRENCY, ge=1)
    """Requests in flight at once in ``aembed_documents``."""
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT
    """Seconds per request; ``None`` waits forever."""
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    default_headers: dict[str, str] | None = None
    price: Price | None = Field(default=None, exclude=True)
    """This model's price (USD per 1M input tokens: ``Price(input=..., output=0.0)``); RunAPI
    publishes none for embeddings, so without it there is no cost."""
    prices: str | None = None
    """``"live"``: price from RunAPI's price list (if it lists the model), as ``ChatRunAPI``."""
    price_list_url: str | None = None
    http_client: Any | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` to use instead of the shared pool (e.g. with a proxy)."""
    async_http_client: Any | None = Field(
        default=None,
        exclude=True,
        validation_alias=AliasChoices("async_http_client", "http_async_client"),
    )
    """An ``httpx.AsyncClient`` to use instead of the shared pool (``http_async_client``, as
    ``OpenAIEmbeddings`` names it, works too)."""

    # hide_input_in_errors: a ValidationError would otherwise quote the raw input, key included.
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        protected_namespaces=(),
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,
    )

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    def __init__(self, **kwargs: Any) -> None:
        """A missing key or another bad setting is a ``ConfigurationError``, as in every model
        class of the package."""
        if kwargs.get("api_key") is not None:  # sealed first, as in the core (kit.seal)
            kwargs["api_key"] = seal(kwargs["api_key"])
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            raise_configuration_error(exc)
            raise

    @field_validator("price", mode="before")
    @classmethod
    def _price_from_mapping(cls, value: Any) -> Any:
        return Price.from_mapping(value) if isinstance(value, Mapping) else value

    @model_validator(mode="after")
    def _check_config(self) -> Self:
        # Fail at construction, not on the first call, for a missing key or a bad base URL.
        self._config()
        return self

    def _config(self) -> ClientConfig:
        return ClientConfig.from_settings(self, caps_key=False)

    def _prices(self) -> dict[str, Price] | None:
        return {self.model: self.price} if self.price is not None else None

    @property
    def client(self) -> RunAPIClient:
        return self._clients.sync(self)

    @property
    def async_client(self) -> AsyncRunAPIClient:
        return self._clients.async_(self)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; no texts, no request."""
        result = embed_texts(
            self.client, self.model, texts, dimensions=self.dimensions, batch_size=self.chunk_size
        )
        return result.vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        result = await aembed_texts(
            self.async_client,
            self.model,
            texts,
            dimensions=self.dimensions,
            batch_size=self.chunk_size,
            max_concurrency=self.max_concurrency,
        )
        return result.vectors

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]
