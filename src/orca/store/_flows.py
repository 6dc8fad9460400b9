"""Saved versions of declarative workflows ("flows") as a repository protocol (the
SQLite one is ``orca.store.sqlite.SqliteFlows``), their values, and the pure rules about
them: what a flow name and a version look like, how versions order (semantic versioning,
prereleases included) and which version a save without one gets.

A version is ``MAJOR.MINOR.PATCH`` with an optional prerelease (``1.0.0-rc.1``); build
metadata (``+build``) is refused, since it does not order and two builds of one version
would be two contents under one precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orca.errors import InvalidFieldError

FIRST_VERSION = "0.1.0"
"""The version of a flow's first save when none is given."""

LATEST = "latest"
"""The alias of a flow's highest version (by semantic-version precedence)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NUMBER = r"0|[1-9][0-9]{0,8}"
_IDENT = r"0|[1-9][0-9]{0,8}|[0-9]*[A-Za-z-][0-9A-Za-z-]*"
_SEMVER = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>(?:{_IDENT})(?:\.(?:{_IDENT}))*))?$"
)


def check_flow_name(name: str) -> str:
    """``name`` when it may name a saved flow: 1 to 64 letters, digits, ``_``, ``-``
    and ``.``, starting with a letter or digit (so never a path, never ``..``).

    Raises:
        InvalidFieldError: another name (field ``name``).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        shown = repr(name)[:60]
        raise InvalidFieldError(
            f"flow name {shown} is not a valid name",
            field="name",
            fix="use 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or "
            "digit (e.g. 'triage')",
        )
    return name


@dataclass(frozen=True, slots=True, order=False)
class Semver:
    """A semantic version: ``major.minor.patch`` and its prerelease identifiers. Orders
    by precedence (semver.org, item 11): a prerelease comes before its release; numeric
    identifiers compare as numbers and before alphanumeric ones; more identifiers come
    after fewer when the rest are equal."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Semver:
        """The version ``text`` spells.

        Raises:
            InvalidFieldError: not ``MAJOR.MINOR.PATCH[-PRERELEASE]`` (field ``version``).
        """
        ok = isinstance(text, str) and len(text) <= 64
        found = _SEMVER.fullmatch(text) if ok else None
        if found is None:
            shown = repr(text)[:60]
            raise InvalidFieldError(
                f"version {shown} is not a semantic version",
                field="version",
                fix="write MAJOR.MINOR.PATCH with an optional prerelease, e.g. '1.2.0' or "
                "'2.0.0-rc.1' (no leading zeros, no '+build', at most 64 characters)",
            )
        pre = found["pre"]
        return cls(
            int(found["major"]),
            int(found["minor"]),
            int(found["patch"]),
            tuple(pre.split(".")) if pre else (),
        )

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    @property
    def key(self) -> tuple[Any, ...]:
        """A sort key in precedence order."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if pre else 1, pre)

    def __lt__(self, other: Semver) -> bool:
        return self.key < other.key

    def __le__(self, other: Semver) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Semver) -> bool:
        return self.key > other.key

    def __ge__(self, other: Semver) -> bool:
        return self.key >= other.key

    def next_patch(self) -> Semver:
        """The version a save without one gets after this one: the patch bumped
        (``1.2.3`` -> ``1.2.4``), or a prerelease's own release (``2.0.0-rc.1`` ->
        ``2.0.0``), as ``npm version patch`` does."""
        if self.prerelease:
            return Semver(self.major, self.minor, self.patch)
        return Semver(self.major, self.minor, self.patch + 1)


def newest_first(versions: list[str]) -> list[str]:
    """``versions`` by precedence, highest first."""
    return sorted(versions, key=lambda v: Semver.parse(v).key, reverse=True)


@dataclass(frozen=True, slots=True)
class FlowVersionInfo:
    """One saved version of a flow, without its document.

    Attributes:
        name: the flow's name.
        version: its semantic version (``1.2.0``).
        hash: ``sha256:`` and the hex digest of the document's content (canvas
            positions left out), as ``orca.flows.content_hash`` computes it.
        created_at: when it was saved (ISO-8601, UTC).
        message: what its saver said of it, if anything.
    """

    name: str
    version: str
    hash: str
    created_at: str
    message: str | None = None

    @property
    def ref(self) -> str:
        """``NAME@VERSION``: how a run names exactly this version."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "created_at": self.created_at,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class SavedFlow:
    """A saved version and its document (the flow as JSON)."""

    info: FlowVersionInfo
    flow: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """A saved flow: its highest version and how many it has."""

    name: str
    latest: FlowVersionInfo
    versions: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "latest": self.latest.to_dict(), "versions": self.versions}


@runtime_checkable
class FlowRepository(Protocol):
    """The saved versions of a project's flows (``SqliteFlows``)."""

    def put(
        self,
        name: str,
        flow: dict[str, Any],
        content_hash: str,
        *,
        version: str | None = None,
        message: str | None = None,
    ) -> tuple[FlowVersionInfo, bool]:
        """Save ``flow`` as a version of ``name``; True when a version was made.

        Without ``version``: the same content as the latest version gives that version
        back (False); else the latest's ``next_patch`` (``0.1.0`` for a first save).
        With ``version``: that version with the same content is given back (False).

        Raises:
            InvalidFieldError: a bad name or version.
            FlowVersionExistsError: ``version`` is saved with other content.
        """
        ...

    def get(self, name: str, version: str = LATEST) -> SavedFlow | None:
        """A version (``latest``: the highest) with its document; None when absent.

        Raises:
            InvalidFieldError: a bad version (not ``latest``, not semantic).
        """
        ...

    def versions(self, name: str) -> list[FlowVersionInfo]:
        """The flow's versions, highest first (empty when there is no such flow)."""
        ...

    def flows(self) -> list[FlowSummary]:
        """Every saved flow, by name."""
        ...

    def delete(self, name: str, version: str) -> bool:
        """Forget a version (``latest`` allowed); False when there was none."""
        ...

    def close(self) -> None: ...
