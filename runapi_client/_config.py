"""Where the key, base URL, timeouts and headers come from, and how they are checked."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from ._secret import SealedSecret, seal
from ._sse import DEFAULT_MAX_EVENT_BYTES
from .errors import ConfigurationError

API_KEY_ENV = "RUNAPI_API_KEY"
BASE_URL_ENV = "RUNAPI_BASE_URL"
PRICES_ENV = "RUNAPI_PRICES"
PRICE_LIST_URL_ENV = "RUNAPI_PRICE_LIST_URL"
PRICE_LIST_TTL_ENV = "RUNAPI_PRICE_LIST_TTL"
DEFAULT_BASE_URL = "https://runapi.ai/v1"
DEFAULT_PRICE_LIST_URL = "https://runapi.ai/api/v1/price_schedules"
DEFAULT_PRICE_LIST_TTL = 24 * 3600.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
PRICE_MODES = ("built-in", "live")

OWN_API = "/api/v1/"
"""RunAPI's own API (the account, the price list) hangs from the same root as the
OpenAI-compatible ``/v1``: ``https://runapi.ai/api/v1/me`` beside ``https://runapi.ai/v1``. A
request path starting with this is sent there; with a base URL behind a path prefix (a proxy at
``https://proxy.example/runapi/v1``) the prefix is kept: ``https://proxy.example/runapi/api/v1/me``,
since whatever forwards ``/runapi/v1`` to RunAPI is the one place that can forward its siblings."""


def url_for(base_url: str, path: str) -> str:
    """The URL of ``path``: under the base URL, or for RunAPI's own API (:data:`OWN_API`) at
    the root the base URL's ``/v1`` hangs from (``normalize_base_url`` ends every base URL
    with ``/v1``)."""
    if path.startswith(OWN_API):
        return f"{base_url.removesuffix('/v1')}{path}"
    return f"{base_url}{path}"


def mask_url(url: str) -> str:
    """``url`` with the password of its credentials, if any, masked as httpx masks it
    (``https://user:[secure]@host/v1``): a URL with credentials in it is a secret too."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url if "@" not in url else "[a URL with credentials]"
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":[secure]@", 1)
    return parts._replace(netloc=netloc).geturl()


def normalize_base_url(url: str) -> str:
    """Return ``url`` as ``scheme://host[:port][/prefix]/v1`` with no trailing slash.

    Users paste the base URL in every form (with or without ``/v1``, with a trailing slash),
    so all of them are accepted; anything that is not http(s), a port that is not a number, a
    query string or a fragment is refused up front (a query would be dropped from every
    request: RunAPI takes none), the error naming the URL with any password masked.
    """
    raw = url.strip() if isinstance(url, str) else url
    if not isinstance(raw, str):
        raise ConfigurationError(
            f"base_url must be a string such as {DEFAULT_BASE_URL!r}, got {type(url).__name__}."
        )
    shown = mask_url(raw)
    fix = f"Fix the base_url argument or the {BASE_URL_ENV} environment variable."
    try:
        parts = urlsplit(raw)
        port = parts.port  # raises for a port that is not a number or out of range
    except ValueError as exc:
        raise ConfigurationError(f"base_url {shown!r} is not a valid URL ({exc}). {fix}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {shown!r}. {fix}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"base_url {shown!r} has a query string or fragment; RunAPI's endpoints take none, "
            f"and it would not reach them. {fix}"
        )
    del port
    try:
        httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ConfigurationError(f"base_url {shown!r} is not a valid URL ({exc}). {fix}") from None
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path = f"{path}/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def _key_problem(key: str) -> str | None:
    """What makes ``key`` unusable in an ``Authorization`` header, or None; never the key."""
    if not key.isascii():
        return "a character that is not ASCII"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "a control character (such as a line break)"
    if " " in key:
        return "a space"
    return None


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """The key from the argument, else from ``RUNAPI_API_KEY``; an error naming both if neither,
    and an error that never quotes the key if it cannot be sent in a header. Returned sealed
    (``_secret.SealedSecret``): nothing that walks the client's attributes finds it."""
    source = "api_key" if api_key is not None else API_KEY_ENV
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    value = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).strip()
    del api_key
    if not value:
        raise ConfigurationError(
            f"No RunAPI API key: pass api_key=... or set the {API_KEY_ENV} environment "
            "variable (get a key at https://runapi.ai)."
        )
    problem = _key_problem(value)
    if problem is not None:
        del value  # not left in this frame's locals, which a traceback keeps
        raise ConfigurationError(
            f"The API key ({source}) holds {problem}, so it cannot be sent; copy it again from "
            "runapi.ai."
        )
    sealed = SealedSecret(value)
    del value
    return sealed


def resolve_base_url(base_url: str | None) -> str:
    return normalize_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)


class Timeouts(NamedTuple):
    """An ``httpx.Timeout`` as a hashable value (configs are compared and cached):
    ``httpx.Timeout(timeouts)`` gives it back."""

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None


Timeout = float | Timeouts | None
"""Seconds for connecting and for each read (None: no limit), or one per phase."""


def _seconds(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def check_timeout(timeout: object, *, source: str = "timeout") -> Timeout:
    """Seconds as a float, None for no timeout, or an ``httpx.Timeout`` (kept as
    :class:`Timeouts`); anything else is a ``ConfigurationError`` (not a ``TypeError`` from
    comparing it), since it arrives from user settings and options."""
    if timeout is None or isinstance(timeout, Timeouts):  # (checked when it was made)
        return timeout
    if _seconds(timeout):
        return float(timeout)  # type: ignore[arg-type]
    if isinstance(timeout, httpx.Timeout):
        phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if all(p is None or _seconds(p) for p in phases):
            return Timeouts(*phases)
    hint = " (a number, not a string)" if isinstance(timeout, str) else ""
    raise ConfigurationError(
        f"{source} must be a positive number of seconds such as 30, an httpx.Timeout, or None "
        f"for no timeout; got {timeout!r}{hint}"
    )


def check_total_timeout(value: object, *, source: str = "total_timeout") -> float | None:
    """The deadline of a whole call, in seconds (None: none)."""
    if value is None:
        return None
    if _seconds(value):
        return float(value)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"{source} must be a positive number of seconds for the whole call (retries and the "
        f"whole stream included), or None; got {value!r}"
    )


RESERVED_HEADERS = frozenset({"authorization", "content-type", "accept"})
_NOT_IN_NAMES = frozenset(' \t\r\n:()<>@,;\\"/[]?={}')


def _header_value_problem(value: str) -> str | None:
    """What makes ``value`` unsendable as a header value (httpx encodes ASCII only), or None."""
    if not value.isascii():
        return "a character that is not ASCII"
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
        return "a control character (such as a line break)"
    return None


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
        if not name or not name.isascii() or any(c in _NOT_IN_NAMES for c in name):
            raise ConfigurationError(f"{source} has a header name that is not valid: {name!r}.")
        problem = _header_value_problem(value)
        if problem is not None:
            # Named by the header only: header values are often secrets.
            raise ConfigurationError(
                f"{source} header {name!r} has a value with {problem}, so it cannot be sent "
                "(a trailing newline read from a file?); fix the value."
            )
    clash = sorted(name for name in items if name.lower() in RESERVED_HEADERS)
    if clash:
        raise ConfigurationError(
            f"{source} may not set {', '.join(clash)}: the client sets them itself "
            f"(pass the key as api_key=... or {API_KEY_ENV})."
        )
    return tuple(sorted(items.items()))


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


def check_max_concurrency(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"max_concurrency must be a whole number >= 1, or None for no cap; got {value!r}"
        )
    return value


def check_prices(value: object, *, source: str = "prices") -> str:
    """Where costs are priced from: ``"built-in"`` (the catalog's table, the default) or
    ``"live"`` (RunAPI's price list, loaded once per process; see ``_live_prices``)."""
    if isinstance(value, str) and value.strip().lower() in PRICE_MODES:
        return value.strip().lower()
    raise ConfigurationError(
        f"{source} must be 'live' (RunAPI's price list) or 'built-in' (the table shipped with "
        f"the package), got {value!r}; per-model prices go in a dict of Price instead."
    )


def check_price_list_url(value: object, *, source: str = "price_list_url") -> str:
    """An http(s) URL for RunAPI's price list (public: it is sent no key)."""
    if isinstance(value, str):
        shown = mask_url(value.strip())
        try:
            url = httpx.URL(value.strip())
        except (httpx.InvalidURL, ValueError):
            url = None
        if url is not None and url.scheme in ("http", "https") and url.host:
            if url.path.rstrip("/").endswith("/v1"):
                raise ConfigurationError(
                    f"{source} {shown!r} looks like a base URL; the price list lives at "
                    f"{DEFAULT_PRICE_LIST_URL!r} (or wherever your gateway serves it)."
                )
            return value.strip()
    else:
        shown = repr(value)
    raise ConfigurationError(
        f"{source} must be an http(s) URL such as {DEFAULT_PRICE_LIST_URL!r}, got {shown!r}. "
        f"Fix the argument or the {PRICE_LIST_URL_ENV} environment variable."
    )


def check_price_list_ttl(value: object, *, source: str = "price_list_ttl") -> float:
    """Seconds a price list fetched (or revalidated) stays fresh."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if _seconds(value):
        return float(value)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"{source} must be a positive number of seconds (the default is a day, "
        f"{DEFAULT_PRICE_LIST_TTL:.0f}); got {value!r}. Fix the argument or {PRICE_LIST_TTL_ENV}."
    )


def resolve_prices(
    prices: str | None, price_list_url: str | None, price_list_ttl: object
) -> tuple[str, str, float]:
    """The price settings, each from its argument, else its environment variable, else the
    default (built-in prices; RunAPI's list at runapi.ai, never the base URL's host, which may
    be a proxy or another gateway; a day)."""
    mode_source = "prices" if prices is not None else PRICES_ENV
    url_source = "price_list_url" if price_list_url is not None else PRICE_LIST_URL_ENV
    ttl_source = "price_list_ttl" if price_list_ttl is not None else PRICE_LIST_TTL_ENV
    mode = prices if prices is not None else os.environ.get(PRICES_ENV) or "built-in"
    url = price_list_url or os.environ.get(PRICE_LIST_URL_ENV) or DEFAULT_PRICE_LIST_URL
    ttl = price_list_ttl if price_list_ttl is not None else os.environ.get(PRICE_LIST_TTL_ENV)
    return (
        check_prices(mode, source=mode_source),
        check_price_list_url(url, source=url_source),
        check_price_list_ttl(ttl, source=ttl_source) if ttl is not None else DEFAULT_PRICE_LIST_TTL,
    )


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
    def timeout(self) -> Any: ...
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
        getattr(settings, "total_timeout", None),
        getattr(settings, "max_event_bytes", None),
        getattr(settings, "pacing", True),
        getattr(settings, "max_concurrency", None),
        tuple(headers.items()) if headers else None,
        _fingerprint(os.environ.get(API_KEY_ENV)) if api_key is None else None,
        os.environ.get(BASE_URL_ENV) if base_url is None else None,
        getattr(settings, "prices", None) or os.environ.get(PRICES_ENV),
        getattr(settings, "price_list_url", None) or os.environ.get(PRICE_LIST_URL_ENV),
        os.environ.get(PRICE_LIST_TTL_ENV),
    )


@dataclass(frozen=True)
class ClientConfig:
    """A resolved, validated configuration. Equal configs share one connection pool."""

    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    timeout: Timeout = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    default_headers: tuple[tuple[str, str], ...] = field(default=())
    total_timeout: float | None = None
    """A deadline for the whole call: every attempt, the waits between them, and all of a
    stream (``timeout`` bounds each read, so a stream kept alive by pings never ends)."""
    prices: str = "built-in"
    """Where costs are priced from: ``"built-in"`` or ``"live"`` (RunAPI's price list)."""
    price_list_url: str = DEFAULT_PRICE_LIST_URL
    price_list_ttl: float = DEFAULT_PRICE_LIST_TTL
    """Seconds a price list fetched or revalidated stays fresh (on disk and in memory)."""

    def __post_init__(self) -> None:
        # A config built directly (not through resolve) is sealed all the same.
        if not isinstance(self.api_key, SealedSecret):
            object.__setattr__(self, "api_key", seal(self.api_key))

    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    """The most one event of a stream may hold (see ``SSEDecoder``)."""
    pacing: bool = True
    """Calls on one key share one pace (``_pacer``): when RunAPI says "too many", they all hold
    back. False: each call meets its 429s alone."""
    max_concurrency: int | None = None
    """At most this many calls of this client in flight on the key (None: as many as the
    server takes)."""

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: object = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        total_timeout: object = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        pacing: bool = True,
        max_concurrency: int | None = None,
        prices: str | None = None,
        price_list_url: str | None = None,
        price_list_ttl: object = None,
    ) -> ClientConfig:
        api_key = seal(api_key)  # the plain key is not left in this frame's locals
        mode, list_url, ttl = resolve_prices(prices, price_list_url, price_list_ttl)
        return cls(
            api_key=resolve_api_key(api_key),
            base_url=resolve_base_url(base_url),
            timeout=check_timeout(timeout),
            max_retries=check_max_retries(max_retries),
            default_headers=check_headers(default_headers),
            total_timeout=check_total_timeout(total_timeout),
            max_event_bytes=check_max_event_bytes(max_event_bytes),
            pacing=check_flag(pacing, "pacing"),
            max_concurrency=check_max_concurrency(max_concurrency),
            prices=mode,
            price_list_url=list_url,
            price_list_ttl=ttl,
        )

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, *, caps_key: bool = True) -> ClientConfig:
        """The config of an adapter's model object, read from its fields. ``caps_key``: whether
        its ``max_concurrency`` caps the calls in flight on its key (the chat models'); an
        embedding model's says how many of its own batch requests go at once, and leaves the
        key's pace alone (it would otherwise hold every call on the key to its few)."""
        max_event_bytes = getattr(settings, "max_event_bytes", None)  # None: the default
        return cls.resolve(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            default_headers=settings.default_headers,
            total_timeout=getattr(settings, "total_timeout", None),
            max_event_bytes=DEFAULT_MAX_EVENT_BYTES if max_event_bytes is None else max_event_bytes,
            pacing=getattr(settings, "pacing", True),
            max_concurrency=getattr(settings, "max_concurrency", None) if caps_key else None,
            prices=getattr(settings, "prices", None),
            price_list_url=getattr(settings, "price_list_url", None),
        )

    @property
    def key_digest(self) -> bytes | None:
        """A salted digest of the key: what the calls of one key share (their pace), without
        the key itself."""
        return _fingerprint(self.api_key.get_secret_value())

    @property
    def pool_key(self) -> tuple[str, Timeout]:
        # The key travels per request as a header, so instances that differ only by key,
        # retries or headers still share sockets to the same host.
        return (self.base_url, self.timeout)

    def __repr__(self) -> str:  # the SecretStr already masks; keep the repr short and explicit
        return (
            f"ClientConfig(api_key=SecretStr('**********'), base_url={mask_url(self.base_url)!r}, "
            f"timeout={self.timeout!r}, max_retries={self.max_retries!r})"
        )
