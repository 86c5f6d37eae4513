"""Where the key, base URL, timeouts and headers come from, and how they are checked."""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from ._sse import DEFAULT_MAX_EVENT_BYTES
from .errors import ConfigurationError

API_KEY_ENV = "RUNAPI_API_KEY"
BASE_URL_ENV = "RUNAPI_BASE_URL"
DEFAULT_BASE_URL = "https://runapi.ai/v1"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2


def normalize_base_url(url: str) -> str:
    """Return ``url`` as ``scheme://host[:port][/prefix]/v1`` with no trailing slash.

    Users paste the base URL in every form (with or without ``/v1``, with a trailing slash),
    so all of them are accepted; anything that is not http(s) is refused up front.
    """
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {raw!r}. "
            f"Fix the base_url argument or the {BASE_URL_ENV} environment variable."
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path = f"{path}/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """The key from the argument, else from ``RUNAPI_API_KEY``; an error naming both if neither."""
    if isinstance(api_key, SecretStr):
        value = api_key.get_secret_value()
    else:
        value = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    value = value.strip()
    if not value:
        raise ConfigurationError(
            f"No RunAPI API key: pass api_key=... or set the {API_KEY_ENV} environment "
            "variable (get a key at https://runapi.ai)."
        )
    return SecretStr(value)


def resolve_base_url(base_url: str | None) -> str:
    return normalize_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)


def check_timeout(timeout: object, *, source: str = "timeout") -> float | None:
    """Seconds as a float, or None for no timeout; anything else is a ``ConfigurationError``
    (not a ``TypeError`` from comparing it), since it arrives from user settings and options."""
    if timeout is None:
        return None
    if (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and math.isfinite(timeout)
        and timeout > 0
    ):
        return float(timeout)
    hint = ""
    if type(timeout).__name__ == "Timeout":  # httpx.Timeout, as the OpenAI SDK accepts
        hint = " (an httpx.Timeout is not accepted: one number applies to connect and each read)"
    elif isinstance(timeout, str):
        hint = " (a number, not a string)"
    raise ConfigurationError(
        f"{source} must be a positive number of seconds such as 30, or None for no timeout; "
        f"got {timeout!r}{hint}"
    )


RESERVED_HEADERS = frozenset({"authorization", "content-type", "accept"})


def check_headers(
    headers: Mapping[str, str] | None, *, source: str = "default_headers"
) -> tuple[tuple[str, str], ...]:
    """Extra headers may not replace the ones the client needs: a stray ``Authorization`` would
    silently swap the key, a ``Content-Type`` or ``Accept`` would break requests or streams.
    Names and values must be strings (httpx would fail on the first request otherwise); a bad
    value is named by its type only, since header values are often secrets."""
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise ConfigurationError(
            f"{source} must be a dict of header names to string values, "
            f"got {type(headers).__name__}."
        )
    items = dict(headers)
    for name, value in items.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigurationError(
                f"{source} must map header names to string values; {name!r} is "
                f"{type(value).__name__}. Pass the value as a str (bytes decoded, e.g. "
                "value.decode()), or leave the header out."
                if isinstance(name, str)
                else f"{source} must map string header names to values; got a "
                f"{type(name).__name__} name."
            )
    clash = sorted(name for name in items if name.lower() in RESERVED_HEADERS)
    if clash:
        raise ConfigurationError(
            f"{source} may not set {', '.join(clash)}: the client sets them itself "
            f"(pass the key as api_key=... or {API_KEY_ENV})."
        )
    return tuple(sorted(items.items()))


def check_max_retries(max_retries: int) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    return max_retries


def check_max_event_bytes(max_event_bytes: int) -> int:
    if (
        isinstance(max_event_bytes, bool)
        or not isinstance(max_event_bytes, int)
        or max_event_bytes <= 0
    ):
        raise ConfigurationError(
            "max_event_bytes must be a whole number of bytes > 0 (default "
            f"{DEFAULT_MAX_EVENT_BYTES}, 16 MB), got {max_event_bytes!r}"
        )
    return max_event_bytes


class ConnectionSettings(Protocol):
    """What every model class of the adapters carries (its pydantic fields)."""

    @property
    def api_key(self) -> str | SecretStr | None: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def default_headers(self) -> Mapping[str, str] | None: ...


_FINGERPRINT_SALT = secrets.token_bytes(16)


def _fingerprint(value: str | None) -> bytes | None:
    """A key from the environment as a salted digest: the cache key of a model object holds
    it, and nothing a traceback can reach may hold the key in plain text."""
    if value is None:
        return None
    return hashlib.blake2b(value.encode(), key=_FINGERPRINT_SALT, digest_size=16).digest()


def settings_key(settings: ConnectionSettings) -> tuple[Any, ...]:
    """What a client built from ``settings`` depends on, as raw values: the fields, plus the
    environment variables an unset key or URL falls back to.

    The adapters cache their core client under this key and rebuild it when the key changes:
    comparing it is far cheaper than resolving and validating a ``ClientConfig``, and a field
    assigned after the first call, a ``model_copy(update=...)``, an in-place change to
    ``default_headers`` or a changed variable still gets a new client.
    """
    api_key, base_url, headers = settings.api_key, settings.base_url, settings.default_headers
    return (
        api_key,  # SecretStr compares by value
        base_url,
        settings.timeout,
        settings.max_retries,
        tuple(headers.items()) if headers else None,
        _fingerprint(os.environ.get(API_KEY_ENV)) if api_key is None else None,
        os.environ.get(BASE_URL_ENV) if base_url is None else None,
    )


@dataclass(frozen=True)
class ClientConfig:
    """A resolved, validated configuration. Equal configs share one connection pool."""

    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    timeout: float | None = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    default_headers: tuple[tuple[str, str], ...] = field(default=())
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    """The most one event of a stream may hold (see ``SSEDecoder``)."""

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> ClientConfig:
        return cls(
            api_key=resolve_api_key(api_key),
            base_url=resolve_base_url(base_url),
            timeout=check_timeout(timeout),
            max_retries=check_max_retries(max_retries),
            default_headers=check_headers(default_headers),
            max_event_bytes=check_max_event_bytes(max_event_bytes),
        )

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> ClientConfig:
        """The config of an adapter's model object, read from its fields."""
        return cls.resolve(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            default_headers=settings.default_headers,
        )

    @property
    def pool_key(self) -> tuple[str, float | None]:
        # The key travels per request as a header, so instances that differ only by key,
        # retries or headers still share sockets to the same host.
        return (self.base_url, self.timeout)

    def __repr__(self) -> str:  # the SecretStr already masks; keep the repr short and explicit
        return (
            f"ClientConfig(api_key=SecretStr('**********'), base_url={self.base_url!r}, "
            f"timeout={self.timeout!r}, max_retries={self.max_retries!r})"
        )
