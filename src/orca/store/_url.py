"""Store URLs: which backend holds Orca's data, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from orca.errors import ConfigError

BACKENDS = ("sqlite", "postgresql")
"""URL schemes with a backend module under ``orca.store`` (``orca.store.sqlite``,
``orca.store.postgres``); ``postgres://`` is read as ``postgresql://``."""

_FIX = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``
    (a bare path means the same as ``sqlite:///`` + path), or
    ``postgresql://user:password@host:port/database`` (``path`` is then the whole URL).
    ``str()`` never shows a password."""

    scheme: str
    path: str

    def __str__(self) -> str:
        if self.scheme == "postgresql":
            parts = urlsplit(self.path)
            if parts.password is None:
                return self.path
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            return parts._replace(netloc=netloc).geturl()
        return f"{self.scheme}:///{self.path}"


def parse_url(url: str | Path) -> StoreURL:
    """Parse ``url``.

    Raises:
        ConfigError: an empty URL, a scheme Orca has no backend for, a SQLite URL
            without a file path, or a PostgreSQL URL without a database.
    """
    text = str(url).strip()
    if not text:
        raise ConfigError("the store URL is empty", key="store", fix=_FIX)
    if "://" not in text:
        return StoreURL("sqlite", text)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return _postgres(text, rest)
    if scheme not in BACKENDS:
        raise ConfigError(
            f"store URL {_shown(text)!r} has scheme {scheme!r}, which no backend serves",
            key="store",
            fix=_FIX,
        )
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"store URL {text!r} names no file",
            key="store",
            fix="write sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    return StoreURL(scheme, rest[1:])


def _postgres(text: str, rest: str) -> StoreURL:
    url = "postgresql://" + rest
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(
            f"store URL {_shown(text)!r} cannot be parsed ({exc})", key="store", fix=_FIX
        ) from None
    if not parts.path.strip("/"):
        raise ConfigError(
            f"store URL {_shown(text)!r} names no database",
            key="store",
            fix="end the URL with /DATABASE, e.g. postgresql://orca@db.internal:5432/orca",
        )
    return StoreURL("postgresql", url)


def _shown(text: str) -> str:
    """``text`` with anything between ``:`` and ``@`` of its authority hidden."""
    scheme, sep, rest = text.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        who, _, host = authority.rpartition("@")
        user = who.split(":", 1)[0]
        authority = f"{user}:***@{host}" if ":" in who else f"{user}@{host}"
    return f"{scheme}{sep}{authority}{slash}{tail}"
