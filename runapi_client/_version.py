"""The package's version, from its installed metadata: pyproject.toml is the one place it is
written."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("runapi-integrations")
except PackageNotFoundError:  # pragma: no cover - run from a tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
