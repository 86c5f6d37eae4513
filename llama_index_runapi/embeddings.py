"""``RunAPIEmbedding``: a LlamaIndex ``BaseEmbedding`` over RunAPI's ``/embeddings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager

from runapi_client import (
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
    DEFAULT_EMBEDDING_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientCache,
    Closing,
    MaskedSettingsRepr,
    public_settings,
    seal,
)

from ._names import apply_other_names

__all__ = ["RunAPIEmbedding"]

DEFAULT_EMBED_BATCH_SIZE = 100
"""Texts per request (LlamaIndex's own default of 10 makes ten times the round trips)."""


class RunAPIEmbedding(MaskedSettingsRepr, Closing, BaseEmbedding):
    """OpenAI's embedding models through RunAPI, with the same key, errors and retries as
    ``RunAPILLM``.

    .. code-block:: python

        from llama_index.embeddings.runapi import RunAPIEmbedding

        embed_model = RunAPIEmbedding(model="text-embedding-3-small", dimensions=256)
        vector = embed_model.get_text_embedding("RunAPI is one key for many models")

    The key comes from ``api_key`` or ``RUNAPI_API_KEY`` and never appears in ``repr``,
    ``to_dict`` or ``to_json`` (a component rebuilt from JSON reads the environment again).
    Every request's usage is recorded into ``runapi_client.track_usage`` trackers; RunAPI has
    not published embedding prices, so cost is only known when ``price`` is given. Empty
    strings raise ``ConfigurationError`` (a ``ValueError``): the API refuses them.
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="The embedding model.")
    embed_batch_size: int = Field(
        default=DEFAULT_EMBED_BATCH_SIZE,
        gt=0,
        le=MAX_EMBEDDING_INPUTS,
        description="Texts per request (the API takes at most 2048).",
    )
    dimensions: int | None = Field(
        default=None, ge=1, description="Shorter vectors (text-embedding-3-* only)."
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    base_url: str | None = Field(default=None, description="Defaults to RUNAPI_BASE_URL.")
    timeout: float | httpx.Timeout | None = Field(
        default=DEFAULT_TIMEOUT, description="Seconds for connecting and each read."
    )
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    max_concurrency: int = Field(
        default=DEFAULT_EMBEDDING_CONCURRENCY,
        ge=1,
        description="Requests in flight at once when one async call spans several batches.",
    )
    price: Price | None = Field(
        default=None,
        exclude=True,
        description="USD per 1M input tokens; RunAPI publishes none for embeddings.",
    )
    prices: str | None = Field(
        default=None, description="'live': RunAPI's price list (if it lists the model)."
    )
    price_list_url: str | None = Field(default=None, description="RunAPI's price list.")

    http_client: Any | None = Field(
        default=None, exclude=True, description="Your own httpx.Client instead of the pool."
    )
    async_http_client: Any | None = Field(
        default=None, exclude=True, description="Your own httpx.AsyncClient."
    )

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: dict[str, str] | None = None,
        price: Price | Mapping[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        api_key = seal(api_key)  # sealed first, as in the core (kit.seal)
        # LlamaIndex names the field model_name (from_dict passes it); users write model=, and
        # OpenAIEmbedding users api_base=.
        names = {"model": model, "base_url": base_url, **kwargs}
        apply_other_names(
            type(self).__name__, names, {"model_name": "model", "api_base": "base_url"}
        )
        model_name = names.pop("model") or DEFAULT_EMBEDDING_MODEL
        base_url = names.pop("base_url")
        kwargs = names
        if "http_async_client" in kwargs:  # OpenAIEmbedding's name for it
            kwargs["async_http_client"] = kwargs.pop("http_async_client")
        fields: dict[str, Any] = {
            "model_name": model_name,
            "api_key": api_key,
            "base_url": base_url,
            "dimensions": dimensions,
            "embed_batch_size": embed_batch_size,
            "timeout": timeout,
            "max_retries": max_retries,
            "default_headers": default_headers,
            "price": Price.from_mapping(price) if isinstance(price, Mapping) else price,
            **kwargs,
        }
        if callback_manager is not None:
            fields["callback_manager"] = callback_manager
        super().__init__(**fields)
        # A missing key or bad URL fails here.
        config = ClientConfig.from_settings(self, caps_key=False)
        self.api_key = config.api_key  # the key as resolved (argument or environment)

    def _config(self) -> ClientConfig:
        return ClientConfig.from_settings(self, caps_key=False)

    def _prices(self) -> dict[str, Price] | None:
        return {self.model_name: self.price} if self.price is not None else None

    @property
    def _client(self) -> RunAPIClient:
        return self._clients.sync(self)

    @property
    def _async_client(self) -> AsyncRunAPIClient:
        return self._clients.async_(self)

    @classmethod
    def class_name(cls) -> str:
        return "RunAPIEmbedding"

    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """The settings as saved, without secrets (see ``kit.public_settings``)."""
        return public_settings(super().to_dict(**kwargs))

    def to_payload(self) -> dict[str, Any]:
        return {**super().to_payload(), "dimensions": self.dimensions}

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return embed_texts(
            self._client,
            self.model_name,
            texts,
            dimensions=self.dimensions,
            batch_size=self.embed_batch_size,
        ).vectors

    async def _aembed(self, texts: list[str]) -> list[list[float]]:
        result = await aembed_texts(
            self._async_client,
            self.model_name,
            texts,
            dimensions=self.dimensions,
            batch_size=self.embed_batch_size,
            max_concurrency=self.max_concurrency,
        )
        return result.vectors

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._aembed([query]))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(texts)
