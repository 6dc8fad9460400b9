"""Store URLs: which backend holds Orca's data, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orca.errors import ConfigError

BACKENDS = ("sqlite",)
"""URL schemes with a backend module under ``orca.store`` (``orca.store.<scheme>``)."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``
    (a bare path means the same as ``sqlite:///`` + path)."""

    scheme: str
    path: str

    def __str__(self) -> str:
        return f"{self.scheme}:///{self.path}"


def parse_url(url: str | Path) -> StoreURL:
    """Parse ``url``.

    Raises:
        ConfigError: an empty URL, a scheme Orca has no backend for, or a SQLite URL
            without a file path.
    """
    text = str(url).strip()
    if not text:
        raise ConfigError("the store URL is empty", key="store", fix="use sqlite:///PATH")
    if "://" not in text:
        return StoreURL("sqlite", text)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme not in BACKENDS:
        raise ConfigError(
            f"store URL {text!r} has scheme {scheme!r}, which no backend serves",
            key="store",
            fix=f"use one of: {', '.join(s + ':///PATH' for s in BACKENDS)}",
        )
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"store URL {text!r} names no file",
            key="store",
            fix="write sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    return StoreURL(scheme, rest[1:])
