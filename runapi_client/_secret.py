"""The API key, kept so that nothing which walks an object's attributes finds it in plain text.

``pydantic.SecretStr`` hides its value from ``repr`` and ``str``, but keeps it as an ordinary
attribute: an error tracker that records a traceback's frame locals (Sentry's default), or
anything else that walks ``__dict__``, reads it there. :class:`SealedSecret` is a ``SecretStr``
(so ``isinstance`` checks, pydantic fields and LangChain's secret handling accept it) whose
value is stored XOR-ed with a random pad of its own length; ``get_secret_value()`` unseals it
when a request is built.
"""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import SecretStr

__all__ = ["SealedSecret", "seal"]


class _Sealed:
    __slots__ = ("_data", "_pad")

    def __init__(self, value: str) -> None:
        raw = value.encode("utf-8")
        self._pad = secrets.token_bytes(len(raw))
        self._data = bytes(a ^ b for a, b in zip(raw, self._pad, strict=True))

    def open(self) -> str:
        return bytes(a ^ b for a, b in zip(self._data, self._pad, strict=True)).decode("utf-8")

    def __repr__(self) -> str:
        return "<sealed>"


class SealedSecret(SecretStr):
    """A ``SecretStr`` whose value is not held in plain text (see the module docstring)."""

    def __init__(self, secret_value: str) -> None:
        self._secret_value = _Sealed(secret_value)  # type: ignore[assignment]

    def get_secret_value(self) -> str:
        sealed: Any = self._secret_value
        return str(sealed.open())

    def __len__(self) -> int:
        return len(self.get_secret_value())

    def __eq__(self, other: object) -> bool:
        # Equal to any SecretStr of the same value, sealed or not.
        return isinstance(other, SecretStr) and self.get_secret_value() == other.get_secret_value()

    def __hash__(self) -> int:
        return hash(self.get_secret_value())

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (multiprocessing, a copied model object) as what it holds; sealed again anew.
        return (SealedSecret, (self.get_secret_value(),))

    def __deepcopy__(self, memo: dict[int, Any]) -> SealedSecret:
        return self  # immutable: a copy may share it

    def __copy__(self) -> SealedSecret:
        return self


def seal(value: SecretStr | str | None) -> SealedSecret | None:
    """``value`` as a :class:`SealedSecret` (None stays None)."""
    if value is None or isinstance(value, SealedSecret):
        return value
    if isinstance(value, SecretStr):
        return SealedSecret(value.get_secret_value())
    return SealedSecret(value)
