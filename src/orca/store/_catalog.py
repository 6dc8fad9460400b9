"""The model catalog as a repository protocol (``SqliteCatalog``, ``PgCatalog``), its
record, and the pure rules every backend applies: names, tags, lifecycle states and the
moves between them, trust levels.

The catalog belongs to the installation, not to a tenant: the model files are files of
the server's host, and the engines that load them serve every tenant. It lives in the
default tenant's project store (beside the registry of tenants and the tokens).

A model's ``id`` is ``mdl_`` and the first 16 hex digits of its file's sha256: the same
file has the same id in every installation, and a digest is catalogued once (adding the
same bytes again is refused, naming the model that holds them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orca.errors import InvalidFieldError, InvalidInputError
from orca.store._text import refuse_nul

LIFECYCLE = ("draft", "active", "canary", "deprecated", "retired")
"""A model's lifecycle states, in the order a model usually goes through them."""
TRUST = ("unverified", "verified", "untrusted")
"""``unverified``: added, its file not hashed again since; ``verified``: hashed again and
it matched; ``untrusted``: a check found the file changed or gone."""
INITIAL_STATES = ("draft", "active", "canary")
"""The states a model may be added in."""
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("active", "canary", "retired"),
    "canary": ("active", "deprecated", "retired"),
    "active": ("deprecated", "retired"),
    "deprecated": ("active", "retired"),
    "retired": (),
}
"""Where each state may go; ``retired`` is final (the same bytes are never catalogued
again either). Setting the state a model is in already changes nothing."""

MAX_TAGS = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/=+-]{0,63}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A catalogued model file.

    Attributes:
        id: ``mdl_`` and the first 16 hex digits of the digest.
        name: unique in the catalog: given, or the file's stem.
        path: the file's absolute path on the server's host (symbolic links resolved).
        digest: ``sha256:`` and the file's 64 hex digits.
        size_bytes: the file's size when it was last hashed.
        format: ``gguf``.
        metadata: what the file's header says (``GGUFInfo.as_dict()``).
        tags: free labels, sorted, without duplicates.
        state: one of ``LIFECYCLE``.
        trust: one of ``TRUST``.
        verified_at: when a check last found the file matching (None: never since added).
        created_at, updated_at: ISO-8601 UTC times of the store's clock.
        stamp: the file's identity when it was last hashed: ``device:inode:size:mtime:
            ctime`` (nanoseconds); a use hashes the file again when it differs (a file
            written, replaced, or given back an old mtime changes its ctime).
    """

    id: str
    name: str
    path: str
    digest: str
    size_bytes: int
    format: str
    metadata: dict[str, Any]
    tags: tuple[str, ...]
    state: str
    trust: str
    verified_at: str | None
    created_at: str
    updated_at: str
    stamp: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Its JSON form (what ``--json`` and the HTTP API answer)."""
        return {
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "digest": self.digest,
            "size_bytes": self.size_bytes,
            "format": self.format,
            "metadata": dict(self.metadata),
            "tags": list(self.tags),
            "state": self.state,
            "trust": self.trust,
            "verified_at": self.verified_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def model_id(digest: str) -> str:
    """The id of the model whose file has ``digest`` (``sha256:<hex>``)."""
    return "mdl_" + digest.removeprefix("sha256:")[:16]


def check_model_name(name: str, field: str = "name") -> str:
    """``name`` if it is 1 to 128 letters, digits, ``.``, ``_``, ``:``, ``+`` or ``-``,
    starting with a letter or digit.

    Raises:
        InvalidFieldError: it is not (naming ``field``).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        shown = repr(name[:80]) if isinstance(name, str) else type(name).__name__
        raise InvalidFieldError(
            f"model name {shown} is not 1 to 128 letters, digits, '.', '_', ':', '+' or '-'",
            field=field,
            fix="name it like its file, e.g. qwen2.5-7b-instruct-q4_k_m",
        )
    return name


def check_tags(tags: Sequence[str], field: str = "tags") -> tuple[str, ...]:
    """``tags`` sorted without duplicates, if there are at most ``MAX_TAGS`` of 1 to 64
    letters, digits or ``. _ : / = + -``.

    Raises:
        InvalidFieldError: too many, or one is not such a tag (naming ``field``).
    """
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise InvalidFieldError(
            "tags are not a list of text", field=field, fix='give a list: ["chat", "7b"]'
        )
    found = tuple(sorted(set(tags)))
    if len(found) > MAX_TAGS:
        raise InvalidFieldError(
            f"{len(found)} tags are more than the {MAX_TAGS} a model may have",
            field=field,
            fix="keep the tags you filter by",
        )
    for tag in found:
        if not _TAG.match(tag):
            raise InvalidFieldError(
                f"tag {tag[:80]!r} is not 1 to 64 letters, digits or '. _ : / = + -'",
                field=field,
                fix="use tags such as chat, 7b, family=qwen",
            )
    return found


def check_state(state: str, allowed: Sequence[str] = LIFECYCLE, field: str = "state") -> str:
    """``state`` if it is one of ``allowed``.

    Raises:
        InvalidFieldError: it is not.
    """
    if state not in allowed:
        raise InvalidFieldError(
            f"{field} {str(state)[:40]!r} is not one of {', '.join(allowed)}",
            field=field,
            fix=f"use one of {', '.join(allowed)}",
        )
    return state


def check_trust(trust: str, field: str = "trust") -> str:
    """``trust`` if it is one of ``TRUST``.

    Raises:
        InvalidFieldError: it is not.
    """
    return check_state(trust, TRUST, field)


def check_model(model: CatalogModel) -> None:
    """What every backend checks of a model before adding it.

    Raises:
        InvalidFieldError: a bad name, tag, state, trust, digest or size, or a NUL in
            its path.
    """
    check_model_name(model.name)
    check_tags(model.tags)
    check_state(model.state, INITIAL_STATES)
    check_trust(model.trust)
    refuse_nul("path", model.path)
    if not _DIGEST.match(model.digest) or model.id != model_id(model.digest):
        raise InvalidFieldError(
            f"digest {model.digest[:80]!r} is not sha256:<64 hex digits> (or the id is not "
            "its own)",
            field="digest",
            fix="let the catalog hash the file (Catalog.add)",
        )
    if model.size_bytes < 0:
        raise InvalidFieldError(
            "the size cannot be negative", field="size_bytes", fix="hash the file"
        )
    refuse_nul("stamp", model.stamp)


def check_find(state: str | None, trust: str | None) -> None:
    """Raises ``InvalidInputError`` for a state or trust no model can have."""
    if state is not None and state not in LIFECYCLE:
        raise InvalidInputError(f"state is {state[:40]!r}. Fix: use one of {', '.join(LIFECYCLE)}")
    if trust is not None and trust not in TRUST:
        raise InvalidInputError(f"trust is {trust[:40]!r}. Fix: use one of {', '.join(TRUST)}")


@runtime_checkable
class CatalogRepository(Protocol):
    """Where the catalog's records are kept (``SqliteCatalog``, ``PgCatalog``). Safe to
    share between threads. It keeps what ``orca.pools.Catalog`` found of the files; it
    never reads one."""

    def add(self, model: CatalogModel) -> CatalogModel:
        """Add ``model`` (its ``created_at``, ``updated_at`` stamped now).

        Raises:
            InvalidFieldError: as ``check_model``.
            CatalogConflictError: its digest is catalogued (``existing`` names the model),
                or another model has its name.
        """
        ...

    def get(self, ref: str) -> CatalogModel | None:
        """The model whose id, else whose name, is ``ref``."""
        ...

    def list(
        self, *, state: str | None = None, tag: str | None = None, trust: str | None = None
    ) -> list[CatalogModel]:
        """The models, by name; only those in ``state``, holding ``tag``, of ``trust``.

        Raises:
            InvalidInputError: an unknown state or trust.
        """
        ...

    def set_state(self, ref: str, state: str) -> CatalogModel:
        """Move the model ``ref`` (id or name) to ``state``, checked against its current
        state in the same transaction (``TRANSITIONS``).

        Raises:
            UnknownCatalogModelError: no model is ``ref``.
            InvalidFieldError: ``state`` is not a lifecycle state.
            InvalidTransitionError: it cannot move there from where it is.
        """
        ...

    def record_check(
        self, model_id: str, *, trust: str, size_bytes: int, stamp: str
    ) -> CatalogModel:
        """Record what a check of the model's file found: its trust (``verified`` also
        stamps ``verified_at``) and the size and stamp of the file it hashed.

        Raises:
            UnknownCatalogModelError: no model has the id.
            InvalidFieldError: an unknown trust.
        """
        ...

    def close(self) -> None: ...
