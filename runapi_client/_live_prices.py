"""RunAPI's price list for clients with ``prices="live"``: loaded once per process, kept on
disk, fresh for a day (``price_list_ttl``), and never in a call's way for long.

The list is asked per model (``?model=glm-4.6``, as RunAPI documents it), so "once per process"
means once per model in use, whichever client, thread or event loop asks first; clients share
one :class:`LivePrices` per list address. A load runs in a daemon thread: the first call of a
model waits for it at most :data:`FIRST_CALL_WAIT` seconds (a sync client blocks on an event;
an async client awaits in short sleeps, so its event loop keeps running), and later calls never
wait. A load that takes longer leaves that call priced from the built-in table, and its cost
says so (``source="built-in"``).

The disk cache (``price_schedules.json`` in :func:`cache_dir`) holds each model's schedules,
their ``ETag`` and when they were fetched, shared by every process of the user: a list younger
than the TTL is used without asking; an older one is revalidated (``If-None-Match``: a 304
costs no body). Offline with nothing cached, the built-in table stays in force and one warning
is logged per process; a stale cached copy is used rather than nothing. A failed load is tried
again after :data:`RETRY_FAILED` seconds, in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from ._names import base_model, model_key
from ._price import Price
from ._price_list import Fetched, fetch_schedules, parse_price_schedules

__all__ = ["CACHE_DIR_ENV", "LivePrices", "cache_dir", "live_prices"]

logger = logging.getLogger("runapi_client")

CACHE_DIR_ENV = "RUNAPI_CACHE_DIR"
CACHE_FILE = "price_schedules.json"
FIRST_CALL_WAIT = 2.0
"""Seconds the first call of a model waits for its price (a disk read, or one GET)."""
FETCH_TIMEOUT = 5.0
RETRY_FAILED = 300.0
"""Seconds before a load that failed is tried again (never more often than the TTL)."""


def cache_dir() -> Path | None:
    """Where the price list is kept: ``RUNAPI_CACHE_DIR`` if set; else the user's cache
    folder, as each platform has it (``%LOCALAPPDATA%\\runapi-integrations\\Cache`` on
    Windows, ``~/Library/Caches/runapi-integrations`` on macOS, ``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``runapi-integrations``, elsewhere); None when there is no home."""
    given = os.environ.get(CACHE_DIR_ENV)
    if given:
        return Path(given)
    try:
        if sys.platform == "win32":
            local = os.environ.get("LOCALAPPDATA")
            base = Path(local) if local else Path.home() / "AppData" / "Local"
            return base / "runapi-integrations" / "Cache"
        if sys.platform == "darwin":
            return Path.home() / "Library" / "Caches" / "runapi-integrations"
        xdg = os.environ.get("XDG_CACHE_HOME")
        # The XDG spec: a relative path is invalid and is to be ignored.
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
        return base / "runapi-integrations"
    except RuntimeError:  # no home directory to be found (some service accounts)
        return None


_file_lock = threading.Lock()


def _read_cache(url: str) -> dict[str, Any]:
    """This list's entries on disk, by model (``{}`` when there are none or they are junk)."""
    folder = cache_dir()
    if folder is None:
        return {}
    try:
        data = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get(url) if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def _write_cache(url: str, model: str, entry: Mapping[str, Any]) -> None:
    """Put one model's entry on disk: read, merge, write a temporary file and rename it over
    the old one, so a process reading meanwhile sees the old file or the new, never half of
    one. Two processes writing at once may drop each other's entry; it is fetched again."""
    folder = cache_dir()
    if folder is None:
        return
    with _file_lock:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / CACHE_FILE
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if not isinstance(data, dict):
                data = {}
            entries = data.get(url)
            entries = entries if isinstance(entries, dict) else {}
            entries[model] = dict(entry)
            data[url] = entries
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".price_schedules.")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, path)
        except OSError as exc:  # a read-only home, a full disk: the list stays in memory
            logger.debug("RunAPI price list not cached on disk (%s)", exc)


_notice_lock = threading.Lock()
_noticed = False


def _notice(message: str, *args: Any) -> None:
    """One warning per process that the list could not be loaded (a fleet of workers offline
    would otherwise log it for every model and every retry)."""
    global _noticed
    with _notice_lock:
        first, _noticed = not _noticed, True
    if first:
        logger.warning(message, *args)
    else:
        logger.debug(message, *args)


class _Entry:
    """One model's state: loading or not, when its schedules were fetched (wall-clock time,
    as on disk), and an event set once its first load is over."""

    __slots__ = ("done", "fetched_at", "loading")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.loading = False
        self.fetched_at: float | None = None

    def stale(self, now: float, ttl: float) -> bool:
        return self.fetched_at is None or now - self.fetched_at >= ttl


class LivePrices:
    """RunAPI's price list at one address, for this process: ``table`` (by model key) holds
    what was loaded, replaced whole on each load so readers need no lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.table: dict[str, Price] = {}
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def request(self, model: str, ttl: float) -> threading.Event:
        """Start loading ``model``'s price unless it is loaded and fresh or being loaded; the
        event returned is set once its first load is over."""
        key = base_model(model)
        entry = self._entries.get(key)
        now = time.time()
        if entry is not None and (entry.loading or not entry.stale(now, ttl)):
            return entry.done  # the common case: no lock
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            start = not entry.loading and entry.stale(now, ttl)
            if start:
                entry.loading = True
        if start:
            worker = threading.Thread(
                target=self._load, args=(key, entry, ttl), name="runapi-price-list", daemon=True
            )
            worker.start()
        return entry.done

    def wait(self, model: str, ttl: float, timeout: float | None = None) -> None:
        """For a sync call: block until ``model``'s first load is over, for a short while."""
        self.request(model, ttl).wait(FIRST_CALL_WAIT if timeout is None else timeout)

    async def wait_async(self, model: str, ttl: float, timeout: float | None = None) -> None:
        """For an async call: the same wait, in short sleeps, so the event loop runs on."""
        done = self.request(model, ttl)
        if done.is_set():
            return
        deadline = time.monotonic() + (FIRST_CALL_WAIT if timeout is None else timeout)
        pause = 0.002
        while not done.is_set() and (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)

    # ------------------------------------------------------------------------------ loading

    def _load(self, key: str, entry: _Entry, ttl: float) -> None:
        try:
            fetched_at = self._load_schedules(key, ttl)
        except Exception as exc:  # a bug here must not kill a call, nor spin forever
            logger.debug("RunAPI price list load failed", exc_info=exc)
            fetched_at = None
        now = time.time()
        # A failure is tried again after RETRY_FAILED seconds (or the TTL, if shorter).
        retry = now - ttl + min(RETRY_FAILED, ttl)
        entry.fetched_at = fetched_at if fetched_at is not None else retry
        entry.loading = False
        entry.done.set()

    def _load_schedules(self, key: str, ttl: float) -> float | None:
        """Load ``key``'s schedules from disk or the list; when they were fetched, or None if
        nothing could be had."""
        cached = _read_cache(self.url).get(key)
        cached = cached if isinstance(cached, dict) else None
        now = time.time()
        cached_at = cached.get("fetched_at") if cached else None
        cached_at = float(cached_at) if isinstance(cached_at, (int, float)) else None
        if cached is not None and cached_at is not None and 0 <= now - cached_at < ttl:
            self._install(key, cached.get("payload"))
            return cached_at
        etag = cached.get("etag") if cached is not None else None
        with httpx.Client(timeout=FETCH_TIMEOUT) as http:
            fetched = fetch_schedules(http, self.url, key, etag if isinstance(etag, str) else None)
        if fetched.not_modified and cached is not None:
            fetched = Fetched(payload=cached.get("payload"), etag=fetched.etag)
        if fetched.payload is not None:
            self._install(key, fetched.payload)
            entry = {"etag": fetched.etag, "fetched_at": now, "payload": fetched.payload}
            _write_cache(self.url, key, entry)
            return now
        if cached is not None and cached_at is not None:
            self._install(key, cached.get("payload"))
            hours = max(now - cached_at, 0.0) / 3600
            _notice(
                "RunAPI's price list %s (%s); using the copy cached %.1f h ago.",
                fetched.problem,
                self.url,
                hours,
            )
            return None
        _notice(
            "RunAPI's price list %s (%s); costs use the built-in prices (their source says "
            "'built-in') until it can be loaded.",
            fetched.problem,
            self.url,
        )
        return None

    def _install(self, key: str, payload: Any) -> None:
        found = parse_price_schedules(payload, key)
        if not found:
            return
        with self._lock:
            table = dict(self.table)
            table.update((model_key(name), price) for name, price in found.items())
            self.table = table


_registry: dict[str, LivePrices] = {}
_registry_lock = threading.Lock()


def live_prices(url: str) -> LivePrices:
    """The process's :class:`LivePrices` for the list at ``url`` (one per address)."""
    found = _registry.get(url)
    if found is not None:
        return found
    with _registry_lock:
        return _registry.setdefault(url, LivePrices(url))


def forget() -> None:
    """Drop what this process loaded and the one-warning mark (for tests)."""
    global _noticed
    with _registry_lock:
        _registry.clear()
    with _notice_lock:
        _noticed = False
