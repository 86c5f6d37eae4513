"""What the adapters need from the core beyond the client: one public kit, so neither reaches
into a private module and both behave the same.

- :class:`ClientCache`: a model object's core clients, rebuilt only when a setting changes.
- :func:`settings_key`: what a client depends on, for that cache.
- :func:`sort_keywords`: constructor keywords that are not fields (a Chat Completions field is
  passed on to the request body; a near-miss of a known name is an error with a did-you-mean).
- :func:`warn_at_caller` (and :func:`remember_caller` where a call leaves the caller's stack),
  :func:`check_parameters`, the defaults and the token estimate.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError
from typing_extensions import Self

from ._client import AsyncRunAPIClient, RunAPIClient
from ._config import (
    API_KEY_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientConfig,
    ConnectionSettings,
    mask_url,
    settings_key,
)
from ._embeddings import (
    BYTES_PER_TOKEN,
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_EMBEDDING_CONCURRENCY,
    utf8_size,
)
from ._price import Price
from ._secret import SealedSecret, seal
from ._validate import check_parameters
from ._warn import remember_caller, warn_at_caller
from .errors import ConfigurationError

__all__ = [
    "BYTES_PER_TOKEN",
    "DEFAULT_EMBEDDING_BATCH_SIZE",
    "DEFAULT_EMBEDDING_CONCURRENCY",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "STRUCTURED_OUTPUT",
    "WIRE_FIELDS",
    "ClientCache",
    "ClientOwner",
    "Closing",
    "MaskedSettingsRepr",
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
]

WIRE_FIELDS = frozenset(
    {
        # OpenAI's Chat Completions request
        "audio",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
        # GLM's own (Z.ai's chat completions)
        "do_sample",
        "request_id",
        "thinking",
        "tool_stream",
        "user_id",
        # sampling fields open-model servers take
        "min_p",
        "repetition_penalty",
        "top_k",
    }
)
"""Request-body fields a model object passes on when given as a constructor keyword."""

STRUCTURED_OUTPUT = "runapi_structured_output"
"""The call keyword an adapter's structured-output path binds (``with_structured_output``,
LlamaIndex's programs) and pops again before building the request: it is passed to the policy
as ``structured=True``, which asks for the forced tool in words without a warning."""


def sort_keywords(
    owner: str,
    given: Mapping[str, Any],
    fields: Collection[str],
    *,
    extra_home: str,
) -> dict[str, Any]:
    """The keywords in ``given`` that are Chat Completions request fields, to send in the body.

    ``fields`` are the names the class takes itself (left alone here). Any other keyword is an
    error: a near-miss of a field or a request field names the one meant (``temprature`` ->
    "did you mean 'temperature'?"), as pydantic would otherwise drop it silently or send it
    as is; anything else says where server-specific fields go (``extra_home``).
    """
    body: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in given.items():
        if name in fields:
            continue
        if name in WIRE_FIELDS:
            body[name] = value
        else:
            unknown.append(name)
    if unknown:
        described = []
        for name in unknown:
            # The class's own names first: request_timeout means timeout, not request_id.
            close = difflib.get_close_matches(name, sorted(fields), n=1) or (
                difflib.get_close_matches(name, sorted(WIRE_FIELDS), n=1)
            )
            described.append(f"{name} (did you mean {close[0]!r}?)" if close else name)
        raise ConfigurationError(
            f"{owner} got unknown keyword argument(s): {', '.join(described)}. A request field "
            f"the server takes that is not listed here goes in {extra_home}."
        )
    return body


_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "password", "cookie", "signature")
MASK = "**********"


def is_secret_header(name: str) -> bool:
    """Whether a header's value is likely a secret (``Authorization``, ``X-Api-Key``,
    ``X-Auth-Token``...), and so masked wherever settings are shown or saved."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_HEADER_WORDS)


def mask_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """``headers`` with secret-looking values masked, for a repr."""
    if headers is None:
        return None
    return {name: MASK if is_secret_header(name) else value for name, value in headers.items()}


def public_settings(values: dict[str, Any]) -> dict[str, Any]:
    """A model object's settings as saved (``to_dict``/``to_json``): a ``base_url`` holding
    credentials is left out (rebuilt, the object reads ``RUNAPI_BASE_URL``, as it reads
    ``RUNAPI_API_KEY`` for the key) and so are secret-looking headers. Changed in place."""
    base_url = values.get("base_url")
    if isinstance(base_url, str) and mask_url(base_url) != base_url:
        values["base_url"] = None
    headers = values.get("default_headers")
    if isinstance(headers, Mapping):
        kept = {k: v for k, v in headers.items() if not is_secret_header(k)}
        values["default_headers"] = kept or None
    return values


class MaskedSettingsRepr:
    """A mixin for the adapters' pydantic model classes: their repr (and so a traceback's
    locals as error trackers print them) masks a ``base_url``'s password and secret-looking
    header values, as it already hides the key."""

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():  # type: ignore[misc]
            if name == "base_url" and isinstance(value, str):
                value = mask_url(value)
            elif name == "default_headers" and isinstance(value, Mapping):
                value = mask_headers(value)
            yield name, value


def sealed_key_from_env() -> SealedSecret | None:
    """``RUNAPI_API_KEY``, sealed, or None: the default of a model class's ``api_key`` field
    (LangChain's ``secret_from_env`` would keep it as a plain ``SecretStr``)."""
    value = os.environ.get(API_KEY_ENV)
    return seal(value) if value else None


def raise_configuration_error(exc: ValidationError) -> None:
    """Raise the ``ConfigurationError`` a pydantic validator raised, if ``exc`` wraps one: a
    model class checks its settings in validators, and a missing key or a bad setting should
    be the same error class whichever model class found it (pydantic wraps a ``ValueError``
    in its own ``ValidationError``). Returns if there is none."""
    for error in exc.errors():
        found = (error.get("ctx") or {}).get("error")
        if isinstance(found, ConfigurationError):
            # Raised afresh: the validator frames it passed through hold the input values.
            raise found.with_traceback(None) from None


class ClientOwner(ConnectionSettings, Protocol):
    """A model object of an adapter, as :class:`ClientCache` sees it: its connection fields,
    its own httpx clients, and how to build its config and price table."""

    @property
    def http_client(self) -> Any: ...
    @property
    def async_http_client(self) -> Any: ...

    def _config(self) -> ClientConfig: ...

    def _prices(self) -> dict[str, Price] | None: ...


class ClientCache:
    """A model object's sync and async core clients, each built on first use and rebuilt
    only when what it is built from changed since: a field assigned after the first call,
    ``model_copy(update=...)``, a changed environment variable, another price or httpx client.
    Rebuilding is cheap: equal settings share pools. Every model class of both adapters keeps
    one (``ChatRunAPI``, ``RunAPIEmbeddings``, ``RunAPILLM``, ``RunAPIEmbedding``)."""

    __slots__ = ("_async", "_sync")

    def __init__(self) -> None:
        self._sync: tuple[Any, RunAPIClient] | None = None
        self._async: tuple[Any, AsyncRunAPIClient] | None = None

    @staticmethod
    def _key(owner: ClientOwner) -> tuple[Any, ...]:
        return (*settings_key(owner), owner._prices(), owner.http_client, owner.async_http_client)

    def sync(self, owner: ClientOwner) -> RunAPIClient:
        key, cached = self._key(owner), self._sync
        if cached is not None and cached[0] == key:
            return cached[1]
        client = RunAPIClient(
            config=owner._config(), prices=owner._prices(), http_client=owner.http_client
        )
        self._sync = (key, client)
        return client

    def async_(self, owner: ClientOwner) -> AsyncRunAPIClient:
        key, cached = self._key(owner), self._async
        if cached is not None and cached[0] == key:
            return cached[1]
        client = AsyncRunAPIClient(
            config=owner._config(), prices=owner._prices(), http_client=owner.async_http_client
        )
        self._async = (key, client)
        return client

    def close(self) -> None:
        """Release the sockets of the sync client's pool, as ``RunAPIClient.close()`` does: a
        later call opens a fresh pool; an ``http_client`` of the owner's is closed with it.
        Nothing to do if no sync call was made."""
        if self._sync is not None:
            self._sync[1].close()

    async def aclose(self) -> None:
        """Release the sockets of the async client's pool on the running loop (a pool of
        another loop closes with that loop), then the sync client's, as :meth:`close`."""
        if self._async is not None:
            await self._async[1].aclose()
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientCache:
        return ClientCache()  # a copied model object builds clients of its own

    def __copy__(self) -> ClientCache:
        return ClientCache()


class Closing:
    """``close()``, ``aclose()``, ``with`` and ``async with`` for a model class that keeps its
    core clients in a :class:`ClientCache` named ``_clients``, as the OpenAI SDK's clients
    have them. A mixin of the four model classes."""

    if TYPE_CHECKING:
        _clients: ClientCache

    def close(self) -> None:
        """Release the sockets of this object's sync calls (``RunAPIClient.close()``): a later
        call opens a fresh pool; a pool other clients still use stays open for them. Your own
        ``http_client``, if given, is closed too."""
        self._clients.close()

    async def aclose(self) -> None:
        """Release the sockets of this object's async calls on the running loop, and of its
        sync calls (as :meth:`close`); your own ``async_http_client`` is closed too."""
        await self._clients.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
